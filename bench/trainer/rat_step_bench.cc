// Training step cost on the small CNN: plain step against the RAT step (FGSM
// and PGD-7), images per second and the process's peak resident memory.
//
// The ratio RAT / standard is the number to watch: the efficient RAT step
// runs two forwards and two backwards, so it should cost at most about 1.6
// plain steps.
#include <sys/resource.h>
#include <torch/optim/sgd.h>

#include <optional>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/models/architectures.h"
#include "trainer/rat_step.h"

namespace rat {
namespace {

double PeakRssMegabytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in kilobytes on Linux
}

void RunStep(benchmark::State& state, TrainMethod method, int pgd_steps) {
  const int64_t batch_size = state.range(0);
  ArchitectureOptions architecture;
  architecture.name = "small_cnn";
  absl::StatusOr<torch::jit::Module> built = BuildArchitecture(architecture);
  if (!built.ok()) {
    state.SkipWithError(std::string(built.status().message()).c_str());
    return;
  }
  torch::jit::Module model = *built;
  std::vector<at::Tensor> parameters = TrainableParameters(model);
  torch::optim::SGD optimizer(parameters,
                              torch::optim::SGDOptions(0.01).momentum(0.9));
  at::Tensor images = at::rand({batch_size, 1, 28, 28});
  at::Tensor labels = at::randint(0, 10, {batch_size}, at::kLong);
  RatStepOptions options;
  options.method = method;
  options.pgd_steps = pgd_steps;

  for (auto _ : state) {
    optimizer.zero_grad();
    absl::StatusOr<StepStats> stats =
        RunRatStep(model, parameters, images, labels, options, std::nullopt);
    if (!stats.ok()) {
      state.SkipWithError(std::string(stats.status().message()).c_str());
      return;
    }
    optimizer.step();
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
  state.counters["peak_rss_MB"] = PeakRssMegabytes();
}

void BM_StandardStep(benchmark::State& state) {
  RunStep(state, TrainMethod::kStandard, 0);
}
void BM_RatStep(benchmark::State& state) {
  RunStep(state, TrainMethod::kRat, 0);
}
void BM_RatPgd7Step(benchmark::State& state) {
  RunStep(state, TrainMethod::kRat, 7);
}

BENCHMARK(BM_StandardStep)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RatStep)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RatPgd7Step)->Arg(128)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rat
