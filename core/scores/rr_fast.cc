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

  // Rates are taken in float64 from the float32 logits of both passes. At
  // j = y_hat both the gap and its rate are exactly 0, so the predicted class
  // falls under "does not close" and gets the cap without a mask.
  const torch::Tensor gaps = LogitGaps(logits.detach(), label_index);
  const torch::Tensor rates =
      (gaps - LogitGaps(probe_logits, label_index)) / options.step;
  const torch::Tensor estimates =
      torch::where(rates > 0, gaps / rates, options.max_radius);
  return std::get<0>(estimates.min(/*dim=*/1)).clamp(0.0, options.max_radius);
}

}  // namespace rat
