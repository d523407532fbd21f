// Health, queueing limits, deadlines, metrics and foreign bundles, each
// against its own in-process server on free loopback ports.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/server/server_test_support.h"

namespace rat::server {
namespace {

using ::rat::server::testing::Connect;
using ::rat::server::testing::FloatImage;
using ::rat::server::testing::HttpGet;
using ::rat::server::testing::LoopbackConfig;
using ::rat::server::testing::MetricValue;
using ::rat::server::testing::SlowIterations;
using ::rat::server::testing::StartServer;
using ::rat::server::testing::TempPath;
using ::rat::server::testing::TestModelOptions;
using ::rat::server::testing::WriteTestBundle;

ModelConfig LinearModel(const std::string& name,
                        const TestModelOptions& options) {
  ModelConfig model;
  model.name = name;
  model.path = WriteTestBundle(name, options);
  return model;
}

rat::v1::PredictRequest OneImageRequest(const std::string& model) {
  rat::v1::PredictRequest request;
  request.set_model(model);
  *request.add_images() = FloatImage(1, 4, 4, 0);
  return request;
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(
    int port, const std::string& service) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// Sends `count` Predict calls at once and returns their status codes.
std::vector<grpc::StatusCode> PredictConcurrently(
    int port, const std::vector<rat::v1::PredictRequest>& requests,
    const std::vector<int>& deadline_ms) {
  std::vector<grpc::StatusCode> codes(requests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] {
      auto stub = Connect(port);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(deadline_ms[i]));
      rat::v1::PredictResponse response;
      codes[i] = stub->Predict(&context, requests[i], &response).error_code();
    });
  }
  for (std::thread& thread : threads) thread.join();
  return codes;
}

TEST(HealthTest, NotServingUntilModelsLoad) {
  ServerConfig config = LoopbackConfig({LinearModel("linear", {})});
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(config);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Start().ok());
  const int port = (*server)->port();
  EXPECT_EQ(Health(port, ""),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(port, "linear"),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  grpc::ClientContext context;
  rat::v1::PredictResponse response;
  grpc::Status early =
      Connect(port)->Predict(&context, OneImageRequest("linear"), &response);
  EXPECT_EQ(early.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(early.error_message(),
            "model \"linear\" is still loading; retry once its health status "
            "is SERVING");

  ASSERT_TRUE((*server)->LoadModels().ok());
  EXPECT_EQ(Health(port, ""), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(port, "linear"),
            grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(QueueTest, FullQueueIsResourceExhausted) {
  TestModelOptions slow;
  slow.slow_iterations = SlowIterations(400);
  ModelConfig model = LinearModel("slow", slow);
  model.batching.max_batch_size = 1;
  model.batching.max_queue_size = 1;
  std::unique_ptr<Server> server = StartServer(LoopbackConfig({model}));
  ASSERT_NE(server, nullptr);

  // One request computes, one waits; with eight sent at once the rest find
  // the queue full.
  std::vector<rat::v1::PredictRequest> requests(8, OneImageRequest("slow"));
  std::vector<grpc::StatusCode> codes =
      PredictConcurrently(server->port(), requests, std::vector<int>(8, 60000));
  int ok = 0;
  int exhausted = 0;
  for (grpc::StatusCode code : codes) {
    ok += code == grpc::StatusCode::OK;
    exhausted += code == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(exhausted, 1);
  EXPECT_EQ(ok + exhausted, 8);

  grpc::ClientContext context;
  rat::v1::PredictResponse response;
  EXPECT_TRUE(Connect(server->port())
                  ->Predict(&context, OneImageRequest("slow"), &response)
                  .ok());
}

TEST(QueueTest, ExpiredDeadlineWhileQueued) {
  TestModelOptions slow;
  slow.slow_iterations = SlowIterations(400);
  ModelConfig model = LinearModel("slow", slow);
  model.batching.max_batch_size = 1;
  std::unique_ptr<Server> server = StartServer(LoopbackConfig({model}));
  ASSERT_NE(server, nullptr);

  // Four slow requests keep the worker busy far longer than 50 ms, so at
  // least three of them wait in the queue past that deadline.
  std::vector<rat::v1::PredictRequest> requests(4, OneImageRequest("slow"));
  std::vector<grpc::StatusCode> codes =
      PredictConcurrently(server->port(), requests, {50, 50, 50, 50});
  int expired = 0;
  for (grpc::StatusCode code : codes) {
    expired += code == grpc::StatusCode::DEADLINE_EXCEEDED;
  }
  EXPECT_GE(expired, 3);

  grpc::ClientContext context;
  rat::v1::PredictResponse response;
  EXPECT_TRUE(Connect(server->port())
                  ->Predict(&context, OneImageRequest("slow"), &response)
                  .ok());

  // The server itself dropped the expired requests from its queue.
  absl::StatusOr<std::string> metrics =
      HttpGet(server->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_GE(MetricValue(*metrics, "rat_requests_total",
                        "code=\"DEADLINE_EXCEEDED\",model=\"slow\""),
            3);
}

TEST(MetricsTest, CountsRequestsAndRejections) {
  ModelConfig model = LinearModel("linear", {});
  // MSR never exceeds 1, so every prediction is rejected.
  model.reject.score = ScoreKind::kMsr;
  model.reject.threshold = 1.5;
  std::unique_ptr<Server> server = StartServer(LoopbackConfig({model}));
  ASSERT_NE(server, nullptr);
  auto stub = Connect(server->port());

  for (int i = 0; i < 3; ++i) {
    rat::v1::PredictRequest request = OneImageRequest("linear");
    *request.add_images() = FloatImage(1, 4, 4, i + 1);
    grpc::ClientContext context;
    rat::v1::PredictResponse response;
    ASSERT_TRUE(stub->Predict(&context, request, &response).ok());
    ASSERT_EQ(response.predictions_size(), 2);
    const rat::v1::Decision& decision = response.predictions(0).decision();
    EXPECT_FALSE(decision.accepted());
    EXPECT_EQ(decision.score(), rat::v1::SCORE_TYPE_MSR);
    EXPECT_EQ(decision.threshold(), 1.5);
    EXPECT_EQ(decision.value(), response.predictions(0).scores(0).value());
  }
  for (int i = 0; i < 2; ++i) {
    rat::v1::PredictRequest request = OneImageRequest("linear");
    request.set_top_k(-1);
    grpc::ClientContext context;
    rat::v1::PredictResponse response;
    EXPECT_EQ(stub->Predict(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  grpc::ClientContext context;
  rat::v1::PredictResponse response;
  EXPECT_EQ(
      stub->Predict(&context, OneImageRequest("other"), &response).error_code(),
      grpc::StatusCode::NOT_FOUND);

  absl::StatusOr<std::string> metrics =
      HttpGet(server->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(MetricValue(*metrics, "rat_requests_total",
                        "code=\"OK\",model=\"linear\""),
            3);
  EXPECT_EQ(MetricValue(*metrics, "rat_requests_total",
                        "code=\"INVALID_ARGUMENT\",model=\"linear\""),
            2);
  EXPECT_EQ(MetricValue(*metrics, "rat_requests_total",
                        "code=\"NOT_FOUND\",model=\"\""),
            1);
  EXPECT_EQ(MetricValue(*metrics, "rat_predictions_total", "model=\"linear\""),
            6);
  EXPECT_EQ(MetricValue(*metrics, "rat_rejections_total",
                        "model=\"linear\",score=\"msr\""),
            6);
  EXPECT_EQ(MetricValue(*metrics, "rat_model_ready", "model=\"linear\""), 1);
  EXPECT_EQ(MetricValue(*metrics, "rat_confidence_score_count",
                        "model=\"linear\",score=\"msr\""),
            6);
  EXPECT_EQ(MetricValue(*metrics, "rat_request_duration_seconds_count",
                        "model=\"linear\""),
            5);
}

TEST(BundleTest, MissingBundleFailsToLoad) {
  ModelConfig model;
  model.name = "missing";
  model.path = TempPath("missing.pt");
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Create(LoopbackConfig({model}));
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->Start().ok());
  absl::Status loaded = (*server)->LoadModels();
  EXPECT_EQ(loaded.code(), absl::StatusCode::kNotFound) << loaded;
}

// A model written by Python's torch.jit.save with the card in _extra_files.
TEST(BundleTest, PythonSavedBundleServes) {
  const std::string script_path = TempPath("save_bundle.py");
  const std::string bundle_path = TempPath("python.pt");
  std::ofstream(script_path) << R"PY(
import json, sys, torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2 * 3 * 3, 4)

    def forward(self, x):
        return self.fc(x.flatten(1))

torch.manual_seed(0)
card = {"name": "py", "input_shape": {"channels": 2, "height": 3, "width": 3},
        "class_names": ["a", "b", "c", "d"], "architecture": "python_linear"}
torch.jit.save(torch.jit.script(Net()), sys.argv[1],
               _extra_files={"model_card.json": json.dumps(card)})
)PY";
  // Debian's python3-torch lives under /usr/bin/python3; another python3
  // earlier on PATH may lack torch.
  const std::string python = std::filesystem::exists("/usr/bin/python3")
                                 ? "/usr/bin/python3"
                                 : "python3";
  const std::string command =
      absl::StrCat(python, " ", script_path, " ", bundle_path);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  ModelConfig model;
  model.name = "py";
  model.path = bundle_path;
  model.default_scores = {ScoreKind::kMsr, ScoreKind::kRrFast};
  std::unique_ptr<Server> server = StartServer(LoopbackConfig({model}));
  ASSERT_NE(server, nullptr);

  rat::v1::PredictRequest request;
  request.set_model("py");
  *request.add_images() = FloatImage(2, 3, 3, 1);
  request.set_top_k(4);
  grpc::ClientContext context;
  rat::v1::PredictResponse response;
  grpc::Status status =
      Connect(server->port())->Predict(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.predictions_size(), 1);
  EXPECT_EQ(response.predictions(0).top_k_size(), 4);
  EXPECT_EQ(response.predictions(0).scores_size(), 2);
  EXPECT_EQ(
      response.predictions(0).label_name(),
      std::string(1, static_cast<char>('a' + response.predictions(0).label())));
}

}  // namespace
}  // namespace rat::server
