#include "core/common/torch_status.h"

namespace rat {

std::string FirstLine(const std::string& message) {
  const size_t end = message.find('\n');
  return end == std::string::npos ? message : message.substr(0, end);
}

}  // namespace rat
