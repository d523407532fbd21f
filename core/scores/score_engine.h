// Computes a set of confidence scores for a batch, sharing passes.
#ifndef RAT_CORE_SCORES_SCORE_ENGINE_H_
#define RAT_CORE_SCORES_SCORE_ENGINE_H_

#include <torch/script.h>

#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "core/scores/score_types.h"

namespace rat {

struct ScoreRequest {
  std::vector<ScoreKind> scores;
  ScoreParams params;
};

struct ScoreResult {
  // N x K float32 logits of the clean forward pass (CPU).
  torch::Tensor logits;
  // N int64 predicted labels (CPU).
  torch::Tensor predictions;
  // One N-element float64 CPU tensor per requested score.
  std::map<ScoreKind, torch::Tensor> scores;
  // RR-BS only: forwards spent per image (N int64), for benchmarks.
  torch::Tensor rr_bs_forwards;
  // Wall time of each stage, seconds: the clean forward pass, the
  // input-only backward passes, and the extra forwards of ODIN, RR-Fast and
  // RR-BS (with PGD's inner backward passes). On CUDA the stages are
  // synchronized, so the times include the device work.
  double forward_seconds = 0.0;
  double backward_seconds = 0.0;
  double extra_seconds = 0.0;
};

// Plans the passes for a set of scores: one forward; one input-only backward
// per distinct temperature among the gradient scores; then each score's extra
// forwards. Parameter gradients are never computed and the module's training
// mode is restored. Scores of an image do not depend on the other images of
// the batch, beyond float32 rounding that differs between batch sizes (RR-Fast
// divides a logit difference by its probe step, which amplifies it).
//
// `images` is float32 N x C x H x W in [0, 1] on the model's device; results
// are on the CPU. Errors: INVALID_ARGUMENT naming the value for images that
// are empty, not 4-D, not float32 or outside [0, 1] (NaN included), for an
// empty score list, for parameters that ValidateScoreParams rejects, when
// the forward pass fails on the images (for example a channel count the
// model does not take), and when the model does not return N x K logits with
// K >= 2. INTERNAL for other LibTorch failures. The module's training flags
// are restored on every path.
// Thread safety: Score() on one module may run concurrently from several
// threads only if the module is in evaluation mode and not being trained,
// because a module in training mode is switched to evaluation mode and back.
class ScoreEngine {
 public:
  static absl::StatusOr<ScoreResult> Score(torch::jit::Module& model,
                                           const torch::Tensor& images,
                                           const ScoreRequest& request);
};

// Computes one score alone, with its own passes. Same contract as
// ScoreEngine::Score; used by tests and benchmarks as the reference.
absl::StatusOr<torch::Tensor> ComputeScore(torch::jit::Module& model,
                                           const torch::Tensor& images,
                                           ScoreKind kind,
                                           const ScoreParams& params);

}  // namespace rat

#endif  // RAT_CORE_SCORES_SCORE_ENGINE_H_
