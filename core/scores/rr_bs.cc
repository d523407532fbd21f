#include "core/scores/rr_bs.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "core/scores/input_gradient.h"

namespace rat {
namespace {

// Budget from which the attacked input no longer depends on the budget:
// an FGSM step of e >= 1 sends every pixel with a nonzero sign to 0 or 1,
// and PGD steps of e / 4 >= 1 do the same while the e-ball covers [0, 1].
double SaturationBudget(const RrBsOptions& options) {
  return options.pgd_steps > 0 ? 4.0 : 1.0;
}

torch::Tensor AsImageScale(const torch::Tensor& budget,
                           const torch::Tensor& images) {
  return budget.to(images.scalar_type()).view({-1, 1, 1, 1});
}

// Returns per image whether the FGSM step of size `budget` flips `labels`.
torch::Tensor FgsmFlips(torch::jit::Module& model, const torch::Tensor& images,
                        const torch::Tensor& attack_sign,
                        const torch::Tensor& labels,
                        const torch::Tensor& budget) {
  c10::InferenceMode inference;
  const torch::Tensor attacked =
      (images + AsImageScale(budget, images) * attack_sign).clamp_(0.0, 1.0);
  return PredictLabels(model, attacked) != labels;
}

// Returns per image whether any of the `options.pgd_steps` PGD iterates
// inside the `budget` ball flips `labels`. The first step reuses
// `attack_sign`; later steps recompute the gradient at the iterate.
torch::Tensor PgdFlips(torch::jit::Module& model, const torch::Tensor& images,
                       const torch::Tensor& attack_sign,
                       const torch::Tensor& labels, const torch::Tensor& budget,
                       const RrBsOptions& options) {
  const torch::Tensor radius = AsImageScale(budget, images);
  const torch::Tensor step = radius / 4.0;
  const torch::Tensor lower = (images - radius).clamp_min(0.0);
  const torch::Tensor upper = (images + radius).clamp_max(1.0);
  torch::Tensor iterate =
      at::minimum(at::maximum(images + step * attack_sign, lower), upper);

  torch::Tensor flipped = torch::zeros_like(labels, torch::kBool);
  for (int k = 1; k < options.pgd_steps; ++k) {
    const CleanForward pass =
        RunCleanForward(model, iterate, /*with_graph=*/true);
    flipped |= pass.predictions != labels;
    const torch::Tensor confidence_sign = ConfidenceGradientSign(
        pass.input, pass.logits, labels, options.temperature,
        /*retain_graph=*/false);
    iterate = at::minimum(
        at::maximum(iterate.detach() - step * confidence_sign, lower), upper);
  }
  return flipped | (PredictLabels(model, iterate) != labels);
}

}  // namespace

RrBsResult ComputeRrBs(torch::jit::Module& model, const torch::Tensor& images,
                       const torch::Tensor& predictions,
                       const torch::Tensor& confidence_sign,
                       const RrBsOptions& options) {
  const int64_t count = images.size(0);
  const auto float64 = torch::dtype(torch::kFloat64).device(images.device());
  const torch::Tensor pixels = images.detach();
  const torch::Tensor attack_sign = -confidence_sign.detach();
  const int64_t forwards_per_budget = std::max(options.pgd_steps, 1);

  torch::Tensor lo = torch::full({count}, options.initial_epsilon, float64);
  torch::Tensor hi =
      torch::full({count}, std::numeric_limits<double>::infinity(), float64);
  RrBsResult result;
  result.forwards = torch::zeros({count}, torch::dtype(torch::kInt64));
  torch::Tensor active =
      torch::arange(count, torch::dtype(torch::kInt64).device(images.device()));

  for (int iteration = 0; iteration < options.max_iterations; ++iteration) {
    if (active.numel() == 0) break;
    torch::Tensor lo_active = lo.index_select(0, active);
    torch::Tensor hi_active = hi.index_select(0, active);
    const torch::Tensor budget =
        at::minimum((lo_active + hi_active) / 2.0, 2.0 * lo_active);

    // Doubles until the first flip, then bisects.
    const torch::Tensor sub_images = pixels.index_select(0, active);
    const torch::Tensor sub_attack = attack_sign.index_select(0, active);
    const torch::Tensor sub_labels = predictions.index_select(0, active);
    const torch::Tensor flips =
        options.pgd_steps > 0
            ? PgdFlips(model, sub_images, sub_attack, sub_labels, budget,
                       options)
            : FgsmFlips(model, sub_images, sub_attack, sub_labels, budget);
    lo_active = torch::where(flips, lo_active, budget);
    hi_active = torch::where(flips, budget, hi_active);
    result.forwards.index_add_(
        0, active.cpu(),
        torch::full({active.numel()}, forwards_per_budget, torch::kInt64));

    // A saturated attack that has not flipped never will: the remaining
    // iterations would only double lo, so apply them at once.
    const int remaining = options.max_iterations - iteration - 1;
    const torch::Tensor saturated = flips.logical_not() &
                                    (budget >= SaturationBudget(options)) &
                                    hi_active.isinf();
    lo_active = torch::where(saturated, lo_active * std::ldexp(1.0, remaining),
                             lo_active);
    torch::Tensor finished = saturated;
    if (options.rel_tol > 0) {
      finished =
          finished | (hi_active - lo_active <= options.rel_tol * lo_active);
    }

    lo.index_copy_(0, active, lo_active);
    hi.index_copy_(0, active, hi_active);
    active = active.masked_select(finished.logical_not());
  }

  hi = torch::where(hi.isinf(), lo, hi);
  result.radius = (lo + hi) / 2.0;
  return result;
}

}  // namespace rat
