// One training step of Radius Aware Training (RAT) and its ablations: the
// loss, the perturbed inputs and the parameter gradients of one batch.
#ifndef RAT_TRAINER_RAT_STEP_H_
#define RAT_TRAINER_RAT_STEP_H_

#include <ATen/ATen.h>
#include <torch/script.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rat {

enum class TrainMethod {
  kStandard,  // clean loss only
  kRat,       // correct images move up the loss, wrong images down
  kFgsmAt,    // every image moves up the loss (FGSM adversarial training)
};

// Parses "standard", "rat" or "fgsm-at"; INVALID_ARGUMENT otherwise.
absl::StatusOr<TrainMethod> ParseTrainMethod(absl::string_view name);

struct RatStepOptions {
  TrainMethod method = TrainMethod::kRat;
  double epsilon = 1e-3;  // L-infinity budget in pixel units of [0, 1]
  int pgd_steps = 0;      // 0: one FGSM step; k > 0: k steps of eps / 4
  double lambda_clean = 1.0;
  double lambda_adv = 1.0;  // ignored by kStandard
};

// Mixup of one batch: the step trains on
// lambda * x + (1 - lambda) * x[permutation] with the loss mixed the same way
// between y and y[permutation].
struct MixupParams {
  double lambda = 1.0;
  at::Tensor permutation;  // int64 B
};

struct StepStats {
  double loss = 0;        // lambda_clean * clean + lambda_adv * perturbed
  double clean_loss = 0;  // mean cross-entropy of the clean (mixed) batch
  double adv_loss = 0;    // same on the perturbed batch (0 for kStandard)
  int64_t correct = 0;    // clean unmixed images predicted right
  int64_t images = 0;
};

// Moves `images` by `step` * sign(`input_grad`) per image and clamps to
// [0, 1]. Under kRat, images whose `correct` flag is set move up the loss and
// the others move down. Under kFgsmAt every image moves up. Returns a
// tensor without autograd history. kStandard returns `images` unchanged.
at::Tensor PerturbImages(const at::Tensor& images, const at::Tensor& input_grad,
                         const at::Tensor& correct, TrainMethod method,
                         double step);

// Projects `perturbed` onto the L-infinity ball of radius `epsilon` around
// `images` and onto [0, 1].
at::Tensor ProjectToBall(const at::Tensor& perturbed, const at::Tensor& images,
                         double epsilon);

// PGD perturbation: options.pgd_steps steps of size epsilon / 4 with the
// per-image sign rule of PerturbImages (the `correct` mask stays fixed), each
// projected onto the epsilon-ball around `images` and onto [0, 1]. The first
// step uses `first_grad`, the clean input gradient the caller already has;
// every further step costs one forward and one input-only backward of
// `model`. Parameter gradients are not touched. May throw c10::Error.
at::Tensor PerturbPgd(torch::jit::Module& model, const at::Tensor& images,
                      const at::Tensor& first_grad, const at::Tensor& labels,
                      const at::Tensor& correct, const RatStepOptions& options,
                      const std::optional<MixupParams>& mixup);

// Cross-entropy of `logits`, mixed between `labels` and
// labels[mixup->permutation] when `mixup` is set.
at::Tensor MixedCrossEntropy(const at::Tensor& logits, const at::Tensor& labels,
                             const std::optional<MixupParams>& mixup);

// Runs one step on `images` (float32 B x C x H x W in [0, 1]) and `labels`
// (int64 B) with `model` in training mode. The parameter gradients of
// lambda_clean * L_clean + lambda_adv * L_adv accumulate into the .grad of
// `parameters`, so the caller zeroes them first and steps the optimizer after.
//
// The clean backward produces the parameter gradients and the input gradient
// together, then one forward and one backward of L_adv follow: two forwards
// and two backwards per FGSM step. PGD adds one forward and one input-only
// backward per extra step.
//
// With `mixup`, the correctness mask comes from one extra forward pass of the
// unmixed images in evaluation mode without autograd (so BatchNorm running
// statistics are not updated twice); that costs about one third of a
// forward-backward pair.
//
// Errors: INVALID_ARGUMENT for mismatched shapes or labels out of range,
// INTERNAL for a LibTorch failure, each naming the shapes involved.
absl::StatusOr<StepStats> RunRatStep(torch::jit::Module& model,
                                     const std::vector<at::Tensor>& parameters,
                                     const at::Tensor& images,
                                     const at::Tensor& labels,
                                     const RatStepOptions& options,
                                     const std::optional<MixupParams>& mixup);

// The trainable parameters of `model` (recursive), with requires_grad set.
std::vector<at::Tensor> TrainableParameters(torch::jit::Module& model);

}  // namespace rat

#endif  // RAT_TRAINER_RAT_STEP_H_
