// Measures each confidence score's cost in units of one plain forward pass
// (inference mode) of the same model and batch, for a small CNN on 1 x 28 x 28
// images and ResNet-20 on 3 x 32 x 32 images, at batch 1, 32 and 128.
//
// Every iteration times one plain forward and one scoring call back to back;
// `forward_units` is the ratio of their median wall times and
// `cpu_forward_units` the ratio of their median thread CPU times, which
// stays stable while other processes load the CPU (with --threads=1).
// `clean_units`, `backward_units` and `extra_units` split it into the engine's
// stages (clean forward with autograd, input-only backward, extra forwards).
// RR-BS reports `forwards_per_image`, its search forwards per image (at most
// 24).
//
// Usage: score_bench [--threads=N] [--freeze=0|1] [--keep_buffers=0|1]
//                    [Google Benchmark flags]
// --threads sets at::set_num_threads (default 1). --freeze=1 and
// --keep_buffers=1 (the defaults) measure the models as rat-server runs them:
// frozen, with freed tensor buffers kept in the heap (see
// core/common/allocator.h); 0 turns either off for a before/after figure.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/common/bench_flags.h"
#include "core/models/architectures.h"
#include "core/models/freeze.h"
#include "core/scores/score_engine.h"

namespace rat {
namespace {

struct ModelSetup {
  std::string architecture;
  int64_t channels;
  int64_t size_pixels;
};

const std::vector<ModelSetup>& ModelSetups() {
  static const std::vector<ModelSetup>* const setups =
      new std::vector<ModelSetup>{{"small_cnn", 1, 28}, {"resnet20", 3, 32}};
  return *setups;
}

// Whether the models are frozen as rat-server serves them (--freeze=1).
bool& FreezeModels() {
  static bool freeze = true;
  return freeze;
}

// Builds each architecture once, in evaluation mode, frozen unless
// --freeze=0.
torch::jit::Module& CachedModel(const ModelSetup& setup) {
  static auto* const models = new std::map<std::string, torch::jit::Module>();
  auto found = models->find(setup.architecture);
  if (found != models->end()) return found->second;

  ArchitectureOptions options;
  options.name = setup.architecture;
  options.channels = setup.channels;
  options.height = setup.size_pixels;
  options.width = setup.size_pixels;
  absl::StatusOr<torch::jit::Module> model = BuildArchitecture(options);
  if (!model.ok()) {
    spdlog::error("cannot build {}: {}", setup.architecture,
                  model.status().ToString());
    std::exit(1);
  }
  model->eval();
  if (FreezeModels()) model = FreezeForServing(*model);
  if (!model.ok()) {
    spdlog::error("cannot freeze {}: {}", setup.architecture,
                  model.status().ToString());
    std::exit(1);
  }
  return models->emplace(setup.architecture, *model).first->second;
}

// A named set of scores with their parameters.
struct ScoreSet {
  std::string name;
  std::vector<ScoreKind> scores;
  ScoreParams params;
};

std::vector<ScoreSet> ScoreSets() {
  ScoreParams odin_params;
  odin_params.odin_epsilon = 1e-3;
  // ODIN at RR-Fast's temperature shares its input-only backward pass.
  ScoreParams shared_params = odin_params;
  shared_params.odin_temperature = shared_params.rr_fast_temperature;
  ScoreParams fixed_params;
  fixed_params.rr_bs_rel_tol = 0.0;
  return {
      {"msr", {ScoreKind::kMsr}, ScoreParams()},
      {"odin_eps", {ScoreKind::kOdin}, odin_params},
      {"rr_fast", {ScoreKind::kRrFast}, ScoreParams()},
      {"msr+odin_eps+rr_fast",
       {ScoreKind::kMsr, ScoreKind::kOdin, ScoreKind::kRrFast},
       odin_params},
      {"msr+odin_eps+rr_fast_same_t",
       {ScoreKind::kMsr, ScoreKind::kOdin, ScoreKind::kRrFast},
       shared_params},
      {"rr_bs", {ScoreKind::kRrBs}, ScoreParams()},
      {"rr_bs_fixed24", {ScoreKind::kRrBs}, fixed_params},
  };
}

double SecondsOf(const std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// CPU time of the calling thread, seconds. With one LibTorch thread every
// pass (the backward included) runs on the calling thread, so this time does
// not grow while other processes hold the cores.
double ThreadCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * now.tv_nsec;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Per-iteration times of one benchmark, seconds.
struct Samples {
  std::vector<double> forward;
  std::vector<double> score;
  std::vector<double> forward_cpu;
  std::vector<double> score_cpu;
  std::vector<double> forward_stage;
  std::vector<double> backward_stage;
  std::vector<double> extra_stage;
  std::vector<double> rr_bs_forwards;
};

void ReportCounters(benchmark::State& state, const Samples& samples) {
  const double forward = Median(samples.forward);
  state.counters["forward_ms"] = 1e3 * forward;
  state.counters["forward_units"] = Median(samples.score) / forward;
  state.counters["cpu_forward_units"] =
      Median(samples.score_cpu) / Median(samples.forward_cpu);
  state.counters["clean_units"] = Median(samples.forward_stage) / forward;
  state.counters["backward_units"] = Median(samples.backward_stage) / forward;
  state.counters["extra_units"] = Median(samples.extra_stage) / forward;
  if (!samples.rr_bs_forwards.empty()) {
    state.counters["forwards_per_image"] = Median(samples.rr_bs_forwards);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BenchmarkScores(benchmark::State& state, const ModelSetup& setup,
                     const ScoreSet& set) {
  torch::jit::Module& model = CachedModel(setup);
  torch::manual_seed(0);
  const torch::Tensor images = torch::rand(
      {state.range(0), setup.channels, setup.size_pixels, setup.size_pixels});
  ScoreRequest request;
  request.scores = set.scores;
  request.params = set.params;

  Samples samples;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    double start_cpu = ThreadCpuSeconds();
    {
      c10::InferenceMode inference;
      benchmark::DoNotOptimize(model.forward({images}).toTensor());
    }
    samples.forward_cpu.push_back(ThreadCpuSeconds() - start_cpu);
    samples.forward.push_back(SecondsOf(start));

    start = std::chrono::steady_clock::now();
    start_cpu = ThreadCpuSeconds();
    absl::StatusOr<ScoreResult> result =
        ScoreEngine::Score(model, images, request);
    samples.score_cpu.push_back(ThreadCpuSeconds() - start_cpu);
    const double seconds = SecondsOf(start);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      return;
    }
    state.SetIterationTime(seconds);
    samples.score.push_back(seconds);
    samples.forward_stage.push_back(result->forward_seconds);
    samples.backward_stage.push_back(result->backward_seconds);
    samples.extra_stage.push_back(result->extra_seconds);
    if (result->rr_bs_forwards.defined()) {
      samples.rr_bs_forwards.push_back(
          result->rr_bs_forwards.to(torch::kFloat64).mean().item<double>());
    }
  }
  ReportCounters(state, samples);
}

// Iterations per benchmark: enough for a stable median on a shared machine
// while the slowest case (RR-BS, ResNet-20, batch 128) stays near a minute.
int64_t IterationsFor(const ScoreSet& set, int64_t batch) {
  const bool search = absl::StartsWith(set.name, "rr_bs");
  if (batch == 1) return search ? 10 : 30;
  if (batch == 32) return search ? 3 : 10;
  return search ? 3 : 7;
}

void RegisterBenchmarks() {
  for (const ModelSetup& setup : ModelSetups()) {
    for (const ScoreSet& set : ScoreSets()) {
      for (int64_t batch : {1, 32, 128}) {
        benchmark::RegisterBenchmark(
            absl::StrCat(setup.architecture, "/", set.name).c_str(),
            [setup, set](benchmark::State& state) {
              BenchmarkScores(state, setup, set);
            })
            ->Arg(batch)
            ->Iterations(IterationsFor(set, batch))
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace
}  // namespace rat

int main(int argc, char** argv) {
  const bool keep_buffers = rat::TakeKeepBuffersFlag(argc, argv);
  // One thread by default: the forward unit is only stable when LibTorch's
  // threads do not wait on other processes for a core.
  const int threads = rat::TakeIntFlag(argc, argv, "threads", 1, 1);
  rat::FreezeModels() = rat::TakeIntFlag(argc, argv, "freeze", 1, 0) != 0;
  at::set_num_threads(threads);
  at::set_num_interop_threads(1);
  benchmark::AddCustomContext("torch_threads", std::to_string(threads));
  benchmark::AddCustomContext("frozen", rat::FreezeModels() ? "1" : "0");
  benchmark::AddCustomContext("keep_buffers", keep_buffers ? "1" : "0");

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  rat::RegisterBenchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
