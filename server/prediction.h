// Per-request options of Predict and the conversion of scores into
// Prediction messages.
#ifndef RAT_SERVER_PREDICTION_H_
#define RAT_SERVER_PREDICTION_H_

#include <vector>

#include "absl/status/statusor.h"
#include "core/scores/score_engine.h"
#include "rat/v1/inference.pb.h"
#include "server/batcher.h"
#include "server/served_model.h"
#include "server/server_metrics.h"

namespace rat::server {

struct ResolvedRequest {
  // Scores to compute: the reported ones plus the reject policy's score.
  ScoreRequest score_request;
  // Scores returned to the client, in request order.
  std::vector<ScoreKind> reported;
  int top_k = 1;
  bool return_logits = false;
};

absl::StatusOr<ScoreKind> ScoreKindFromProto(rat::v1::ScoreType type);
rat::v1::ScoreType ScoreKindToProto(ScoreKind kind);

// Resolves scores (request, else the model's default_scores), parameters
// (request options over the model's resolved parameters) and top_k.
// INVALID_ARGUMENT naming the field, e.g. `scores[1]: expected a score type
// other than SCORE_TYPE_UNSPECIFIED` or `top_k: expected a non-negative
// integer, got -1`. A top_k above the class count is lowered to it.
absl::StatusOr<ResolvedRequest> ResolveRequest(
    const rat::v1::PredictRequest& request, const ServedModel& model);

// Appends one Prediction per image of `result` to `response` and records
// predictions, rejections and confidence scores in `metrics`.
void AppendPredictions(const ItemResult& result, const ResolvedRequest& request,
                       const ServedModel& model, const ModelMetrics& metrics,
                       rat::v1::PredictResponse& response);

}  // namespace rat::server

#endif  // RAT_SERVER_PREDICTION_H_
