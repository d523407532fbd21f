// main() of the benchmark programs without flags of their own: Google
// Benchmark's, after --keep_buffers (see bench_flags.h).
#include <benchmark/benchmark.h>

#include "bench/common/bench_flags.h"

int main(int argc, char** argv) {
  const bool keep_buffers = rat::TakeKeepBuffersFlag(argc, argv);
  benchmark::AddCustomContext("keep_buffers", keep_buffers ? "1" : "0");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
