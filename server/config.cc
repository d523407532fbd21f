#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"

namespace rat::server {
namespace {

constexpr int kMaxBatchSize = 4096;
constexpr int64_t kMaxQueueDelayUs = 10'000'000;
constexpr int kMaxQueueSize = 1'000'000;
constexpr int kMaxThreads = 1024;

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

// Describes a node for "got ..." in error messages.
std::string Describe(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  if (node.IsScalar()) return absl::StrCat("\"", node.Scalar(), "\"");
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "nothing";
}

absl::Status Invalid(const std::string& path, const std::string& expected,
                     const YAML::Node& node) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": expected ", expected, ", got ", Describe(node)));
}

// Rejects keys of `map` outside `allowed`, so a typo never goes unnoticed.
absl::Status CheckKeys(const YAML::Node& map, const std::string& path,
                       std::initializer_list<const char*> allowed) {
  if (!map.IsMap())
    return Invalid(path.empty() ? "<root>" : path, "a map", map);
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat(Child(path, key), ": unknown key; allowed keys are ",
                       absl::StrJoin(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadString(const YAML::Node& node,
                                       const std::string& path) {
  if (!node.IsScalar()) return Invalid(path, "a string", node);
  return node.Scalar();
}

absl::StatusOr<bool> ReadBool(const YAML::Node& node, const std::string& path) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return Invalid(path, "true or false", node);
  }
  return value;
}

absl::StatusOr<int64_t> ReadInt(const YAML::Node& node, const std::string& path,
                                int64_t min, int64_t max) {
  const std::string expected =
      absl::StrCat("an integer in [", min, ", ", max, "]");
  int64_t value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &value) ||
      value < min || value > max) {
    return Invalid(path, expected, node);
  }
  return value;
}

// Reads a finite number >= min (> min when `exclusive`).
absl::StatusOr<double> ReadDouble(const YAML::Node& node,
                                  const std::string& path, double min,
                                  bool exclusive) {
  const std::string expected =
      absl::StrCat("a finite number ", exclusive ? "> " : ">= ", min);
  double value = 0;
  if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &value) ||
      !std::isfinite(value) || value < min || (exclusive && value == min)) {
    return Invalid(path, expected, node);
  }
  return value;
}

absl::StatusOr<ScoreKind> ReadScore(const YAML::Node& node,
                                    const std::string& path) {
  RAT_ASSIGN_OR_RETURN(std::string name, ReadString(node, path));
  absl::StatusOr<ScoreKind> kind = ParseScoreKind(name);
  if (!kind.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", kind.status().message()));
  }
  return *kind;
}

absl::Status ParseBatching(const YAML::Node& node, const std::string& path,
                           BatchingConfig& batching) {
  RAT_RETURN_IF_ERROR(CheckKeys(
      node, path, {"max_batch_size", "max_queue_delay_us", "max_queue_size"}));
  if (node["max_batch_size"]) {
    RAT_ASSIGN_OR_RETURN(
        batching.max_batch_size,
        ReadInt(node["max_batch_size"], Child(path, "max_batch_size"), 1,
                kMaxBatchSize));
  }
  if (node["max_queue_delay_us"]) {
    RAT_ASSIGN_OR_RETURN(
        batching.max_queue_delay_us,
        ReadInt(node["max_queue_delay_us"], Child(path, "max_queue_delay_us"),
                0, kMaxQueueDelayUs));
  }
  if (node["max_queue_size"]) {
    RAT_ASSIGN_OR_RETURN(
        batching.max_queue_size,
        ReadInt(node["max_queue_size"], Child(path, "max_queue_size"), 1,
                kMaxQueueSize));
  }
  return absl::OkStatus();
}

// Sets `field` from node[key] when present. Temperatures must be > 0,
// epsilons and tolerances >= 0.
absl::Status ReadOptionalDouble(const YAML::Node& node, const std::string& path,
                                const char* key, bool positive,
                                std::optional<double>& field) {
  if (!node[key]) return absl::OkStatus();
  RAT_ASSIGN_OR_RETURN(field,
                       ReadDouble(node[key], Child(path, key), 0.0, positive));
  return absl::OkStatus();
}

absl::Status ParseScoreParams(const YAML::Node& node, const std::string& path,
                              ScoreParamsConfig& params) {
  RAT_RETURN_IF_ERROR(
      CheckKeys(node, path,
                {"odin_temperature", "odin_epsilon", "rr_fast_temperature",
                 "rr_fast_step", "rr_bs_temperature", "rr_bs_max_iterations",
                 "rr_bs_rel_tol", "doctor_temperature", "energy_temperature"}));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "odin_temperature", true,
                                         params.odin_temperature));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "odin_epsilon", false,
                                         params.odin_epsilon));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "rr_fast_temperature",
                                         true, params.rr_fast_temperature));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "rr_fast_step", true,
                                         params.rr_fast_step));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "rr_bs_temperature", true,
                                         params.rr_bs_temperature));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "rr_bs_rel_tol", false,
                                         params.rr_bs_rel_tol));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "doctor_temperature", true,
                                         params.doctor_temperature));
  RAT_RETURN_IF_ERROR(ReadOptionalDouble(node, path, "energy_temperature", true,
                                         params.energy_temperature));
  if (node["rr_bs_max_iterations"]) {
    RAT_ASSIGN_OR_RETURN(params.rr_bs_max_iterations,
                         ReadInt(node["rr_bs_max_iterations"],
                                 Child(path, "rr_bs_max_iterations"), 1, 64));
  }
  return absl::OkStatus();
}

absl::Status ParseReject(const YAML::Node& node, const std::string& path,
                         RejectConfig& reject) {
  RAT_RETURN_IF_ERROR(CheckKeys(node, path, {"score", "threshold"}));
  if (node["score"]) {
    RAT_ASSIGN_OR_RETURN(reject.score,
                         ReadScore(node["score"], Child(path, "score")));
  }
  if (node["threshold"]) {
    double threshold = 0;
    const YAML::Node& value = node["threshold"];
    if (!value.IsScalar() || !absl::SimpleAtod(value.Scalar(), &threshold) ||
        !std::isfinite(threshold)) {
      return Invalid(Child(path, "threshold"), "a finite number", value);
    }
    reject.threshold = threshold;
  }
  return absl::OkStatus();
}

absl::Status ParseDefaultScores(const YAML::Node& node, const std::string& path,
                                std::vector<ScoreKind>& scores) {
  if (!node.IsSequence() || node.size() == 0) {
    return Invalid(path, "a non-empty list of score names", node);
  }
  scores.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    RAT_ASSIGN_OR_RETURN(ScoreKind kind,
                         ReadScore(node[i], absl::StrCat(path, "[", i, "]")));
    scores.push_back(kind);
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseModel(const YAML::Node& node,
                                       const std::string& path) {
  RAT_RETURN_IF_ERROR(CheckKeys(node, path,
                                {"name", "path", "device", "freeze", "batching",
                                 "default_scores", "score_params", "reject"}));
  ModelConfig model;
  if (!node["name"])
    return Invalid(Child(path, "name"), "a model name", node["name"]);
  if (!node["path"])
    return Invalid(Child(path, "path"), "a bundle path", node["path"]);
  RAT_ASSIGN_OR_RETURN(model.name,
                       ReadString(node["name"], Child(path, "name")));
  RAT_ASSIGN_OR_RETURN(model.path,
                       ReadString(node["path"], Child(path, "path")));
  if (node["device"]) {
    RAT_ASSIGN_OR_RETURN(model.device,
                         ReadString(node["device"], Child(path, "device")));
  }
  if (node["freeze"]) {
    RAT_ASSIGN_OR_RETURN(model.freeze,
                         ReadBool(node["freeze"], Child(path, "freeze")));
  }
  if (node["batching"]) {
    RAT_RETURN_IF_ERROR(ParseBatching(node["batching"], Child(path, "batching"),
                                      model.batching));
  }
  if (node["default_scores"]) {
    RAT_RETURN_IF_ERROR(ParseDefaultScores(node["default_scores"],
                                           Child(path, "default_scores"),
                                           model.default_scores));
  }
  if (node["score_params"]) {
    RAT_RETURN_IF_ERROR(ParseScoreParams(
        node["score_params"], Child(path, "score_params"), model.score_params));
  }
  if (node["reject"]) {
    RAT_RETURN_IF_ERROR(
        ParseReject(node["reject"], Child(path, "reject"), model.reject));
  }
  return model;
}

absl::Status ParseThreads(const YAML::Node& node, ServerConfig& config) {
  RAT_RETURN_IF_ERROR(CheckKeys(node, "threads", {"grpc", "torch_intra_op"}));
  if (node["grpc"]) {
    RAT_ASSIGN_OR_RETURN(config.grpc_threads,
                         ReadInt(node["grpc"], "threads.grpc", 0, kMaxThreads));
  }
  if (node["torch_intra_op"]) {
    RAT_ASSIGN_OR_RETURN(config.torch_intra_op_threads,
                         ReadInt(node["torch_intra_op"],
                                 "threads.torch_intra_op", 0, kMaxThreads));
  }
  return absl::OkStatus();
}

absl::Status ParseLimits(const YAML::Node& node, LimitsConfig& limits) {
  RAT_RETURN_IF_ERROR(CheckKeys(
      node, "limits", {"max_message_bytes", "max_images_per_request"}));
  if (node["max_message_bytes"]) {
    RAT_ASSIGN_OR_RETURN(limits.max_message_bytes,
                         ReadInt(node["max_message_bytes"],
                                 "limits.max_message_bytes", 1024, INT32_MAX));
  }
  if (node["max_images_per_request"]) {
    RAT_ASSIGN_OR_RETURN(
        limits.max_images_per_request,
        ReadInt(node["max_images_per_request"], "limits.max_images_per_request",
                1, 1'000'000));
  }
  return absl::OkStatus();
}

absl::Status ParseLogLevel(const YAML::Node& node, std::string& level) {
  RAT_ASSIGN_OR_RETURN(level, ReadString(node, "log_level"));
  for (const char* allowed :
       {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (level == allowed) return absl::OkStatus();
  }
  return Invalid("log_level",
                 "one of trace, debug, info, warn, error, critical, off", node);
}

absl::StatusOr<ServerConfig> ParseRoot(const YAML::Node& root) {
  RAT_RETURN_IF_ERROR(
      CheckKeys(root, "",
                {"listen", "metrics_listen", "threads",
                 "shutdown_grace_seconds", "log_level", "models", "limits"}));
  ServerConfig config;
  if (root["listen"]) {
    RAT_ASSIGN_OR_RETURN(config.listen, ReadString(root["listen"], "listen"));
  }
  if (root["metrics_listen"]) {
    RAT_ASSIGN_OR_RETURN(config.metrics_listen,
                         ReadString(root["metrics_listen"], "metrics_listen"));
  }
  if (root["threads"])
    RAT_RETURN_IF_ERROR(ParseThreads(root["threads"], config));
  if (root["shutdown_grace_seconds"]) {
    RAT_ASSIGN_OR_RETURN(config.shutdown_grace_seconds,
                         ReadDouble(root["shutdown_grace_seconds"],
                                    "shutdown_grace_seconds", 0.0, false));
  }
  if (root["log_level"]) {
    RAT_RETURN_IF_ERROR(ParseLogLevel(root["log_level"], config.log_level));
  }
  if (root["limits"])
    RAT_RETURN_IF_ERROR(ParseLimits(root["limits"], config.limits));

  const YAML::Node& models = root["models"];
  if (!models || !models.IsSequence() || models.size() == 0) {
    return Invalid("models", "a non-empty list of models", models);
  }
  for (size_t i = 0; i < models.size(); ++i) {
    RAT_ASSIGN_OR_RETURN(
        ModelConfig model,
        ParseModel(models[i], absl::StrCat("models[", i, "]")));
    config.models.push_back(std::move(model));
  }
  RAT_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

bool IsValidDevice(const std::string& device) {
  if (device == "cpu") return true;
  int index = 0;
  return absl::StartsWith(device, "cuda:") &&
         absl::SimpleAtoi(device.substr(5), &index) && index >= 0;
}

}  // namespace

absl::StatusOr<ServerConfig> ParseConfigYaml(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
    return ParseRoot(root);
  } catch (const YAML::Exception& e) {
    // Also covers a document shape the parsers above did not foresee.
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat("cannot read config file \"", path, "\""));
  }
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<ServerConfig> config = ParseConfigYaml(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<ModelConfig> ParseModelFlag(const std::string& flag) {
  const size_t equals = flag.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == flag.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--model: expected NAME=PATH, got \"", flag, "\""));
  }
  ModelConfig model;
  model.name = flag.substr(0, equals);
  model.path = flag.substr(equals + 1);
  return model;
}

absl::Status ValidateConfig(const ServerConfig& config) {
  if (config.models.empty()) {
    return absl::InvalidArgumentError(
        "models: expected at least one model (a models list or --model "
        "NAME=PATH)");
  }
  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < config.models.size(); ++i) {
    const ModelConfig& model = config.models[i];
    const std::string path = absl::StrCat("models[", i, "]");
    if (model.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".name: expected a non-empty name"));
    }
    if (!names.insert(model.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".name: duplicate model name \"", model.name, "\""));
    }
    if (!IsValidDevice(model.device)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".device: expected \"cpu\" or \"cuda:N\", got \"",
                       model.device, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace rat::server
