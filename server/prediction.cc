#include "server/prediction.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rat::server {
namespace {

struct KindMapping {
  rat::v1::ScoreType type;
  ScoreKind kind;
};

constexpr KindMapping kKinds[] = {
    {rat::v1::SCORE_TYPE_MSR, ScoreKind::kMsr},
    {rat::v1::SCORE_TYPE_ODIN, ScoreKind::kOdin},
    {rat::v1::SCORE_TYPE_RR_FAST, ScoreKind::kRrFast},
    {rat::v1::SCORE_TYPE_RR_BS, ScoreKind::kRrBs},
    {rat::v1::SCORE_TYPE_MLS, ScoreKind::kMls},
    {rat::v1::SCORE_TYPE_NEG_ENTROPY, ScoreKind::kNegEntropy},
    {rat::v1::SCORE_TYPE_MARGIN, ScoreKind::kMargin},
    {rat::v1::SCORE_TYPE_DOCTOR, ScoreKind::kDoctor},
    {rat::v1::SCORE_TYPE_ENERGY, ScoreKind::kEnergy},
};

// Checks an optional temperature (> 0) or epsilon (>= 0) of ScoreOptions.
absl::Status ApplyOption(bool present, double value, const char* name,
                         bool positive, double& target) {
  if (!present) return absl::OkStatus();
  const bool valid =
      std::isfinite(value) && (positive ? value > 0 : value >= 0);
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.", name, ": expected a finite value ",
                     positive ? "> 0" : ">= 0", ", got ", value));
  }
  target = value;
  return absl::OkStatus();
}

absl::Status ApplyOptions(const rat::v1::ScoreOptions& options,
                          ScoreParams& params) {
  absl::Status status =
      ApplyOption(options.has_odin_temperature(), options.odin_temperature(),
                  "odin_temperature", true, params.odin_temperature);
  if (status.ok()) {
    status = ApplyOption(options.has_odin_epsilon(), options.odin_epsilon(),
                         "odin_epsilon", false, params.odin_epsilon);
  }
  if (status.ok()) {
    status = ApplyOption(options.has_rr_fast_temperature(),
                         options.rr_fast_temperature(), "rr_fast_temperature",
                         true, params.rr_fast_temperature);
  }
  if (status.ok()) {
    status = ApplyOption(options.has_rr_bs_temperature(),
                         options.rr_bs_temperature(), "rr_bs_temperature", true,
                         params.rr_bs_temperature);
  }
  if (status.ok()) {
    status = ApplyOption(options.has_doctor_temperature(),
                         options.doctor_temperature(), "doctor_temperature",
                         true, params.doctor_temperature);
  }
  if (status.ok()) {
    status = ApplyOption(options.has_energy_temperature(),
                         options.energy_temperature(), "energy_temperature",
                         true, params.energy_temperature);
  }
  return status;
}

// Score values of one kind as a CPU float64 accessor-friendly tensor.
torch::Tensor ScoreColumn(const ItemResult& result, ScoreKind kind) {
  return result.scores.at(kind).to(torch::kCPU, torch::kFloat64).contiguous();
}

void Decide(double value, const RejectPolicy& policy,
            const ModelMetrics& metrics, rat::v1::Decision& decision) {
  const bool accepted = value >= policy.threshold;
  decision.set_accepted(accepted);
  decision.set_score(ScoreKindToProto(policy.score));
  decision.set_value(value);
  decision.set_threshold(policy.threshold);
  decision.set_reason(absl::StrFormat(
      "%s: %s %.6g %s threshold %.6g", accepted ? "accepted" : "rejected",
      ScoreName(policy.score), value, accepted ? ">=" : "<", policy.threshold));
  if (!accepted) metrics.rejections.at(policy.score)->Increment();
}

}  // namespace

absl::StatusOr<ScoreKind> ScoreKindFromProto(rat::v1::ScoreType type) {
  for (const KindMapping& mapping : kKinds) {
    if (mapping.type == type) return mapping.kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "expected a score type other than ", rat::v1::ScoreType_Name(type)));
}

rat::v1::ScoreType ScoreKindToProto(ScoreKind kind) {
  for (const KindMapping& mapping : kKinds) {
    if (mapping.kind == kind) return mapping.type;
  }
  return rat::v1::SCORE_TYPE_UNSPECIFIED;
}

absl::StatusOr<ResolvedRequest> ResolveRequest(
    const rat::v1::PredictRequest& request, const ServedModel& model) {
  ResolvedRequest resolved;
  for (int i = 0; i < request.scores_size(); ++i) {
    // Unknown enum numbers arrive as plain integers in proto3.
    absl::StatusOr<ScoreKind> kind =
        ScoreKindFromProto(static_cast<rat::v1::ScoreType>(request.scores(i)));
    if (!kind.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("scores[", i, "]: ", kind.status().message(), " (value ",
                       request.scores(i), ")"));
    }
    resolved.reported.push_back(*kind);
  }
  if (resolved.reported.empty())
    resolved.reported = model.config.default_scores;

  resolved.score_request.scores = resolved.reported;
  if (model.reject.has_value()) {
    resolved.score_request.scores.push_back(model.reject->score);
  }
  resolved.score_request.params = model.params;
  absl::Status options =
      ApplyOptions(request.options(), resolved.score_request.params);
  if (!options.ok()) return options;

  if (request.top_k() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "top_k: expected a non-negative integer, got ", request.top_k()));
  }
  // A top_k above the class count returns every class, so a client can ask
  // for its usual top 3 from a two-class model.
  resolved.top_k = static_cast<int>(
      std::clamp<int64_t>(request.top_k(), 1, model.num_classes));
  resolved.return_logits = request.return_logits();
  return resolved;
}

void AppendPredictions(const ItemResult& result, const ResolvedRequest& request,
                       const ServedModel& model, const ModelMetrics& metrics,
                       rat::v1::PredictResponse& response) {
  const torch::Tensor logits =
      result.logits.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto [top_values, top_indices] =
      torch::softmax(logits.to(torch::kFloat64), 1).topk(request.top_k, 1);
  const auto top_value = top_values.accessor<double, 2>();
  const auto top_index = top_indices.accessor<int64_t, 2>();
  const torch::Tensor labels =
      result.predictions.to(torch::kCPU, torch::kInt64).contiguous();
  const auto label = labels.accessor<int64_t, 1>();
  std::vector<torch::Tensor> columns;
  for (ScoreKind kind : request.reported) {
    columns.push_back(ScoreColumn(result, kind));
  }
  torch::Tensor reject_column;
  if (model.reject.has_value()) {
    reject_column = ScoreColumn(result, model.reject->score);
  }

  const int64_t count = logits.size(0);
  for (int64_t i = 0; i < count; ++i) {
    rat::v1::Prediction* prediction = response.add_predictions();
    prediction->set_label(static_cast<int32_t>(label[i]));
    prediction->set_label_name(model.class_names[label[i]]);
    for (int j = 0; j < request.top_k; ++j) {
      rat::v1::ClassProbability* entry = prediction->add_top_k();
      entry->set_index(static_cast<int32_t>(top_index[i][j]));
      entry->set_name(model.class_names[top_index[i][j]]);
      entry->set_probability(static_cast<float>(top_value[i][j]));
    }

    for (size_t s = 0; s < columns.size(); ++s) {
      const double value = columns[s].data_ptr<double>()[i];
      rat::v1::ScoreValue* score = prediction->add_scores();
      score->set_type(ScoreKindToProto(request.reported[s]));
      score->set_value(value);
      metrics.confidence.at(request.reported[s])->Observe(value);
    }

    rat::v1::Decision* decision = prediction->mutable_decision();
    if (model.reject.has_value()) {
      Decide(reject_column.data_ptr<double>()[i], *model.reject, metrics,
             *decision);
    } else {
      decision->set_accepted(true);
      decision->set_reason("accepted: no reject policy is configured");
    }

    if (request.return_logits) {
      const float* row = logits.data_ptr<float>() + i * logits.size(1);
      prediction->mutable_logits()->Add(row, row + logits.size(1));
    }
  }
  metrics.predictions->Increment(static_cast<double>(count));
}

}  // namespace rat::server
