// Engine behaviour on a small conv net: shared passes, batch independence,
// module state and input validation.
#include "core/scores/score_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "tests/scores/test_models.h"

namespace rat {
namespace {

using ::rat::testing::MakeSmallConvNet;
using ::testing::HasSubstr;

torch::Tensor RandomImages(int64_t count, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::rand({count, 1, 28, 28});
}

ScoreParams GradientParams() {
  ScoreParams params;
  params.odin_temperature = 1000.0;
  params.odin_epsilon = 1e-3;
  return params;
}

ScoreRequest RequestAll(const ScoreParams& params) {
  ScoreRequest request;
  request.scores = AllScoreKinds();
  request.params = params;
  return request;
}

void ExpectRelativelyNear(const torch::Tensor& actual,
                          const torch::Tensor& expected, double tolerance,
                          const std::string& label) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << label;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual[i].item<double>();
    const double e = expected[i].item<double>();
    EXPECT_NEAR(a, e, tolerance * std::abs(e)) << label << ", image " << i;
  }
}

class ScoreEngineTest : public ::testing::Test {
 protected:
  torch::jit::Module model_ = MakeSmallConvNet(7);
};

TEST_F(ScoreEngineTest, ReturnsEveryRequestedScore) {
  const torch::Tensor images = RandomImages(4, 1);
  const absl::StatusOr<ScoreResult> result =
      ScoreEngine::Score(model_, images, RequestAll(GradientParams()));
  ASSERT_TRUE(result.ok()) << result.status();

  EXPECT_EQ(result->logits.sizes(), (std::vector<int64_t>{4, 10}));
  EXPECT_EQ(result->logits.scalar_type(), torch::kFloat32);
  EXPECT_EQ(result->predictions.scalar_type(), torch::kInt64);
  ASSERT_EQ(result->scores.size(), AllScoreKinds().size());
  for (const auto& [kind, scores] : result->scores) {
    EXPECT_EQ(scores.scalar_type(), torch::kFloat64) << ScoreName(kind);
    EXPECT_EQ(scores.sizes(), (std::vector<int64_t>{4})) << ScoreName(kind);
    EXPECT_TRUE(scores.isfinite().all().item<bool>()) << ScoreName(kind);
  }
  EXPECT_TRUE(result->predictions.equal(result->logits.argmax(1)));
  EXPECT_EQ(result->rr_bs_forwards.sizes(), (std::vector<int64_t>{4}));
}

TEST_F(ScoreEngineTest, MatchesSeparateComputations) {
  const torch::Tensor images = RandomImages(8, 2);
  for (double rr_fast_temperature : {1.0, 2.0}) {
    ScoreParams params = GradientParams();
    params.rr_fast_temperature = rr_fast_temperature;
    const absl::StatusOr<ScoreResult> together =
        ScoreEngine::Score(model_, images, RequestAll(params));
    ASSERT_TRUE(together.ok()) << together.status();

    for (ScoreKind kind : AllScoreKinds()) {
      const absl::StatusOr<torch::Tensor> alone =
          ComputeScore(model_, images, kind, params);
      ASSERT_TRUE(alone.ok()) << alone.status();
      ExpectRelativelyNear(together->scores.at(kind), *alone, 1e-6,
                           std::string(ScoreName(kind)));
    }
  }
}

// Relative tolerance between batches of other sizes or orders. Float32
// kernels (oneDNN, OpenBLAS) block the work by batch size and row position,
// so logits differ by up to about 1e-6 relative; RR-Fast divides a logit
// difference by its step of 1e-3, which amplifies that rounding about a
// hundredfold.
double BatchTolerance(ScoreKind kind) {
  return kind == ScoreKind::kRrFast ? 1e-4 : 1e-5;
}

TEST_F(ScoreEngineTest, ImageAloneMatchesBatchOf64) {
  const torch::Tensor images = RandomImages(64, 3);
  const ScoreRequest request = RequestAll(GradientParams());
  const absl::StatusOr<ScoreResult> batch =
      ScoreEngine::Score(model_, images, request);
  ASSERT_TRUE(batch.ok()) << batch.status();

  for (int64_t index : {0, 17, 63}) {
    const absl::StatusOr<ScoreResult> alone =
        ScoreEngine::Score(model_, images.narrow(0, index, 1), request);
    ASSERT_TRUE(alone.ok()) << alone.status();
    for (ScoreKind kind : AllScoreKinds()) {
      ExpectRelativelyNear(alone->scores.at(kind),
                           batch->scores.at(kind).narrow(0, index, 1),
                           BatchTolerance(kind),
                           absl::StrCat(ScoreName(kind), " of image ", index));
    }
  }
}

TEST_F(ScoreEngineTest, ReorderedBatchGivesSameScores) {
  const torch::Tensor images = RandomImages(64, 14);
  const torch::Tensor order = torch::randperm(64, torch::kInt64);
  const ScoreRequest request = RequestAll(GradientParams());
  const absl::StatusOr<ScoreResult> original =
      ScoreEngine::Score(model_, images, request);
  ASSERT_TRUE(original.ok()) << original.status();
  const absl::StatusOr<ScoreResult> reordered =
      ScoreEngine::Score(model_, images.index_select(0, order), request);
  ASSERT_TRUE(reordered.ok()) << reordered.status();

  for (ScoreKind kind : AllScoreKinds()) {
    ExpectRelativelyNear(reordered->scores.at(kind),
                         original->scores.at(kind).index_select(0, order),
                         BatchTolerance(kind), std::string(ScoreName(kind)));
  }
}

TEST_F(ScoreEngineTest, RestoresTrainingMode) {
  const torch::Tensor images = RandomImages(4, 4);
  const absl::StatusOr<ScoreResult> in_eval =
      ScoreEngine::Score(model_, images, RequestAll(GradientParams()));
  ASSERT_TRUE(in_eval.ok()) << in_eval.status();

  model_.train();
  const absl::StatusOr<ScoreResult> in_train =
      ScoreEngine::Score(model_, images, RequestAll(GradientParams()));
  ASSERT_TRUE(in_train.ok()) << in_train.status();

  EXPECT_TRUE(model_.is_training());
  // Dropout is off while scoring, so the scores do not change.
  for (ScoreKind kind : AllScoreKinds()) {
    EXPECT_TRUE(in_train->scores.at(kind).equal(in_eval->scores.at(kind)))
        << ScoreName(kind);
  }
}

TEST_F(ScoreEngineTest, KeepsEvaluationMode) {
  const absl::StatusOr<ScoreResult> result = ScoreEngine::Score(
      model_, RandomImages(2, 5), RequestAll(GradientParams()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(model_.is_training());
}

TEST_F(ScoreEngineTest, LeavesParameterGradientsUndefined) {
  ScoreParams params = GradientParams();
  params.rr_bs_pgd_steps = 3;
  const absl::StatusOr<ScoreResult> result =
      ScoreEngine::Score(model_, RandomImages(4, 6), RequestAll(params));
  ASSERT_TRUE(result.ok()) << result.status();

  for (const auto& parameter : model_.named_parameters()) {
    EXPECT_TRUE(parameter.value.requires_grad()) << parameter.name;
    EXPECT_FALSE(parameter.value.grad().defined()) << parameter.name;
  }
}

TEST_F(ScoreEngineTest, LeavesInputUntouched) {
  const torch::Tensor images = RandomImages(4, 7);
  const torch::Tensor copy = images.clone();
  const absl::StatusOr<ScoreResult> result =
      ScoreEngine::Score(model_, images, RequestAll(GradientParams()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(images.equal(copy));
  EXPECT_FALSE(images.requires_grad());
}

TEST_F(ScoreEngineTest, WorksInsideInferenceMode) {
  const torch::Tensor images = RandomImages(4, 8);
  const absl::StatusOr<ScoreResult> outside =
      ScoreEngine::Score(model_, images, RequestAll(GradientParams()));
  ASSERT_TRUE(outside.ok()) << outside.status();

  c10::InferenceMode inference;
  const torch::Tensor inference_images = images.clone();
  const absl::StatusOr<ScoreResult> inside = ScoreEngine::Score(
      model_, inference_images, RequestAll(GradientParams()));
  ASSERT_TRUE(inside.ok()) << inside.status();
  for (ScoreKind kind : AllScoreKinds()) {
    EXPECT_TRUE(inside->scores.at(kind).equal(outside->scores.at(kind)))
        << ScoreName(kind);
  }
}

TEST_F(ScoreEngineTest, ConcurrentCallsMatchSerialCall) {
  const torch::Tensor images = RandomImages(8, 15);
  const ScoreRequest request = RequestAll(GradientParams());
  const absl::StatusOr<ScoreResult> serial =
      ScoreEngine::Score(model_, images, request);
  ASSERT_TRUE(serial.ok()) << serial.status();

  // Two threads score the same evaluation-mode module three times each.
  constexpr int kThreads = 2;
  constexpr int kCallsPerThread = 3;
  std::vector<absl::StatusOr<ScoreResult>> results(kThreads * kCallsPerThread,
                                                   absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; call < kCallsPerThread; ++call) {
        results[t * kCallsPerThread + call] =
            ScoreEngine::Score(model_, images, request);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  // A pass that finds the intra-op pool busy runs on its caller's thread
  // alone, which splits the sums differently from the serial call.
  for (const absl::StatusOr<ScoreResult>& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    for (ScoreKind kind : AllScoreKinds()) {
      ExpectRelativelyNear(result->scores.at(kind), serial->scores.at(kind),
                           BatchTolerance(kind), std::string(ScoreName(kind)));
    }
  }
  EXPECT_FALSE(model_.is_training());
}

TEST_F(ScoreEngineTest, DuplicateKindsScoreOnce) {
  ScoreRequest request;
  request.scores = {ScoreKind::kMsr, ScoreKind::kMsr, ScoreKind::kRrFast};
  const absl::StatusOr<ScoreResult> result =
      ScoreEngine::Score(model_, RandomImages(2, 16), request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scores.size(), 2u);
  EXPECT_FALSE(result->rr_bs_forwards.defined());
}

TEST_F(ScoreEngineTest, RrBsEarlyStopMatchesFixedIterations) {
  const torch::Tensor images = RandomImages(32, 9);
  ScoreParams fixed;
  fixed.rr_bs_rel_tol = 0.0;
  const ScoreParams early;  // default rel_tol

  ScoreRequest request;
  request.scores = {ScoreKind::kRrBs};
  request.params = fixed;
  const absl::StatusOr<ScoreResult> full =
      ScoreEngine::Score(model_, images, request);
  ASSERT_TRUE(full.ok()) << full.status();
  request.params = early;
  const absl::StatusOr<ScoreResult> stopped =
      ScoreEngine::Score(model_, images, request);
  ASSERT_TRUE(stopped.ok()) << stopped.status();

  ExpectRelativelyNear(stopped->scores.at(ScoreKind::kRrBs),
                       full->scores.at(ScoreKind::kRrBs), 1e-3, "rr_bs");
  EXPECT_LT(stopped->rr_bs_forwards.sum().item<int64_t>(),
            full->rr_bs_forwards.sum().item<int64_t>());
  EXPECT_LE(full->rr_bs_forwards.max().item<int64_t>(), 24);
}

TEST_F(ScoreEngineTest, PgdRadiusIsPositiveAndFinite) {
  ScoreParams params;
  params.rr_bs_pgd_steps = 3;
  ScoreRequest request;
  request.scores = {ScoreKind::kRrBs};
  request.params = params;
  const absl::StatusOr<ScoreResult> result =
      ScoreEngine::Score(model_, RandomImages(8, 10), request);
  ASSERT_TRUE(result.ok()) << result.status();

  const torch::Tensor radius = result->scores.at(ScoreKind::kRrBs);
  EXPECT_TRUE((radius > 0).all().item<bool>());
  EXPECT_TRUE(radius.isfinite().all().item<bool>());
  EXPECT_EQ(result->rr_bs_forwards.remainder(3).count_nonzero().item<int64_t>(),
            0);
}

TEST_F(ScoreEngineTest, ReportsStageTimes) {
  const absl::StatusOr<ScoreResult> result = ScoreEngine::Score(
      model_, RandomImages(4, 11), RequestAll(GradientParams()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->forward_seconds, 0.0);
  EXPECT_GT(result->backward_seconds, 0.0);
  EXPECT_GT(result->extra_seconds, 0.0);
}

// Returns the status of scoring `images` with MSR.
absl::Status ScoreStatus(torch::jit::Module& model,
                         const torch::Tensor& images) {
  ScoreRequest request;
  request.scores = {ScoreKind::kMsr};
  return ScoreEngine::Score(model, images, request).status();
}

TEST_F(ScoreEngineTest, RejectsThreeDimensionalImages) {
  const absl::Status status = ScoreStatus(model_, torch::rand({1, 28, 28}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "images must be 4-D N x C x H x W, got shape [1, 28, 28]");
}

TEST_F(ScoreEngineTest, RejectsFloat64Images) {
  const absl::Status status =
      ScoreStatus(model_, torch::rand({1, 1, 28, 28}, torch::kFloat64));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "images must be float32, got Double");
}

TEST_F(ScoreEngineTest, RejectsValuesOutsideUnitInterval) {
  const absl::Status status =
      ScoreStatus(model_, torch::full({2, 1, 28, 28}, 255.0f));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "images must have pixel values in [0, 1], got min 255 and max 255");
}

TEST_F(ScoreEngineTest, RejectsNan) {
  torch::Tensor images = torch::rand({2, 1, 28, 28});
  images[1][0][3][3] = std::numeric_limits<float>::quiet_NaN();
  const absl::Status status = ScoreStatus(model_, images);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("pixel values in [0, 1]"));
}

TEST_F(ScoreEngineTest, RejectsEmptyBatch) {
  const absl::Status status = ScoreStatus(model_, torch::rand({0, 1, 28, 28}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "images must be a non-empty batch, got shape [0, 1, 28, 28]");
}

TEST_F(ScoreEngineTest, RejectsEmptyScoreList) {
  ScoreRequest request;
  const absl::Status status =
      ScoreEngine::Score(model_, RandomImages(1, 12), request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("lists no scores"));
}

TEST_F(ScoreEngineTest, RejectsInvalidParams) {
  ScoreRequest request = RequestAll(ScoreParams());
  request.params.rr_fast_step = 0.0;
  const absl::Status status =
      ScoreEngine::Score(model_, RandomImages(1, 13), request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "rr_fast_step must be finite and > 0, got 0");
}

TEST_F(ScoreEngineTest, RejectsWrongChannelCount) {
  const absl::Status status = ScoreStatus(model_, torch::rand({2, 3, 28, 28}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(),
              HasSubstr("forward pass on images of shape [2, 3, 28, 28]"));
  EXPECT_FALSE(model_.is_training());
}

TEST_F(ScoreEngineTest, RejectsWrongChannelCountForGradientScores) {
  model_.train();
  ScoreRequest request = RequestAll(GradientParams());
  const absl::Status status =
      ScoreEngine::Score(model_, torch::rand({2, 3, 28, 28}), request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(model_.is_training());
}

}  // namespace
}  // namespace rat
