#include "core/scores/odin.h"

#include "core/scores/input_gradient.h"
#include "core/scores/logit_scores.h"

namespace rat {

torch::Tensor ComputePerturbedOdin(torch::jit::Module& model,
                                   const torch::Tensor& images,
                                   const torch::Tensor& confidence_sign,
                                   const OdinOptions& options) {
  torch::Tensor logits;
  {
    c10::InferenceMode inference;
    const torch::Tensor perturbed =
        (images + options.epsilon * confidence_sign).clamp_(0.0, 1.0);
    logits = Forward(model, perturbed);
  }
  return MaxSoftmax(logits, options.temperature);
}

}  // namespace rat
