// Scores computed from the clean logits alone: MSR, temperature-scaled MSR
// (ODIN with epsilon 0), MLS, negative entropy, softmax margin, DOCTOR and
// energy. Internal to the scoring engine.
#ifndef RAT_CORE_SCORES_LOGIT_SCORES_H_
#define RAT_CORE_SCORES_LOGIT_SCORES_H_

#include <torch/script.h>

#include "core/scores/score_types.h"

namespace rat {

// Returns max_k softmax(logits / temperature)_k per row of the N x K
// `logits`, computed from log_softmax in float64 (an N-element tensor).
torch::Tensor MaxSoftmax(const torch::Tensor& logits, double temperature);

// Returns the N-element float64 score `kind` for N x K `logits` (K >= 2).
// `kind` must be one of kMsr, kOdin (epsilon 0), kMls, kNegEntropy, kMargin,
// kDoctor or kEnergy; the gradient scores are not handled here. Throws
// c10::Error on tensor failures.
torch::Tensor ComputeLogitScore(ScoreKind kind, const torch::Tensor& logits,
                                const ScoreParams& params);

// True for the kinds ComputeLogitScore accepts with these parameters.
bool IsLogitScore(ScoreKind kind, const ScoreParams& params);

}  // namespace rat

#endif  // RAT_CORE_SCORES_LOGIT_SCORES_H_
