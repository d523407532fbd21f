#include "trainer/schedule.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace rat {
namespace {

constexpr double kPi = 3.14159265358979323846;

// SplitMix64 finalizer: spreads (seed, step) over the generator's seed space
// so neighbouring steps get unrelated streams.
uint64_t MixSeed(uint64_t seed, uint64_t step) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (step + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

absl::StatusOr<WarmupShape> ParseWarmupShape(absl::string_view name) {
  if (name == "linear") return WarmupShape::kLinear;
  if (name == "cosine") return WarmupShape::kCosine;
  return absl::InvalidArgumentError(absl::StrCat(
      "warmup shape \"", name, "\" is invalid; expected linear or cosine"));
}

double LearningRateAt(const LrSchedule& schedule, int64_t step) {
  if (step < schedule.warmup_steps) {
    const double fraction =
        static_cast<double>(step + 1) / schedule.warmup_steps;
    if (schedule.warmup == WarmupShape::kLinear) {
      return schedule.peak_lr * fraction;
    }
    return schedule.peak_lr * (1 - std::cos(kPi * fraction)) / 2;
  }

  const int64_t decay_steps =
      std::max<int64_t>(1, schedule.total_steps - schedule.warmup_steps);
  const double progress = std::min(
      1.0, static_cast<double>(step - schedule.warmup_steps) / decay_steps);
  return schedule.min_lr + (schedule.peak_lr - schedule.min_lr) *
                               (1 + std::cos(kPi * progress)) / 2;
}

bool MixupActive(double alpha, int off_last_epochs, int epoch, int epochs) {
  return alpha > 0 && epoch < epochs - off_last_epochs;
}

MixupParams SampleMixup(double alpha, int64_t batch_size, uint64_t seed,
                        int64_t step) {
  at::Generator generator =
      at::make_generator<at::CPUGeneratorImpl>(MixSeed(seed, step));
  at::Tensor shape = at::full({2}, alpha, at::kDouble);
  at::Tensor gammas = at::_standard_gamma(shape, generator);
  const double g1 = gammas[0].item<double>();
  const double g2 = gammas[1].item<double>();

  MixupParams mixup;
  // Both draws can underflow to 0 for tiny alpha; Beta then puts its mass at
  // 0 and 1 equally, so either endpoint is a valid draw.
  mixup.lambda = g1 + g2 > 0 ? g1 / (g1 + g2) : 1.0;
  mixup.permutation =
      at::randperm(batch_size, generator, at::TensorOptions(at::kLong));
  return mixup;
}

}  // namespace rat
