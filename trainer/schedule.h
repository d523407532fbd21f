// Learning-rate schedule and mixup sampling. Both are pure functions of the
// step, so a resumed run reproduces them without saved state.
#ifndef RAT_TRAINER_SCHEDULE_H_
#define RAT_TRAINER_SCHEDULE_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/rat_step.h"

namespace rat {

enum class WarmupShape { kLinear, kCosine };

// Parses "linear" or "cosine"; INVALID_ARGUMENT otherwise.
absl::StatusOr<WarmupShape> ParseWarmupShape(absl::string_view name);

// Cosine decay from peak_lr to min_lr over the steps after the warmup, which
// rises from 0 to peak_lr. Steps are optimizer steps counted from 0.
struct LrSchedule {
  double peak_lr = 0.1;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  WarmupShape warmup = WarmupShape::kLinear;
};

// Learning rate of step `step`. Warmup step s (s < warmup_steps) gets
// peak_lr * (s + 1) / warmup_steps (linear) or
// peak_lr * (1 - cos(pi * (s + 1) / warmup_steps)) / 2 (cosine), so the first
// step already moves. Steps past total_steps keep min_lr.
double LearningRateAt(const LrSchedule& schedule, int64_t step);

// True when epoch `epoch` (0-based) of `epochs` trains with mixup: alpha > 0
// and the epoch is not among the last `off_last_epochs`.
bool MixupActive(double alpha, int off_last_epochs, int epoch, int epochs);

// Draws lambda ~ Beta(alpha, alpha) as G1 / (G1 + G2) with G1, G2 ~
// Gamma(alpha, 1), and a random permutation of `batch_size` images, from a
// generator seeded by (seed, step) only.
MixupParams SampleMixup(double alpha, int64_t batch_size, uint64_t seed,
                        int64_t step);

}  // namespace rat

#endif  // RAT_TRAINER_SCHEDULE_H_
