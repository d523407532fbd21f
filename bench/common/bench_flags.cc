#include "bench/common/bench_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/allocator.h"

namespace rat {

int TakeIntFlag(int& argc, char** argv, const std::string& name, int fallback,
                int min) {
  const std::string prefix = absl::StrCat("--", name, "=");
  int value = fallback;
  int next_kept_index = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (absl::StartsWith(argument, prefix)) {
      const std::string text = argument.substr(prefix.size());
      if (!absl::SimpleAtoi(text, &value) || value < min) {
        spdlog::error("--{} expects an integer >= {}, got \"{}\"", name, min,
                      text);
        std::exit(2);
      }
      continue;
    }
    argv[next_kept_index++] = argv[i];
  }
  argc = next_kept_index;
  return value;
}

bool TakeKeepBuffersFlag(int& argc, char** argv) {
  const bool keep = TakeIntFlag(argc, argv, "keep_buffers", 1, 0) != 0;
  if (keep) KeepTensorBuffersInHeap();
  return keep;
}

}  // namespace rat
