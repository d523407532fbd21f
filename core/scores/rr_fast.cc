#include "core/scores/rr_fast.h"

#include "core/scores/input_gradient.h"

namespace rat {
namespace {

// N x K gaps f_{y_hat} - f_j in float64 (0 at j = y_hat).
torch::Tensor LogitGaps(const torch::Tensor& logits,
                        const torch::Tensor& label_index) {
  const torch::Tensor logits64 = logits.to(torch::kFloat64);
  return logits64.gather(1, label_index) - logits64;
}

}  // namespace

torch::Tensor ComputeRrFast(torch::jit::Module& model,
                            const torch::Tensor& images,
                            const torch::Tensor& logits,
                            const torch::Tensor& predictions,
                            const torch::Tensor& confidence_sign,
                            const RrFastOptions& options) {
  torch::NoGradGuard no_grad;
  const torch::Tensor label_index = predictions.unsqueeze(1);

  torch::Tensor probe_logits;
  {
    c10::InferenceMode inference;
    const torch::Tensor probe =
        (images - options.step * confidence_sign).clamp_(0.0, 1.0);
    probe_logits = Forward(model, probe);
  }

  // Rates are taken in float64 from the float32 logits of both passes.
  const torch::Tensor gaps = LogitGaps(logits.detach(), label_index);
  const torch::Tensor rates =
      (gaps - LogitGaps(probe_logits, label_index)) / options.step;
  const torch::Tensor closing = rates > 0;
  const torch::Tensor estimates =
      torch::where(closing, gaps / rates.clamp_min(1e-300),
                   torch::full_like(gaps, options.max_radius));

  // The predicted class itself is no boundary.
  const torch::Tensor others =
      torch::ones_like(closing).scatter_(1, label_index, false);
  const torch::Tensor radius =
      std::get<0>(torch::where(others, estimates,
                               torch::full_like(gaps, options.max_radius))
                      .min(/*dim=*/1));
  return radius.clamp(0.0, options.max_radius);
}

}  // namespace rat
