#include "core/scores/score_engine.h"

#include <torch/cuda.h>

#include <chrono>
#include <set>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/scores/input_gradient.h"
#include "core/scores/logit_scores.h"
#include "core/scores/odin.h"
#include "core/scores/rr_bs.h"
#include "core/scores/rr_fast.h"

namespace rat {
namespace {

using ModuleModes = std::vector<std::pair<torch::jit::Module, bool>>;

std::string ShapeString(const torch::Tensor& tensor) {
  return absl::StrCat("[", absl::StrJoin(tensor.sizes(), ", "), "]");
}

absl::Status ValidateImages(const torch::Tensor& images) {
  if (!images.defined()) {
    return absl::InvalidArgumentError("images tensor is undefined");
  }
  if (images.dim() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "images must be 4-D N x C x H x W, got shape ", ShapeString(images)));
  }
  if (images.scalar_type() != torch::kFloat32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "images must be float32, got ", c10::toString(images.scalar_type())));
  }
  if (images.numel() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "images must be a non-empty batch, got shape ", ShapeString(images)));
  }

  // NaN fails both comparisons, so it is rejected too.
  RAT_ASSIGN_OR_RETURN(
      const auto range, CallTorch("checking the image value range", [&] {
        const auto [min, max] = at::aminmax(images.detach());
        return std::make_pair(min.item<double>(), max.item<double>());
      }));
  if (!(range.first >= 0.0 && range.second <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("images must have pixel values in [0, 1], got min ",
                     range.first, " and max ", range.second));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const torch::Tensor& images,
                             const ScoreRequest& request) {
  if (request.scores.empty()) {
    std::vector<std::string> names;
    for (ScoreKind kind : AllScoreKinds()) names.emplace_back(ScoreName(kind));
    return absl::InvalidArgumentError(
        absl::StrCat("score request lists no scores, expected at least one of ",
                     absl::StrJoin(names, ", ")));
  }
  RAT_RETURN_IF_ERROR(ValidateScoreParams(request.params));
  return ValidateImages(images);
}

absl::Status ValidateLogits(const torch::Tensor& logits,
                            const torch::Tensor& images) {
  if (logits.dim() != 2 || logits.size(0) != images.size(0) ||
      logits.size(1) < 2 || !logits.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model must return N x K floating-point logits with K >= 2 for images "
        "of shape ",
        ShapeString(images), ", got ", c10::toString(logits.scalar_type()),
        " of shape ", ShapeString(logits)));
  }
  return absl::OkStatus();
}

// Switches every submodule that is in training mode to evaluation mode and
// returns the modes to restore. A module already in evaluation mode is not
// written to, so concurrent scoring of an evaluation-mode module is safe.
absl::StatusOr<ModuleModes> EnterEvalMode(torch::jit::Module& model) {
  return CallTorch("switching the model to evaluation mode", [&] {
    ModuleModes changed;
    for (torch::jit::Module module : model.modules()) {
      if (module.hasattr("training") && module.is_training()) {
        module.setattr("training", false);
        changed.emplace_back(module, true);
      }
    }
    return changed;
  });
}

void RestoreModes(ModuleModes& modes) {
  for (auto& [module, training] : modes) module.setattr("training", training);
}

// Seconds since `start`, after waiting for queued CUDA work of `device`.
double SecondsSince(std::chrono::steady_clock::time_point start,
                    const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// Runs the clean forward pass. The images are the only input that changes
// between calls on a loaded model, so a failing pass (wrong channel count or
// size) is reported as INVALID_ARGUMENT, except when memory ran out.
absl::StatusOr<CleanForward> RunCheckedCleanForward(torch::jit::Module& model,
                                                    const torch::Tensor& images,
                                                    const std::string& shape,
                                                    bool with_graph) {
  absl::StatusOr<CleanForward> clean =
      CallTorch(absl::StrCat("forward pass on images of shape ", shape),
                [&] { return RunCleanForward(model, images, with_graph); });
  if (clean.ok() || clean.status().code() != absl::StatusCode::kInternal ||
      absl::StrContains(clean.status().message(), "out of memory")) {
    return clean;
  }
  return absl::InvalidArgumentError(clean.status().message());
}

// Temperatures at which the requested gradient scores need the confidence
// gradient; one input-only backward pass runs per distinct value.
std::set<double> GradientTemperatures(const std::set<ScoreKind>& kinds,
                                      const ScoreParams& params) {
  std::set<double> temperatures;
  for (ScoreKind kind : kinds) {
    if (!NeedsInputGradient(kind, params.odin_epsilon)) continue;
    if (kind == ScoreKind::kOdin) temperatures.insert(params.odin_temperature);
    if (kind == ScoreKind::kRrFast) {
      temperatures.insert(params.rr_fast_temperature);
    }
    if (kind == ScoreKind::kRrBs) temperatures.insert(params.rr_bs_temperature);
  }
  return temperatures;
}

}  // namespace

namespace {

OdinOptions OdinOptionsFrom(const ScoreParams& params) {
  OdinOptions options;
  options.temperature = params.odin_temperature;
  options.epsilon = params.odin_epsilon;
  return options;
}

RrFastOptions RrFastOptionsFrom(const ScoreParams& params) {
  RrFastOptions options;
  options.step = params.rr_fast_step;
  options.max_radius = params.rr_fast_max_radius;
  return options;
}

RrBsOptions RrBsOptionsFrom(const ScoreParams& params) {
  RrBsOptions options;
  options.temperature = params.rr_bs_temperature;
  options.initial_epsilon = params.rr_bs_initial_epsilon;
  options.max_iterations = params.rr_bs_max_iterations;
  options.rel_tol = params.rr_bs_rel_tol;
  options.pgd_steps = params.rr_bs_pgd_steps;
  return options;
}

// Computes one score from the clean pass and the shared gradient signs.
torch::Tensor ComputeFromPasses(torch::jit::Module& model, ScoreKind kind,
                                const CleanForward& clean,
                                const std::map<double, torch::Tensor>& signs,
                                const ScoreParams& params,
                                ScoreResult& result) {
  switch (kind) {
    case ScoreKind::kOdin:
      if (params.odin_epsilon == 0.0) break;
      return ComputePerturbedOdin(model, clean.input,
                                  signs.at(params.odin_temperature),
                                  OdinOptionsFrom(params));
    case ScoreKind::kRrFast:
      return ComputeRrFast(model, clean.input, clean.logits, clean.predictions,
                           signs.at(params.rr_fast_temperature),
                           RrFastOptionsFrom(params));
    case ScoreKind::kRrBs: {
      RrBsResult search = ComputeRrBs(model, clean.input, clean.predictions,
                                      signs.at(params.rr_bs_temperature),
                                      RrBsOptionsFrom(params));
      result.rr_bs_forwards = search.forwards.cpu();
      return search.radius;
    }
    default:
      break;
  }
  return ComputeLogitScore(kind, clean.logits.detach(), params);
}

// Runs the input-only backward pass once per temperature and returns the
// confidence gradient sign at each.
std::map<double, torch::Tensor> ComputeGradientSigns(
    const CleanForward& clean, const std::set<double>& temperatures) {
  std::map<double, torch::Tensor> signs;
  size_t remaining = temperatures.size();
  for (double temperature : temperatures) {
    --remaining;
    signs[temperature] =
        ConfidenceGradientSign(clean.input, clean.logits, clean.predictions,
                               temperature, /*retain_graph=*/remaining > 0);
  }
  return signs;
}

}  // namespace

absl::StatusOr<ScoreResult> ScoreEngine::Score(torch::jit::Module& model,
                                               const torch::Tensor& images,
                                               const ScoreRequest& request) {
  RAT_RETURN_IF_ERROR(ValidateRequest(images, request));
  const std::set<ScoreKind> kinds(request.scores.begin(), request.scores.end());
  const std::set<double> temperatures =
      GradientTemperatures(kinds, request.params);
  const torch::Device device = images.device();
  const std::string shape = ShapeString(images);

  RAT_ASSIGN_OR_RETURN(ModuleModes modes, EnterEvalMode(model));
  absl::Cleanup restore_modes = [&modes] { RestoreModes(modes); };
  ScoreResult result;

  auto start = std::chrono::steady_clock::now();
  RAT_ASSIGN_OR_RETURN(
      CleanForward clean,
      RunCheckedCleanForward(model, images, shape, !temperatures.empty()));
  RAT_RETURN_IF_ERROR(ValidateLogits(clean.logits, images));
  result.forward_seconds = SecondsSince(start, device);

  start = std::chrono::steady_clock::now();
  RAT_ASSIGN_OR_RETURN(
      const auto signs,
      CallTorch(absl::StrCat("input gradient for images of shape ", shape),
                [&] { return ComputeGradientSigns(clean, temperatures); }));
  result.backward_seconds = SecondsSince(start, device);

  start = std::chrono::steady_clock::now();
  for (ScoreKind kind : kinds) {
    RAT_ASSIGN_OR_RETURN(
        result.scores[kind],
        CallTorch(absl::StrCat("score \"", ScoreName(kind),
                               "\" for images of shape ", shape),
                  [&] {
                    return ComputeFromPasses(model, kind, clean, signs,
                                             request.params, result)
                        .to(torch::kCPU, torch::kFloat64);
                  }));
  }
  result.extra_seconds = SecondsSince(start, device);

  RAT_RETURN_IF_ERROR(CallTorch("copying logits to the CPU", [&] {
    result.logits = clean.logits.detach().to(torch::kCPU, torch::kFloat32);
    result.predictions = clean.predictions.to(torch::kCPU);
  }));
  return result;
}

absl::StatusOr<torch::Tensor> ComputeScore(torch::jit::Module& model,
                                           const torch::Tensor& images,
                                           ScoreKind kind,
                                           const ScoreParams& params) {
  ScoreRequest request;
  request.scores = {kind};
  request.params = params;
  RAT_ASSIGN_OR_RETURN(ScoreResult result,
                       ScoreEngine::Score(model, images, request));
  return result.scores.at(kind);
}

}  // namespace rat
