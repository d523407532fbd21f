#include "server/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "server/server.h"

namespace rat::server {
namespace {

constexpr char kFullConfig[] = R"YAML(
listen: 127.0.0.1:6000
metrics_listen: ""
threads: {grpc: 4, torch_intra_op: 1}
shutdown_grace_seconds: 2.5
log_level: debug
limits: {max_message_bytes: 1048576, max_images_per_request: 8}
models:
  - name: fmnist
    path: /models/fmnist.pt
    device: cuda:1
    freeze: false
    batching: {max_batch_size: 16, max_queue_delay_us: 500, max_queue_size: 4}
    default_scores: [msr, rr-fast]
    score_params: {odin_temperature: 1000, odin_epsilon: 0.0005}
    reject: {score: rr_fast, threshold: 0.002}
)YAML";

TEST(ConfigTest, ParsesEveryKey) {
  absl::StatusOr<ServerConfig> config = ParseConfigYaml(kFullConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:6000");
  EXPECT_EQ(config->metrics_listen, "");
  EXPECT_EQ(config->grpc_threads, 4);
  EXPECT_EQ(config->torch_intra_op_threads, 1);
  EXPECT_DOUBLE_EQ(config->shutdown_grace_seconds, 2.5);
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->limits.max_message_bytes, 1048576);
  EXPECT_EQ(config->limits.max_images_per_request, 8);
  ASSERT_EQ(config->models.size(), 1u);
  const ModelConfig& model = config->models[0];
  EXPECT_EQ(model.name, "fmnist");
  EXPECT_EQ(model.path, "/models/fmnist.pt");
  EXPECT_EQ(model.device, "cuda:1");
  EXPECT_FALSE(model.freeze);
  EXPECT_EQ(model.batching.max_batch_size, 16);
  EXPECT_EQ(model.batching.max_queue_delay_us, 500);
  EXPECT_EQ(model.batching.max_queue_size, 4);
  EXPECT_EQ(model.default_scores,
            (std::vector<ScoreKind>{ScoreKind::kMsr, ScoreKind::kRrFast}));
  EXPECT_EQ(model.score_params.odin_temperature, 1000.0);
  EXPECT_EQ(model.score_params.odin_epsilon, 0.0005);
  EXPECT_FALSE(model.score_params.rr_fast_temperature.has_value());
  EXPECT_EQ(model.reject.score, ScoreKind::kRrFast);
  EXPECT_EQ(model.reject.threshold, 0.002);
}

TEST(IntraOpThreadsTest, ConfiguredValueWins) {
  EXPECT_EQ(IntraOpThreads(3), 3);
}

TEST(IntraOpThreadsTest, ZeroLeavesOneCoreToGrpc) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  unsetenv("OMP_NUM_THREADS");

  EXPECT_EQ(IntraOpThreads(0), std::max(1, cores - 1));
  EXPECT_GE(IntraOpThreads(0), 1);
}

TEST(IntraOpThreadsTest, ZeroTakesOmpNumThreads) {
  setenv("OMP_NUM_THREADS", "5", /*overwrite=*/1);
  const int with_five = IntraOpThreads(0);
  setenv("OMP_NUM_THREADS", "none", /*overwrite=*/1);
  const int with_text = IntraOpThreads(0);
  unsetenv("OMP_NUM_THREADS");

  EXPECT_EQ(with_five, 5);
  EXPECT_EQ(with_text, IntraOpThreads(0));
  EXPECT_EQ(IntraOpThreads(2), 2);
}

TEST(ConfigTest, DefaultsAreLoopback) {
  absl::StatusOr<ServerConfig> config =
      ParseConfigYaml("models: [{name: m, path: m.pt}]");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9090");
  EXPECT_EQ(config->models[0].device, "cpu");
  EXPECT_TRUE(config->models[0].freeze);
  EXPECT_EQ(config->models[0].batching.max_batch_size, 32);
  EXPECT_EQ(config->models[0].default_scores,
            std::vector<ScoreKind>{ScoreKind::kMsr});
}

struct ConfigErrorCase {
  std::string yaml;
  std::string message;
};

void PrintTo(const ConfigErrorCase& test_case, std::ostream* os) {
  *os << test_case.yaml;
}

class ConfigErrorTest : public ::testing::TestWithParam<ConfigErrorCase> {};

TEST_P(ConfigErrorTest, NamesKeyPath) {
  absl::StatusOr<ServerConfig> config = ParseConfigYaml(GetParam().yaml);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigErrorTest,
    ::testing::Values(
        ConfigErrorCase{
            "models: [{name: m, path: p, batching: {max_batch_size: abc}}]",
            "models[0].batching.max_batch_size: expected an integer in [1, "
            "4096], got \"abc\""},
        ConfigErrorCase{
            "models: [{name: m, path: p, batching: {max_batch_size: 0}}]",
            "models[0].batching.max_batch_size: expected an integer in [1, "
            "4096], got \"0\""},
        ConfigErrorCase{"models: [{name: m, path: p}]\nlisten_port: 5",
                        "listen_port: unknown key; allowed keys are listen, "
                        "metrics_listen, threads, shutdown_grace_seconds, "
                        "log_level, models, limits"},
        ConfigErrorCase{"models: [{name: m, path: p, batchng: {}}]",
                        "models[0].batchng: unknown key; allowed keys are "
                        "name, path, device, freeze, batching, "
                        "default_scores, score_params, reject"},
        ConfigErrorCase{"models: [{name: m, path: p, freeze: maybe}]",
                        "models[0].freeze: expected true or false, got "
                        "\"maybe\""},
        ConfigErrorCase{"models: [{name: m, path: p, device: gpu}]",
                        "models[0].device: expected \"cpu\" or \"cuda:N\", "
                        "got \"gpu\""},
        ConfigErrorCase{"models: []",
                        "models: expected a non-empty list of models, got a "
                        "list"},
        ConfigErrorCase{"listen: 127.0.0.1:1",
                        "models: expected a non-empty list of models, got "
                        "nothing"},
        ConfigErrorCase{"models: [{name: m, path: p}, {name: m, path: q}]",
                        "models[1].name: duplicate model name \"m\""},
        ConfigErrorCase{"models: [{name: m, path: p}]\nlog_level: loud",
                        "log_level: expected one of trace, debug, info, warn, "
                        "error, critical, off, got \"loud\""},
        ConfigErrorCase{
            "models: [{name: m, path: p, score_params: {odin_temperature: "
            "0}}]",
            "models[0].score_params.odin_temperature: expected a finite "
            "number > 0, got \"0\""},
        ConfigErrorCase{"models: [{name: m, path: p}]\nthreads: {grpc: -1}",
                        "threads.grpc: expected an integer in [0, 1024], got "
                        "\"-1\""},
        ConfigErrorCase{
            "models: [{name: m, path: p}]\nshutdown_grace_seconds: [1]",
            "shutdown_grace_seconds: expected a finite number >= 0, got a "
            "list"},
        ConfigErrorCase{
            "models: [{name: m}]",
            "models[0].path: expected a bundle path, got nothing"}));

TEST(ConfigTest, UnknownScoreNamesPath) {
  absl::StatusOr<ServerConfig> config = ParseConfigYaml(
      "models: [{name: m, path: p, default_scores: [msr, bogus]}]");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message().rfind("models[0].default_scores[1]: ", 0),
            0u)
      << config.status();
}

TEST(ConfigTest, InvalidYamlIsRejected) {
  absl::StatusOr<ServerConfig> config = ParseConfigYaml("models: [");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<ServerConfig> config =
      LoadConfigFile("/nonexistent/rat-server.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(config.status().message(),
            "cannot read config file \"/nonexistent/rat-server.yaml\"");
}

TEST(ConfigTest, ModelFlagSplitsNameAndPath) {
  absl::StatusOr<ModelConfig> model = ParseModelFlag("fmnist=/a=b.pt");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->name, "fmnist");
  EXPECT_EQ(model->path, "/a=b.pt");
}

TEST(ConfigTest, ModelFlagWithoutPathIsRejected) {
  absl::StatusOr<ModelConfig> model = ParseModelFlag("fmnist");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().message(),
            "--model: expected NAME=PATH, got \"fmnist\"");
}

}  // namespace
}  // namespace rat::server
