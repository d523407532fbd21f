#include "trainer/rat_step.h"

#include <torch/csrc/autograd/autograd.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"

namespace rat {
namespace {

std::string ShapeString(const at::Tensor& tensor) {
  return absl::StrJoin(tensor.sizes(), "x");
}

at::Tensor Forward(torch::jit::Module& model, const at::Tensor& images) {
  return model.forward({images}).toTensor();
}

// +1 for images that move up the loss, -1 for images that move down, shaped
// to broadcast over B x C x H x W.
at::Tensor DirectionSigns(const at::Tensor& images, const at::Tensor& correct,
                          TrainMethod method) {
  std::vector<int64_t> shape(images.dim(), 1);
  shape[0] = images.size(0);
  if (method == TrainMethod::kFgsmAt) {
    return at::ones(shape, images.options());
  }
  return (correct.to(images.scalar_type()) * 2 - 1).view(shape);
}

absl::Status CheckBatch(const at::Tensor& images, const at::Tensor& labels) {
  if (images.dim() != 4 || labels.dim() != 1 ||
      images.size(0) != labels.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training batch expects B x C x H x W images and B labels, got images ",
        ShapeString(images), " and labels ", ShapeString(labels)));
  }
  if (images.size(0) == 0) {
    return absl::InvalidArgumentError("training batch is empty");
  }
  return absl::OkStatus();
}

absl::Status CheckLogits(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 2 || logits.size(0) != labels.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model returned logits of shape ", ShapeString(logits),
                     ", expected ", labels.size(0), " x K"));
  }
  const int64_t low = labels.min().item<int64_t>();
  const int64_t high = labels.max().item<int64_t>();
  if (low < 0 || high >= logits.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat("labels span [", low, ", ",
                                                   high, "] but the model has ",
                                                   logits.size(1), " classes"));
  }
  return absl::OkStatus();
}

// Correctness of the clean, unmixed images. Without mixup the clean logits
// are those images' logits; with mixup one extra forward pass is needed.
at::Tensor CorrectMask(torch::jit::Module& model, const at::Tensor& images,
                       const at::Tensor& labels, const at::Tensor& logits,
                       const std::optional<MixupParams>& mixup) {
  if (!mixup.has_value()) return logits.detach().argmax(1).eq(labels);

  torch::NoGradGuard no_grad;
  model.eval();
  at::Tensor unmixed = Forward(model, images);
  model.train();
  return unmixed.argmax(1).eq(labels);
}

absl::StatusOr<StepStats> RunStepUnchecked(
    torch::jit::Module& model, const std::vector<at::Tensor>& parameters,
    const at::Tensor& images, const at::Tensor& labels,
    const RatStepOptions& options, const std::optional<MixupParams>& mixup) {
  model.train();
  const bool perturb = options.method != TrainMethod::kStandard;

  at::Tensor inputs = images;
  if (mixup.has_value()) {
    inputs = images * mixup->lambda +
             images.index_select(0, mixup->permutation.to(images.device())) *
                 (1 - mixup->lambda);
  }
  inputs = inputs.detach().requires_grad_(perturb);

  at::Tensor logits = Forward(model, inputs);
  RAT_RETURN_IF_ERROR(CheckLogits(logits, labels));
  at::Tensor clean_loss = MixedCrossEntropy(logits, labels, mixup);
  at::Tensor correct = CorrectMask(model, images, labels, logits, mixup);

  // One backward yields the parameter gradients and the input gradient. When
  // lambda_clean is 0 only the input gradient is taken, so its sign survives.
  std::vector<at::Tensor> targets;
  if (options.lambda_clean > 0) targets = parameters;
  if (perturb) targets.push_back(inputs);
  if (!targets.empty()) {
    const double scale = options.lambda_clean > 0 ? options.lambda_clean : 1;
    torch::autograd::backward({clean_loss * scale}, {}, false, false, targets);
  }

  StepStats stats;
  stats.images = images.size(0);
  stats.correct = correct.sum().item<int64_t>();
  stats.clean_loss = clean_loss.item<double>();
  stats.loss = options.lambda_clean * stats.clean_loss;
  if (!perturb) return stats;

  at::Tensor perturbed =
      options.pgd_steps > 0
          ? PerturbPgd(model, inputs.detach(), inputs.grad(), labels, correct,
                       options, mixup)
          : PerturbImages(inputs.detach(), inputs.grad(), correct,
                          options.method, options.epsilon);

  at::Tensor adv_loss =
      MixedCrossEntropy(Forward(model, perturbed), labels, mixup);
  if (options.lambda_adv > 0 && !parameters.empty()) {
    torch::autograd::backward({adv_loss * options.lambda_adv}, {}, false, false,
                              parameters);
  }
  stats.adv_loss = adv_loss.item<double>();
  stats.loss += options.lambda_adv * stats.adv_loss;
  return stats;
}

}  // namespace

absl::StatusOr<TrainMethod> ParseTrainMethod(absl::string_view name) {
  if (name == "standard") return TrainMethod::kStandard;
  if (name == "rat") return TrainMethod::kRat;
  if (name == "fgsm-at") return TrainMethod::kFgsmAt;
  return absl::InvalidArgumentError(
      absl::StrCat("training method \"", name,
                   "\" is invalid; expected rat, fgsm-at or "
                   "standard"));
}

at::Tensor PerturbImages(const at::Tensor& images, const at::Tensor& input_grad,
                         const at::Tensor& correct, TrainMethod method,
                         double step) {
  if (method == TrainMethod::kStandard) return images.detach();
  at::Tensor signs = DirectionSigns(images, correct, method);
  return (images.detach() + input_grad.detach().sign() * signs * step)
      .clamp(0, 1);
}

at::Tensor ProjectToBall(const at::Tensor& perturbed, const at::Tensor& images,
                         double epsilon) {
  at::Tensor low = images - epsilon;
  at::Tensor high = images + epsilon;
  return at::min(at::max(perturbed, low), high).clamp(0, 1).detach();
}

at::Tensor PerturbPgd(torch::jit::Module& model, const at::Tensor& images,
                      const at::Tensor& first_grad, const at::Tensor& labels,
                      const at::Tensor& correct, const RatStepOptions& options,
                      const std::optional<MixupParams>& mixup) {
  const double step = options.epsilon / 4;
  at::Tensor perturbed =
      PerturbImages(images, first_grad, correct, options.method, step);
  perturbed = ProjectToBall(perturbed, images, options.epsilon);
  for (int i = 1; i < options.pgd_steps; ++i) {
    at::Tensor point = perturbed.detach().requires_grad_(true);
    at::Tensor loss = MixedCrossEntropy(Forward(model, point), labels, mixup);
    at::Tensor grad = torch::autograd::grad({loss}, {point})[0];
    perturbed =
        PerturbImages(point.detach(), grad, correct, options.method, step);
    perturbed = ProjectToBall(perturbed, images, options.epsilon);
  }
  return perturbed;
}

at::Tensor MixedCrossEntropy(const at::Tensor& logits, const at::Tensor& labels,
                             const std::optional<MixupParams>& mixup) {
  at::Tensor loss = at::cross_entropy_loss(logits, labels);
  if (!mixup.has_value()) return loss;
  at::Tensor other = at::cross_entropy_loss(
      logits, labels.index_select(0, mixup->permutation.to(labels.device())));
  return loss * mixup->lambda + other * (1 - mixup->lambda);
}

absl::StatusOr<StepStats> RunRatStep(torch::jit::Module& model,
                                     const std::vector<at::Tensor>& parameters,
                                     const at::Tensor& images,
                                     const at::Tensor& labels,
                                     const RatStepOptions& options,
                                     const std::optional<MixupParams>& mixup) {
  RAT_RETURN_IF_ERROR(CheckBatch(images, labels));
  // CallTorch wraps the step's own StatusOr in a second one for exceptions.
  RAT_ASSIGN_OR_RETURN(
      absl::StatusOr<StepStats> stats,
      CallTorch(absl::StrCat("training step on images ", ShapeString(images)),
                [&]() {
                  return RunStepUnchecked(model, parameters, images, labels,
                                          options, mixup);
                }));
  return stats;
}

std::vector<at::Tensor> TrainableParameters(torch::jit::Module& model) {
  std::vector<at::Tensor> parameters;
  for (at::Tensor parameter : model.parameters(/*recurse=*/true)) {
    parameter.requires_grad_(true);
    parameters.push_back(parameter);
  }
  return parameters;
}

}  // namespace rat
