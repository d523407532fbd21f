// Timing of the MisD metrics and reject thresholds on 10^6 samples, the
// size of a large evaluation set. Target: all of them together under 0.5 s.
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/metrics/metrics.h"

namespace rat {
namespace {

constexpr int kNumSamples = 1'000'000;

// Scores rounded to 1e-4 so that ties occur, as they do for float32
// softmax outputs; higher scores are more often correct.
struct Dataset {
  Dataset() : scores(kNumSamples), correct(new bool[kNumSamples]) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> uniform(0, 1);
    for (int i = 0; i < kNumSamples; ++i) {
      scores[i] =
          static_cast<double>(static_cast<int>(uniform(rng) * 1e4)) / 1e4;
      correct[i] = uniform(rng) < 0.6 + 0.4 * scores[i];
    }
  }

  absl::Span<const bool> flags() const {
    return absl::MakeConstSpan(correct.get(), kNumSamples);
  }

  std::vector<double> scores;
  std::unique_ptr<bool[]> correct;
};

const Dataset& SharedDataset() {
  static const Dataset* const dataset = new Dataset();
  return *dataset;
}

void BM_ComputeMisdMetrics(benchmark::State& state) {
  const Dataset& data = SharedDataset();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ComputeMisdMetrics(data.scores, data.flags()));
  }
}
BENCHMARK(BM_ComputeMisdMetrics)->Unit(benchmark::kMillisecond);

void BM_SelectiveRiskAtCoverage(benchmark::State& state) {
  const Dataset& data = SharedDataset();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        SelectiveRiskAtCoverage(data.scores, data.flags(), 0.8));
  }
}
BENCHMARK(BM_SelectiveRiskAtCoverage)->Unit(benchmark::kMillisecond);

void BM_CoverageAtRisk(benchmark::State& state) {
  const Dataset& data = SharedDataset();
  for (auto _ : state) {
    benchmark::DoNotOptimize(CoverageAtRisk(data.scores, data.flags(), 0.1));
  }
}
BENCHMARK(BM_CoverageAtRisk)->Unit(benchmark::kMillisecond);

void BM_GuaranteedRiskThreshold(benchmark::State& state) {
  const Dataset& data = SharedDataset();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        GuaranteedRiskThreshold(data.scores, data.flags(), 0.1, 0.05));
  }
}
BENCHMARK(BM_GuaranteedRiskThreshold)->Unit(benchmark::kMillisecond);

// Everything a benchmark report computes for one score.
void BM_AllMetricsAndThresholds(benchmark::State& state) {
  const Dataset& data = SharedDataset();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ComputeMisdMetrics(data.scores, data.flags()));
    benchmark::DoNotOptimize(
        SelectiveRiskAtCoverage(data.scores, data.flags(), 0.8));
    benchmark::DoNotOptimize(CoverageAtRisk(data.scores, data.flags(), 0.1));
    benchmark::DoNotOptimize(
        GuaranteedRiskThreshold(data.scores, data.flags(), 0.1, 0.05));
  }
}
BENCHMARK(BM_AllMetricsAndThresholds)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rat
