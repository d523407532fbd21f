#include "core/common/torch_status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace rat {

std::string FirstLine(const std::string& message) {
  // A TorchScript interpreter error starts with a generic header and a
  // script traceback; the line that names the failure comes last.
  constexpr absl::string_view kInterpreterHeader =
      "The following operation failed in the TorchScript interpreter.";
  if (absl::StartsWith(message, kInterpreterHeader)) {
    const absl::string_view trimmed =
        absl::StripTrailingAsciiWhitespace(message);
    const size_t last_break = trimmed.rfind('\n');
    if (last_break != absl::string_view::npos) {
      return std::string(trimmed.substr(last_break + 1));
    }
  }

  const size_t end = message.find('\n');
  return end == std::string::npos ? message : message.substr(0, end);
}

}  // namespace rat
