#include "client/predict_command.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli.h"
#include "client/image_input.h"
#include "client/score_names.h"
#include "core/common/status_macros.h"

namespace rat::client {
namespace {

absl::StatusOr<rat::v1::PredictRequest> BuildRequest(
    const PredictOptions& options) {
  rat::v1::PredictRequest request;
  request.set_model(options.model);
  request.set_top_k(options.top_k);
  RAT_ASSIGN_OR_RETURN(std::vector<rat::v1::ScoreType> scores,
                       ParseScoreList(options.scores));
  for (rat::v1::ScoreType score : scores) request.add_scores(score);
  for (const std::string& file : options.files) {
    RAT_ASSIGN_OR_RETURN(*request.add_images(), ReadImageFile(file));
  }
  return request;
}

std::string DecisionText(const rat::v1::Prediction& prediction) {
  if (!prediction.has_decision()) return "-";
  const rat::v1::Decision& decision = prediction.decision();
  if (decision.score() == rat::v1::SCORE_TYPE_UNSPECIFIED) {
    return decision.accepted() ? "accept" : "reject";
  }
  return absl::StrFormat(
      "%s (%s %.6g %s %.6g)", decision.accepted() ? "accept" : "reject",
      ScoreTypeName(decision.score()), decision.value(),
      decision.accepted() ? ">=" : "<", decision.threshold());
}

void PrintPredictionText(const std::string& file,
                         const rat::v1::Prediction& prediction) {
  std::cout << file << "\n";
  std::cout << absl::StrFormat("  label     %d %s\n", prediction.label(),
                               prediction.label_name());
  for (const rat::v1::ClassProbability& top : prediction.top_k()) {
    std::cout << absl::StrFormat("  top-k     %-4d %-16s %.4f\n", top.index(),
                                 top.name(), top.probability());
  }
  for (const rat::v1::ScoreValue& score : prediction.scores()) {
    std::cout << absl::StrFormat("  score     %-12s %.6g\n",
                                 ScoreTypeName(score.type()), score.value());
  }
  std::cout << "  decision  " << DecisionText(prediction) << "\n";
}

nlohmann::json PredictionJson(const std::string& file,
                              const rat::v1::Prediction& prediction) {
  nlohmann::json json;
  json["file"] = file;
  json["label"] = prediction.label();
  json["label_name"] = prediction.label_name();
  json["top_k"] = nlohmann::json::array();
  for (const rat::v1::ClassProbability& top : prediction.top_k()) {
    json["top_k"].push_back({{"index", top.index()},
                             {"name", top.name()},
                             {"probability", top.probability()}});
  }
  json["scores"] = nlohmann::json::object();
  for (const rat::v1::ScoreValue& score : prediction.scores()) {
    json["scores"][ScoreTypeName(score.type())] = score.value();
  }
  if (prediction.has_decision()) {
    const rat::v1::Decision& decision = prediction.decision();
    json["decision"] = {{"accepted", decision.accepted()},
                        {"score", ScoreTypeName(decision.score())},
                        {"value", decision.value()},
                        {"threshold", decision.threshold()},
                        {"reason", decision.reason()}};
  }
  return json;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, print);
  return json;
}

}  // namespace

int RunPredictCommand(const PredictOptions& options) {
  absl::StatusOr<rat::v1::PredictRequest> request = BuildRequest(options);
  if (!request.ok()) return ReportError(request.status());
  absl::StatusOr<std::unique_ptr<InferenceClient>> client =
      InferenceClient::Create(options.client);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<rat::v1::PredictResponse> response =
      (*client)->Predict(*request);
  if (!response.ok()) return ReportError(response.status());
  if (response->predictions_size() != static_cast<int>(options.files.size())) {
    return ReportError(absl::InternalError(
        absl::StrCat("server returned ", response->predictions_size(),
                     " predictions for ", options.files.size(), " images")));
  }

  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < options.files.size(); ++i) {
    const rat::v1::Prediction& prediction = response->predictions(i);
    if (options.json) {
      all.push_back(PredictionJson(options.files[i], prediction));
    } else {
      PrintPredictionText(options.files[i], prediction);
    }
  }
  if (options.json) std::cout << all.dump(2) << "\n";
  return 0;
}

int RunModelsCommand(const ModelsOptions& options) {
  absl::StatusOr<std::unique_ptr<InferenceClient>> client =
      InferenceClient::Create(options.client);
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<rat::v1::ListModelsResponse> models = (*client)->ListModels();
  if (!models.ok()) return ReportError(models.status());

  std::vector<std::string> cards;
  if (!options.json) {
    std::cout << absl::StrFormat("%-20s %-16s %-10s %-8s %-8s %s\n", "MODEL",
                                 "ARCHITECTURE", "INPUT", "CLASSES", "DEVICE",
                                 "READY");
  }
  for (const rat::v1::ModelSummary& model : models->models()) {
    absl::StatusOr<rat::v1::GetModelResponse> card =
        (*client)->GetModel(model.name());
    if (!card.ok()) return ReportError(card.status());
    if (options.json) {
      cards.push_back(ToJson(*card));
      continue;
    }
    const rat::v1::InputShape& shape = model.input_shape();
    std::cout << absl::StrFormat(
        "%-20s %-16s %-10s %-8d %-8s %s\n", model.name(), model.architecture(),
        absl::StrCat(shape.channels(), "x", shape.height(), "x", shape.width()),
        model.num_classes(), model.device(), model.ready() ? "yes" : "no");
  }
  if (options.json) std::cout << "[" << absl::StrJoin(cards, ",\n") << "]\n";
  return 0;
}

int RunHealthCommand(const HealthOptions& options) {
  absl::StatusOr<std::unique_ptr<InferenceClient>> client =
      InferenceClient::Create(options.client);
  if (!client.ok()) return ReportError(client.status());
  const auto status = (*client)->CheckHealth(options.service);
  if (!status.ok()) return ReportError(status.status());

  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*status);
  const std::string service =
      options.service.empty()
          ? "server"
          : absl::StrCat("service \"", options.service, "\"");
  std::cout << options.client.address << " " << service << ": " << name << "\n";
  return *status == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

void AddPredictCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* predict =
      app.add_subcommand("predict",
                         "Classify image files (PNG, JPEG or .npy) and show "
                         "scores and the decision");
  AddServerFlags(*predict, options->client);
  predict->add_option("--model", options->model, "Model name on the server")
      ->required();
  predict->add_option("--scores", options->scores,
                      "Comma-separated scores from " + KnownScoreNames() +
                          " (default: the model's configured scores)");
  predict
      ->add_option("--top-k", options->top_k, "Number of top classes to show")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  predict->add_flag("--json", options->json, "Print JSON instead of text");
  predict
      ->add_option(
          "files", options->files,
          "Image files: PNG or JPEG (sent encoded), or .npy uint8/float32 "
          "arrays of shape (C, H, W) or (H, W)")
      ->required()
      ->check(CLI::ExistingFile);
  predict->callback(
      [options, &exit_code] { exit_code = RunPredictCommand(*options); });
}

void AddModelsCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ModelsOptions>();
  CLI::App* models =
      app.add_subcommand("models", "List the served models and their cards");
  AddServerFlags(*models, options->client);
  models->add_flag("--json", options->json, "Print every model card as JSON");
  models->callback(
      [options, &exit_code] { exit_code = RunModelsCommand(*options); });
}

void AddHealthCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<HealthOptions>();
  CLI::App* health = app.add_subcommand(
      "health",
      "Check grpc.health.v1; exit 0 only when SERVING (for container probes)");
  AddServerFlags(*health, options->client);
  health->add_option(
      "--service", options->service,
      "Service to check, e.g. a model name (default: the whole server)");
  health->callback(
      [options, &exit_code] { exit_code = RunHealthCommand(*options); });
}

}  // namespace rat::client
