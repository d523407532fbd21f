// ODIN with an input perturbation (epsilon > 0). Internal to the scoring
// engine. Throws c10::Error on tensor failures.
#ifndef RAT_CORE_SCORES_ODIN_H_
#define RAT_CORE_SCORES_ODIN_H_

#include <torch/script.h>

namespace rat {

struct OdinOptions {
  double temperature = 1000.0;
  // L-infinity step in pixel units of [0, 1] images.
  double epsilon = 0.0;
};

// Returns max_k softmax(f(x~) / T)_k per image (N float64) for
// x~ = clamp(x + epsilon * confidence_sign, 0, 1), where `confidence_sign`
// is ConfidenceGradientSign at the ODIN temperature. The clamp keeps x~ a
// valid image for the model. Costs one forward pass.
torch::Tensor ComputePerturbedOdin(torch::jit::Module& model,
                                   const torch::Tensor& images,
                                   const torch::Tensor& confidence_sign,
                                   const OdinOptions& options);

}  // namespace rat

#endif  // RAT_CORE_SCORES_ODIN_H_
