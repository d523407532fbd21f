// rat-server configuration: the YAML file schema, the command-line shortcut
// and their validation.
#ifndef RAT_SERVER_CONFIG_H_
#define RAT_SERVER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/scores/score_types.h"

namespace rat::server {

// Dynamic batching of one model's requests.
struct BatchingConfig {
  // Images computed together at most; a larger single request is computed in
  // chunks of this size.
  int max_batch_size = 32;
  // Time the first queued request waits for others to join its batch
  // (microseconds).
  int64_t max_queue_delay_us = 2000;
  // Requests waiting at most; more are rejected with RESOURCE_EXHAUSTED.
  int max_queue_size = 256;
};

// Score parameters set in the configuration; unset fields fall back to the
// model card's calibration, then to rat::ScoreParams' defaults.
struct ScoreParamsConfig {
  std::optional<double> odin_temperature;
  std::optional<double> odin_epsilon;
  std::optional<double> rr_fast_temperature;
  std::optional<double> rr_fast_step;
  std::optional<double> rr_bs_temperature;
  std::optional<int> rr_bs_max_iterations;
  std::optional<double> rr_bs_rel_tol;
  std::optional<double> doctor_temperature;
  std::optional<double> energy_temperature;
};

// Which score decides acceptance and its threshold; unset fields come from
// the model card's calibration.reject.
struct RejectConfig {
  std::optional<ScoreKind> score;
  std::optional<double> threshold;
};

struct ModelConfig {
  // Name clients use in PredictRequest.model.
  std::string name;
  // Model bundle file (TorchScript archive with model_card.json).
  std::string path;
  // "cpu" or "cuda:N".
  std::string device = "cpu";
  // Serve a frozen copy of the module (constants folded, batch norm merged
  // into convolutions, no parameter gradients while scoring).
  bool freeze = true;
  BatchingConfig batching;
  // Scores computed when a request lists none.
  std::vector<ScoreKind> default_scores = {ScoreKind::kMsr};
  ScoreParamsConfig score_params;
  RejectConfig reject;
};

struct LimitsConfig {
  // Largest accepted request message (bytes); larger ones get
  // RESOURCE_EXHAUSTED from gRPC.
  int64_t max_message_bytes = 64 << 20;
  int max_images_per_request = 256;
};

struct ServerConfig {
  // gRPC address, host:port; port 0 picks a free port.
  std::string listen = "127.0.0.1:50051";
  // Prometheus /metrics address, host:port; empty disables the endpoint.
  std::string metrics_listen = "127.0.0.1:9090";
  // Threads of the gRPC server's resource quota; 0 leaves gRPC's default.
  // NOTE: gRPC 1.51 applies this quota to its synchronous thread pool; the
  // callback API used here runs handlers on gRPC's internal executor, so the
  // limit may not bound those threads.
  int grpc_threads = 0;
  // LibTorch intra-op threads per forward/backward; 0 takes OMP_NUM_THREADS
  // or one per core but one (see IntraOpThreads).
  int torch_intra_op_threads = 0;
  // Time in-flight requests get to finish after SIGTERM (seconds).
  double shutdown_grace_seconds = 10.0;
  // "trace", "debug", "info", "warn", "error", "critical" or "off".
  std::string log_level = "info";
  std::vector<ModelConfig> models;
  LimitsConfig limits;
};

// Parses YAML text. Unknown keys and invalid values are INVALID_ARGUMENT
// naming the key path and what is allowed, e.g.
// `models[0].batching.max_batch_size: expected an integer in [1, 4096], got
// "abc"`.
absl::StatusOr<ServerConfig> ParseConfigYaml(const std::string& yaml_text);

// Reads and parses a YAML file; NOT_FOUND when it cannot be read.
absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path);

// Parses a `--model NAME=PATH` value into a model with default settings.
absl::StatusOr<ModelConfig> ParseModelFlag(const std::string& flag);

// Checks cross-field rules: at least one model, unique names, a device
// "cpu" or "cuda:N". Field ranges are already checked by the parsers.
absl::Status ValidateConfig(const ServerConfig& config);

}  // namespace rat::server

#endif  // RAT_SERVER_CONFIG_H_
