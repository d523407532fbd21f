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
// the batch.
//
// `images` is float32 N x C x H x W in [0, 1] on the model's device.
// Thread safety: Score() on one module may run concurrently from several
// threads only if the module is not being trained.
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
