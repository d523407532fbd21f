// Tests of the benchmark, the paper protocol and calibration against the
// fake inference service on loopback.
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "client/bench_command.h"
#include "client/calibrate_command.h"
#include "client/paper_protocol.h"
#include "client/score_names.h"
#include "core/metrics/metrics.h"
#include "gtest/gtest.h"
#include "tests/client/fake_inference_server.h"

namespace rat::client {
namespace {

using testing::FakeInferenceServer;
using testing::FakeScore;
using testing::kFakeModel;
using testing::MakeFakeImages;

BenchOptions FakeBenchOptions(const FakeInferenceServer& server) {
  BenchOptions options;
  options.client.address = server.address();
  options.client.timeout_ms = 10000;
  options.model = kFakeModel;
  options.scores = "msr,odin,rr_fast";
  options.batch_size = 7;
  options.concurrency = 3;
  options.show_progress = false;
  return options;
}

// Metrics the core library computes for one score on all images, from the
// fake service's known outputs at `options`.
MisdMetrics ExpectedMetrics(const ImageSet& images, rat::v1::ScoreType type,
                            const std::vector<int64_t>& indices,
                            const rat::v1::ScoreOptions& options) {
  std::vector<double> values;
  std::vector<bool> correct;
  for (int64_t i : indices) {
    const uint8_t* pixels = images.pixels.data() + i * 16;
    values.push_back(FakeScore(type, pixels, options));
    correct.push_back(pixels[0] % 3 == images.labels[i]);
  }
  return ComputeMisdMetrics(values, correct).value();
}

std::vector<int64_t> AllIndices(int64_t count) {
  std::vector<int64_t> indices(count);
  for (int64_t i = 0; i < count; ++i) indices[i] = i;
  return indices;
}

TEST(BenchTest, PlainMetricsEqualCoreMetrics) {
  FakeInferenceServer server;
  const ImageSet images = MakeFakeImages(203);
  const absl::StatusOr<BenchResult> result =
      RunBenchmark(FakeBenchOptions(server), images);
  ASSERT_TRUE(result.ok()) << result.status();
  const BenchReport& report = result->report;

  ASSERT_EQ(report.scores.size(), 3u);
  EXPECT_EQ(report.labels.size(), 203u);
  EXPECT_EQ(report.latency.requests_ok, 29);  // ceil(203 / 7)
  EXPECT_EQ(report.latency.requests_failed, 0);
  for (const ScoreReport& score : report.scores) {
    const MisdMetrics expected = ExpectedMetrics(
        images, ParseScoreType(score.score).value(), AllIndices(203), {});
    EXPECT_DOUBLE_EQ(score.metrics.aurc, expected.aurc) << score.score;
    EXPECT_DOUBLE_EQ(score.metrics.eaurc, expected.eaurc) << score.score;
    EXPECT_EQ(score.metrics.auroc, expected.auroc) << score.score;
    EXPECT_EQ(score.metrics.fpr_at_95_tpr, expected.fpr_at_95_tpr)
        << score.score;
    EXPECT_EQ(score.metrics.aupr_error, expected.aupr_error) << score.score;
    EXPECT_DOUBLE_EQ(score.aurc_x1000.mean, expected.aurc * 1000)
        << score.score;
  }
  EXPECT_DOUBLE_EQ(
      report.accuracy.mean,
      ExpectedMetrics(images, rat::v1::SCORE_TYPE_MSR, AllIndices(203), {})
          .accuracy);
}

TEST(BenchTest, RejectionRateUsesServedDecisions) {
  FakeInferenceServer server;
  const ImageSet images = MakeFakeImages(100);
  const absl::StatusOr<BenchResult> result =
      RunBenchmark(FakeBenchOptions(server), images);
  ASSERT_TRUE(result.ok()) << result.status();

  int64_t rejected = 0;
  for (int64_t i = 0; i < 100; ++i) {
    if (images.pixels[i * 16 + 1] / 255.0 < testing::kFakeThreshold) ++rejected;
  }
  EXPECT_DOUBLE_EQ(result->report.scores[0].rejection_rate, rejected / 100.0);
  EXPECT_DOUBLE_EQ(result->report.scores[1].rejection_rate, -1);
}

TEST(BenchTest, FailedRequestsAreCountedAndLeftOut) {
  FakeInferenceServer server;
  ImageSet images = MakeFakeImages(50);
  images.pixels[10 * 16 + 3] = 255;  // poisons the request holding image 10
  BenchOptions options = FakeBenchOptions(server);
  options.batch_size = 10;
  const absl::StatusOr<BenchResult> result = RunBenchmark(options, images);
  ASSERT_TRUE(result.ok()) << result.status();

  EXPECT_EQ(result->report.latency.requests_ok, 4);
  EXPECT_EQ(result->report.latency.requests_failed, 1);
  EXPECT_EQ(result->images_failed, 10);
  EXPECT_EQ(result->report.labels.size(), 40u);
  EXPECT_NE(result->first_error.find("poisoned image"), std::string::npos);
}

TEST(BenchTest, UnknownModelIsNotFound) {
  FakeInferenceServer server;
  BenchOptions options = FakeBenchOptions(server);
  options.model = "missing";
  const absl::StatusOr<BenchResult> result =
      RunBenchmark(options, MakeFakeImages(10));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
}

TEST(BenchTest, StoppedServerIsUnavailableNamingAddress) {
  FakeInferenceServer server;
  const BenchOptions options = FakeBenchOptions(server);
  server.Stop();
  const absl::StatusOr<BenchResult> result =
      RunBenchmark(options, MakeFakeImages(10));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find(server.address()),
            std::string::npos);
}

TEST(RandomSplitTest, SameSeedGivesSameSplit) {
  const SplitIndices first = RandomSplit(1000, 0.2, 42, 1).value();
  const SplitIndices second = RandomSplit(1000, 0.2, 42, 1).value();
  EXPECT_EQ(first.validation, second.validation);
  EXPECT_EQ(first.test, second.test);
}

TEST(RandomSplitTest, SeedAndRepeatChangeSplit) {
  const SplitIndices base = RandomSplit(1000, 0.2, 42, 0).value();
  EXPECT_NE(base.validation, RandomSplit(1000, 0.2, 43, 0).value().validation);
  EXPECT_NE(base.validation, RandomSplit(1000, 0.2, 42, 1).value().validation);
}

TEST(RandomSplitTest, PartitionsAllImages) {
  const SplitIndices split = RandomSplit(1001, 0.2, 7, 2).value();
  EXPECT_EQ(split.validation.size(), 200u);
  EXPECT_EQ(split.test.size(), 801u);
  std::set<int64_t> all(split.validation.begin(), split.validation.end());
  all.insert(split.test.begin(), split.test.end());
  EXPECT_EQ(all.size(), 1001u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 1000);
}

TEST(RandomSplitTest, RejectsInvalidFraction) {
  EXPECT_EQ(RandomSplit(100, 1.0, 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RandomSplit(2, 0.1, 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PaperProtocolTest, TunesPreferredParametersAndMatchesCoreMetrics) {
  FakeInferenceServer server;
  const ImageSet images = MakeFakeImages(300);
  BenchOptions options = FakeBenchOptions(server);
  options.protocol = "paper";
  options.repeats = 2;
  options.seed = 5;
  const absl::StatusOr<BenchResult> result = RunBenchmark(options, images);
  ASSERT_TRUE(result.ok()) << result.status();
  const BenchReport& report = result->report;

  ASSERT_EQ(report.scores.size(), 3u);
  EXPECT_EQ(report.scores[0].tuned_parameters, "-");
  EXPECT_EQ(report.scores[1].tuned_parameters, "T=1.5 eps=0.0002");
  EXPECT_EQ(report.scores[2].tuned_parameters, "T=0.8");
  EXPECT_EQ(report.labels.size(), 240u);

  // The reported first repeat equals the core metrics on its test part.
  const std::vector<int64_t> test = RandomSplit(300, 0.2, 5, 0).value().test;
  rat::v1::ScoreOptions odin;
  odin.set_odin_temperature(1.5);
  odin.set_odin_epsilon(2e-4);
  const MisdMetrics expected =
      ExpectedMetrics(images, rat::v1::SCORE_TYPE_ODIN, test, odin);
  EXPECT_DOUBLE_EQ(report.scores[1].metrics.aurc, expected.aurc);
  EXPECT_EQ(report.scores[1].metrics.auroc, expected.auroc);

  const std::vector<int64_t> second = RandomSplit(300, 0.2, 5, 1).value().test;
  const double second_aurc =
      ExpectedMetrics(images, rat::v1::SCORE_TYPE_ODIN, second, odin).aurc;
  EXPECT_NEAR(report.scores[1].aurc_x1000.mean,
              (expected.aurc + second_aurc) / 2 * 1000, 1e-9);
  EXPECT_NEAR(report.scores[1].aurc_x1000.std,
              std::abs(expected.aurc - second_aurc) / 2 * 1000, 1e-9);
}

TEST(PaperProtocolTest, SameSeedGivesSameReport) {
  FakeInferenceServer server;
  const ImageSet images = MakeFakeImages(120);
  BenchOptions options = FakeBenchOptions(server);
  options.protocol = "paper";
  options.repeats = 2;
  options.scores = "msr";
  const BenchReport first = RunBenchmark(options, images).value().report;
  const BenchReport second = RunBenchmark(options, images).value().report;
  EXPECT_EQ(first.labels, second.labels);
  EXPECT_EQ(first.scores[0].values, second.scores[0].values);
  EXPECT_DOUBLE_EQ(first.scores[0].aurc_x1000.mean,
                   second.scores[0].aurc_x1000.mean);
}

TEST(PaperProtocolTest, StagedOdinSearchSendsFewerRequests) {
  FakeInferenceServer full_server;
  FakeInferenceServer staged_server;
  const ImageSet images = MakeFakeImages(100);
  BenchOptions options = FakeBenchOptions(full_server);
  options.protocol = "paper";
  options.repeats = 1;
  options.scores = "odin";
  ASSERT_TRUE(RunBenchmark(options, images).ok());

  options.client.address = staged_server.address();
  options.odin_search = "staged";
  const absl::StatusOr<BenchResult> staged = RunBenchmark(options, images);
  ASSERT_TRUE(staged.ok()) << staged.status();
  EXPECT_LT(staged_server.service().predict_calls() * 5,
            full_server.service().predict_calls());
  // The fake rewards only the pair (1.5, 2e-4), so at eps = 0 every T ties,
  // the first T wins, and the eps stage never reaches the pair.
  EXPECT_EQ(staged->report.scores[0].tuned_parameters, "T=0.2 eps=0");
}

CalibrateOptions FakeCalibrateOptions(const FakeInferenceServer& server) {
  CalibrateOptions options;
  options.client.address = server.address();
  options.model = kFakeModel;
  options.score = "msr";
  options.show_progress = false;
  return options;
}

TEST(CalibrateTest, CoverageTargetIsMet) {
  FakeInferenceServer server;
  const ImageSet images = MakeFakeImages(400);
  CalibrateOptions options = FakeCalibrateOptions(server);
  options.target_coverage = 0.8;
  const absl::StatusOr<Calibration> calibration = Calibrate(options, images);
  ASSERT_TRUE(calibration.ok()) << calibration.status();

  int64_t accepted = 0;
  for (int64_t i = 0; i < 400; ++i) {
    if (images.pixels[i * 16 + 1] / 255.0 >= calibration->choice.threshold)
      ++accepted;
  }
  EXPECT_GE(accepted, 320);
  EXPECT_DOUBLE_EQ(calibration->choice.coverage, accepted / 400.0);
  EXPECT_NE(calibration->yaml.find("score: msr"), std::string::npos);
}

TEST(CalibrateTest, RiskThresholdMeetsBoundOnData) {
  FakeInferenceServer server;
  const ImageSet images = MakeFakeImages(400);
  CalibrateOptions options = FakeCalibrateOptions(server);
  options.target_risk = 0.1;
  options.delta = 0.05;
  const absl::StatusOr<Calibration> calibration = Calibrate(options, images);
  ASSERT_TRUE(calibration.ok()) << calibration.status();

  int64_t accepted = 0;
  int64_t errors = 0;
  for (int64_t i = 0; i < 400; ++i) {
    const uint8_t* pixels = images.pixels.data() + i * 16;
    if (pixels[1] / 255.0 < calibration->choice.threshold) continue;
    ++accepted;
    if (pixels[0] % 3 != images.labels[i]) ++errors;
  }
  ASSERT_GT(accepted, 0);
  EXPECT_DOUBLE_EQ(calibration->choice.risk,
                   static_cast<double>(errors) / accepted);
  EXPECT_LE(calibration->choice.risk_upper_bound, 0.1);
  EXPECT_LE(calibration->choice.risk, 0.1);
  EXPECT_NE(calibration->yaml.find("threshold: "), std::string::npos);
}

TEST(CalibrateTest, UnreachableRiskIsNotFound) {
  FakeInferenceServer server;
  CalibrateOptions options = FakeCalibrateOptions(server);
  options.target_risk = 1e-6;
  const absl::StatusOr<Calibration> calibration =
      Calibrate(options, MakeFakeImages(50));
  EXPECT_EQ(calibration.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(calibration.status().message().find("--target-risk"),
            std::string::npos);
}

TEST(CalibrateTest, RequiresExactlyOneTarget) {
  FakeInferenceServer server;
  const absl::StatusOr<Calibration> calibration =
      Calibrate(FakeCalibrateOptions(server), MakeFakeImages(10));
  EXPECT_EQ(calibration.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rat::client
