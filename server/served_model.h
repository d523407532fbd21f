// A model bundle loaded for serving, with its resolved score parameters and
// reject policy.
#ifndef RAT_SERVER_SERVED_MODEL_H_
#define RAT_SERVER_SERVED_MODEL_H_

#include <torch/script.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/scores/score_types.h"
#include "rat/v1/model_card.pb.h"
#include "server/config.h"
#include "server/validation.h"

namespace rat::server {

// Accept a prediction when `score` >= `threshold`.
struct RejectPolicy {
  ScoreKind score = ScoreKind::kMsr;
  double threshold = 0.0;
};

// Immutable after LoadServedModel returns, except `module`, which only the
// model's batcher thread uses.
struct ServedModel {
  ModelConfig config;
  torch::jit::Module module;
  // True when `module` is the frozen copy of the bundle's module.
  bool frozen = false;
  rat::v1::ModelCard card;
  InputShape shape;
  int64_t num_classes = 0;
  // One name per class; the card's names, or the class indices as text when
  // the card lists none.
  std::vector<std::string> class_names;
  // rat::ScoreParams defaults, overridden by the card's calibration, then by
  // the configuration's score_params.
  ScoreParams params;
  // From the configuration, else from the card; none means accept all.
  std::optional<RejectPolicy> reject;
  // Wall time of loading plus warm-up (seconds).
  double load_seconds = 0.0;
};

// Loads the bundle at config.path onto config.device, resolves parameters and
// reject policy, and warms the model up with one forward and the default
// scores on a dummy image. Errors name the model and the problem: the
// bundle's load error, a card without an input shape, class names that do
// not match the logits, or a reject policy with a missing score or
// threshold.
absl::StatusOr<std::unique_ptr<ServedModel>> LoadServedModel(
    const ModelConfig& config);

}  // namespace rat::server

#endif  // RAT_SERVER_SERVED_MODEL_H_
