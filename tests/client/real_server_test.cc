// rat-client against a real rat-server on loopback, serving a small
// untrained CNN on 1 x 4 x 4 images.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/bench_command.h"
#include "client/calibrate_command.h"
#include "core/metrics/metrics.h"
#include "core/models/architectures.h"
#include "core/models/bundle.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/client/fake_inference_server.h"

namespace rat::client {
namespace {

constexpr char kModel[] = "tiny";

std::string WriteTinyBundle() {
  ArchitectureOptions architecture;
  architecture.name = "small_cnn";
  architecture.channels = 1;
  architecture.height = 4;
  architecture.width = 4;
  architecture.num_classes = 3;
  architecture.seed = 3;
  torch::jit::Module module = BuildArchitecture(architecture).value();
  module.eval();

  rat::v1::ModelCard card;
  card.set_name(kModel);
  card.set_version("1");
  card.set_architecture("small_cnn");
  card.mutable_input_shape()->set_channels(1);
  card.mutable_input_shape()->set_height(4);
  card.mutable_input_shape()->set_width(4);
  for (const char* name : {"a", "b", "c"}) card.add_class_names(name);
  const std::string path = testing::MakeTempFolder("real_server") + "/tiny.pt";
  const absl::Status saved = SaveBundle(path, module, card);
  EXPECT_TRUE(saved.ok()) << saved;
  return path;
}

class RealServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server::ModelConfig model;
    model.name = kModel;
    model.path = WriteTinyBundle();
    model.reject.score = ScoreKind::kMsr;
    model.reject.threshold = 0.4;
    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.metrics_listen = "";
    config.log_level = "warn";
    config.models = {model};

    server_ = server::Server::Create(config).value().release();
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_TRUE(server_->LoadModels().ok());
  }

  static void TearDownTestSuite() {
    server_->Shutdown(absl::Seconds(5));
    delete server_;
  }

  static BenchOptions Options() {
    BenchOptions options;
    options.client.address = absl::StrCat("127.0.0.1:", server_->port());
    options.model = kModel;
    options.scores = "msr,rr_fast,rr_bs";
    options.batch_size = 16;
    options.concurrency = 2;
    options.show_progress = false;
    return options;
  }

  static server::Server* server_;
};

server::Server* RealServerTest::server_ = nullptr;

TEST_F(RealServerTest, BenchMetricsEqualCoreMetricsOnSameValues) {
  const ImageSet images = testing::MakeFakeImages(90);
  const absl::StatusOr<BenchResult> result = RunBenchmark(Options(), images);
  ASSERT_TRUE(result.ok()) << result.status();
  const BenchReport& report = result->report;

  EXPECT_EQ(report.latency.requests_failed, 0);
  ASSERT_EQ(report.labels.size(), 90u);
  std::vector<bool> correct;
  for (size_t i = 0; i < report.labels.size(); ++i) {
    correct.push_back(report.labels[i] == report.predictions[i]);
  }
  ASSERT_EQ(report.scores.size(), 3u);
  for (const ScoreReport& score : report.scores) {
    const MisdMetrics expected =
        ComputeMisdMetrics(score.values, correct).value();
    EXPECT_DOUBLE_EQ(score.metrics.aurc, expected.aurc) << score.score;
    EXPECT_EQ(score.metrics.auroc, expected.auroc) << score.score;
  }
  EXPECT_GE(report.scores[0].rejection_rate, 0);
  EXPECT_GT(report.latency.images_per_second, 0);
}

TEST_F(RealServerTest, PaperProtocolReportsTunedTemperatures) {
  BenchOptions options = Options();
  options.protocol = "paper";
  options.repeats = 2;
  options.scores = "msr,rr_fast";
  const absl::StatusOr<BenchResult> result =
      RunBenchmark(options, testing::MakeFakeImages(60));
  ASSERT_TRUE(result.ok()) << result.status();

  const BenchReport& report = result->report;
  EXPECT_EQ(report.repeats, 2);
  EXPECT_EQ(report.labels.size(), 48u);
  EXPECT_EQ(report.scores[0].tuned_parameters, "-");
  EXPECT_EQ(report.scores[1].tuned_parameters.rfind("T=", 0), 0u)
      << report.scores[1].tuned_parameters;
  EXPECT_EQ(report.latency.requests_failed, 0);
}

TEST_F(RealServerTest, WrongImageShapeIsInvalidArgument) {
  ImageSet images = testing::MakeFakeImages(4);
  images.height = 2;
  images.width = 8;
  const absl::StatusOr<BenchResult> result = RunBenchmark(Options(), images);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "model \"tiny\" expects 1x4x4 images, data set fake has 1x2x8");
}

TEST_F(RealServerTest, CalibrateCoverageOnServedScores) {
  CalibrateOptions options;
  options.client.address = absl::StrCat("127.0.0.1:", server_->port());
  options.model = kModel;
  options.score = "rr_fast";
  options.target_coverage = 0.5;
  options.show_progress = false;
  const absl::StatusOr<Calibration> calibration =
      Calibrate(options, testing::MakeFakeImages(40));
  ASSERT_TRUE(calibration.ok()) << calibration.status();
  EXPECT_GE(calibration->choice.coverage, 0.5);
  EXPECT_EQ(calibration->num_images, 40);
}

}  // namespace
}  // namespace rat::client
