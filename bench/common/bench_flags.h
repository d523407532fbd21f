// Flags shared by the benchmark programs. They are taken out of argv before
// Google Benchmark parses the rest.
#ifndef RAT_BENCH_COMMON_BENCH_FLAGS_H_
#define RAT_BENCH_COMMON_BENCH_FLAGS_H_

#include <string>

namespace rat {

// Removes --NAME=N from the arguments and returns N, or `fallback` when the
// flag is absent. Exits with status 2 and a message when N is not an integer
// >= `min`.
int TakeIntFlag(int& argc, char** argv, const std::string& name, int fallback,
                int min);

// Reads --keep_buffers=0|1 (default 1) and, when 1, applies the allocator
// settings rat-server and rat-train use (core/common/allocator.h). Returns
// the value, so programs can record it with their results.
bool TakeKeepBuffersFlag(int& argc, char** argv);

}  // namespace rat

#endif  // RAT_BENCH_COMMON_BENCH_FLAGS_H_
