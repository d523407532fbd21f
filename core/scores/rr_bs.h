// RR-BS: the L-infinity robust radius found by bisection on the budget of an
// FGSM (or PGD) attack against the predicted label. Internal to the scoring
// engine. Throws c10::Error on tensor failures.
#ifndef RAT_CORE_SCORES_RR_BS_H_
#define RAT_CORE_SCORES_RR_BS_H_

#include <torch/script.h>

namespace rat {

struct RrBsOptions {
  // Temperature of the PGD steps after the first (the first step uses the
  // shared gradient, computed at the same temperature).
  double temperature = 1.0;
  // First budget tried, pixel units of [0, 1] images.
  double initial_epsilon = 1e-6;
  int max_iterations = 24;
  // An image whose bracket satisfies hi - lo <= rel_tol * lo is finished;
  // 0 runs every image for max_iterations.
  double rel_tol = 1e-3;
  // 0 for FGSM; k > 0 for k PGD steps of size budget / 4.
  int pgd_steps = 0;
};

struct RrBsResult {
  // N float64 radii, pixel units.
  torch::Tensor radius;
  // N int64 forward passes spent per image in the search.
  torch::Tensor forwards;
};

// Searches each image's smallest budget e whose attack flips the prediction:
// budgets double from initial_epsilon until the first flip, then bisect, and
// the result is the midpoint of the final bracket (its lower end when no
// budget flipped). The FGSM attack is x_e = clamp(x - e * confidence_sign,
// 0, 1), because sign(grad CE(f / T, y_hat)) = -confidence_sign. Finished
// images leave the batch, so each forward runs on the unfinished images only.
// NOTE: an image that never flips gets initial_epsilon * 2^max_iterations
// (16.8 with the defaults), above any L-infinity distance inside [0, 1]. That
// is the search's own result, and it ranks such images above every image
// that flips.
RrBsResult ComputeRrBs(torch::jit::Module& model, const torch::Tensor& images,
                       const torch::Tensor& predictions,
                       const torch::Tensor& confidence_sign,
                       const RrBsOptions& options);

}  // namespace rat

#endif  // RAT_CORE_SCORES_RR_BS_H_
