// RR-Fast: a first-order estimate of the L-infinity robust radius from one
// probe step. Internal to the scoring engine. Throws c10::Error on tensor
// failures.
#ifndef RAT_CORE_SCORES_RR_FAST_H_
#define RAT_CORE_SCORES_RR_FAST_H_

#include <torch/script.h>

namespace rat {

struct RrFastOptions {
  // Probe step h and radius cap R_max, pixel units of [0, 1] images.
  double step = 1e-3;
  double max_radius = 1.0;
};

// Returns the RR-Fast radius per image (N float64, in [0, max_radius]).
//
// With d = `confidence_sign` (ConfidenceGradientSign at the RR-Fast
// temperature), the probe x' = clamp(x - step * d, 0, 1) costs one forward
// pass. For each class j != y_hat the logit gap m_j = f_{y_hat} - f_j closes
// at rate r_j = (m_j(x) - m_j(x')) / step; the estimate is
// min_j m_j / r_j over r_j > 0, and max_radius when no gap closes. Pixels
// that the clamp holds at 0 or 1 do not move, so an image whose direction
// points out of [0, 1] everywhere gets max_radius. The gaps use the raw
// `logits` (N x K) of the clean pass and `predictions` (N int64).
torch::Tensor ComputeRrFast(torch::jit::Module& model,
                            const torch::Tensor& images,
                            const torch::Tensor& logits,
                            const torch::Tensor& predictions,
                            const torch::Tensor& confidence_sign,
                            const RrFastOptions& options);

}  // namespace rat

#endif  // RAT_CORE_SCORES_RR_FAST_H_
