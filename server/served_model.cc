#include "server/served_model.h"

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/models/bundle.h"
#include "core/models/freeze.h"
#include "core/scores/score_engine.h"
#include "spdlog/spdlog.h"

namespace rat::server {
namespace {

absl::Status ModelError(const ModelConfig& config, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(
      "model \"", config.name, "\" (", config.path, "): ", problem));
}

// Calibrated values of zero mean "not tuned": temperatures must be > 0.
ScoreParams ResolveParams(const rat::v1::ModelCard& card,
                          const ScoreParamsConfig& overrides) {
  ScoreParams params;
  const rat::v1::Calibration& calibration = card.calibration();
  if (calibration.odin_temperature() > 0) {
    params.odin_temperature = calibration.odin_temperature();
    params.odin_epsilon = calibration.odin_epsilon();
  }
  if (calibration.rr_fast_temperature() > 0) {
    params.rr_fast_temperature = calibration.rr_fast_temperature();
  }
  if (calibration.rr_bs_temperature() > 0) {
    params.rr_bs_temperature = calibration.rr_bs_temperature();
  }

  params.odin_temperature =
      overrides.odin_temperature.value_or(params.odin_temperature);
  params.odin_epsilon = overrides.odin_epsilon.value_or(params.odin_epsilon);
  params.rr_fast_temperature =
      overrides.rr_fast_temperature.value_or(params.rr_fast_temperature);
  params.rr_fast_step = overrides.rr_fast_step.value_or(params.rr_fast_step);
  params.rr_bs_temperature =
      overrides.rr_bs_temperature.value_or(params.rr_bs_temperature);
  params.rr_bs_max_iterations =
      overrides.rr_bs_max_iterations.value_or(params.rr_bs_max_iterations);
  params.rr_bs_rel_tol = overrides.rr_bs_rel_tol.value_or(params.rr_bs_rel_tol);
  params.doctor_temperature =
      overrides.doctor_temperature.value_or(params.doctor_temperature);
  params.energy_temperature =
      overrides.energy_temperature.value_or(params.energy_temperature);
  return params;
}

// The configuration's policy wins field by field; a threshold is only taken
// from the card when the card's score is the one that decides.
absl::StatusOr<std::optional<RejectPolicy>> ResolveReject(
    const ModelConfig& config, const rat::v1::ModelCard& card) {
  const rat::v1::RejectPolicy& calibrated = card.calibration().reject();
  std::optional<ScoreKind> card_score;
  if (!calibrated.score().empty()) {
    absl::StatusOr<ScoreKind> kind = ParseScoreKind(calibrated.score());
    if (!kind.ok()) {
      return ModelError(config, absl::StrCat("card calibration.reject.score: ",
                                             kind.status().message()));
    }
    card_score = *kind;
  }

  const std::optional<ScoreKind> score =
      config.reject.score.has_value() ? config.reject.score : card_score;
  if (!score.has_value()) {
    if (config.reject.threshold.has_value()) {
      return ModelError(config,
                        "reject.threshold is set but neither reject.score nor "
                        "the card's calibration names a score");
    }
    return std::optional<RejectPolicy>();
  }
  RejectPolicy policy;
  policy.score = *score;
  if (config.reject.threshold.has_value()) {
    policy.threshold = *config.reject.threshold;
  } else if (card_score == score) {
    policy.threshold = calibrated.threshold();
  } else {
    return ModelError(config, absl::StrCat("reject.score \"", ScoreName(*score),
                                           "\" needs reject.threshold: the "
                                           "card has no threshold for it"));
  }
  return std::optional<RejectPolicy>(policy);
}

absl::Status ReadShape(ServedModel& model) {
  const rat::v1::InputShape& shape = model.card.input_shape();
  if (shape.channels() <= 0 || shape.height() <= 0 || shape.width() <= 0) {
    return ModelError(model.config,
                      absl::StrCat("card input_shape must be positive, got ",
                                   shape.channels(), "x", shape.height(), "x",
                                   shape.width()));
  }
  model.shape = {shape.channels(), shape.height(), shape.width()};
  return absl::OkStatus();
}

// One forward plus the default scores on a blank image, so the first request
// does not pay for LibTorch's lazy initialization; it also reveals K.
absl::Status WarmUp(ServedModel& model) {
  ScoreRequest request;
  request.scores = model.config.default_scores;
  if (model.reject.has_value()) request.scores.push_back(model.reject->score);
  request.params = model.params;

  RAT_ASSIGN_OR_RETURN(
      torch::Tensor images, CallTorch("allocating the warm-up batch", [&] {
        return torch::full(
            {1, model.shape.channels, model.shape.height, model.shape.width},
            0.5f, torch::TensorOptions().device(model.config.device));
      }));
  absl::StatusOr<ScoreResult> result =
      ScoreEngine::Score(model.module, images, request);
  if (!result.ok()) {
    return ModelError(model.config, absl::StrCat("warm-up failed: ",
                                                 result.status().message()));
  }
  if (result->logits.dim() != 2 || result->logits.size(0) != 1) {
    return ModelError(model.config, "forward must return N x K logits");
  }
  model.num_classes = result->logits.size(1);
  return absl::OkStatus();
}

absl::Status ReadClassNames(ServedModel& model) {
  const auto& names = model.card.class_names();
  if (names.empty()) {
    for (int64_t k = 0; k < model.num_classes; ++k) {
      model.class_names.push_back(absl::StrCat(k));
    }
    return absl::OkStatus();
  }
  if (names.size() != model.num_classes) {
    return ModelError(model.config,
                      absl::StrCat("card lists ", names.size(),
                                   " class names, the model returns ",
                                   model.num_classes, " logits"));
  }
  model.class_names.assign(names.begin(), names.end());
  return absl::OkStatus();
}

// Freezes the module when the configuration requests it. A module that cannot
// be frozen is still served, unfrozen: it computes the same scores, only
// slower, so refusing to start would cost the user more than it saves.
// NOTE: no test reaches the fallback; the only freeze failure found (a
// module without forward) also fails the warm-up that follows.
void FreezeIfConfigured(ServedModel& model) {
  if (!model.config.freeze) return;
  absl::StatusOr<torch::jit::Module> frozen = FreezeForServing(model.module);
  if (!frozen.ok()) {
    spdlog::warn(
        "model \"{}\": freezing failed, serving it unfrozen (set freeze: "
        "false to skip the attempt): {}",
        model.config.name, std::string(frozen.status().message()));
    return;
  }
  model.module = *std::move(frozen);
  model.frozen = true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServedModel>> LoadServedModel(
    const ModelConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Bundle> bundle = LoadBundle(config.path, config.device);
  if (!bundle.ok()) {
    return absl::Status(bundle.status().code(),
                        absl::StrCat("model \"", config.name,
                                     "\": ", bundle.status().message()));
  }

  auto model = std::make_unique<ServedModel>();
  model->config = config;
  model->module = std::move(bundle->module);
  model->card = std::move(bundle->card);
  FreezeIfConfigured(*model);
  RAT_RETURN_IF_ERROR(ReadShape(*model));
  model->params = ResolveParams(model->card, config.score_params);
  absl::Status params = ValidateScoreParams(model->params);
  if (!params.ok()) return ModelError(config, params.message());
  RAT_ASSIGN_OR_RETURN(model->reject, ResolveReject(config, model->card));

  RAT_RETURN_IF_ERROR(WarmUp(*model));
  RAT_RETURN_IF_ERROR(ReadClassNames(*model));
  model->load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return model;
}

}  // namespace rat::server
