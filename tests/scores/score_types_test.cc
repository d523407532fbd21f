#include "core/scores/score_types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace rat {
namespace {

using ::testing::HasSubstr;

TEST(ScoreNameTest, ParsesEveryName) {
  for (ScoreKind kind : AllScoreKinds()) {
    const absl::StatusOr<ScoreKind> parsed = ParseScoreKind(ScoreName(kind));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, kind);
  }
}

TEST(ScoreNameTest, ListsKindsInDeclarationOrder) {
  ASSERT_EQ(AllScoreKinds().size(), 9u);
  EXPECT_EQ(AllScoreKinds().front(), ScoreKind::kMsr);
  EXPECT_EQ(AllScoreKinds().back(), ScoreKind::kEnergy);
  EXPECT_EQ(ScoreName(ScoreKind::kRrFast), "rr_fast");
  EXPECT_EQ(ScoreName(ScoreKind::kNegEntropy), "neg_entropy");
}

TEST(ScoreNameTest, AcceptsDashesAndAnyCase) {
  const absl::StatusOr<ScoreKind> parsed = ParseScoreKind("RR-Fast");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, ScoreKind::kRrFast);
}

TEST(ScoreNameTest, RejectsUnknownName) {
  const absl::StatusOr<ScoreKind> parsed = ParseScoreKind("softmax");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("\"softmax\""));
  EXPECT_THAT(parsed.status().message(),
              HasSubstr("msr, odin, rr_fast, rr_bs, mls, neg_entropy, "
                        "margin, doctor, energy"));
}

TEST(NeedsInputGradientTest, DependsOnKindAndOdinEpsilon) {
  EXPECT_FALSE(NeedsInputGradient(ScoreKind::kMsr, 1e-3));
  EXPECT_FALSE(NeedsInputGradient(ScoreKind::kOdin, 0.0));
  EXPECT_TRUE(NeedsInputGradient(ScoreKind::kOdin, 1e-3));
  EXPECT_TRUE(NeedsInputGradient(ScoreKind::kRrFast, 0.0));
  EXPECT_TRUE(NeedsInputGradient(ScoreKind::kRrBs, 0.0));
  EXPECT_FALSE(NeedsInputGradient(ScoreKind::kEnergy, 0.0));
}

TEST(ValidateScoreParamsTest, AcceptsDefaults) {
  EXPECT_TRUE(ValidateScoreParams(ScoreParams()).ok());
}

TEST(ValidateScoreParamsTest, RejectsZeroTemperature) {
  ScoreParams params;
  params.odin_temperature = 0.0;
  const absl::Status status = ValidateScoreParams(params);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "odin_temperature must be finite and > 0, got 0");
}

TEST(ValidateScoreParamsTest, RejectsNegativeEpsilon) {
  ScoreParams params;
  params.odin_epsilon = -1e-3;
  const absl::Status status = ValidateScoreParams(params);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "odin_epsilon must be finite and >= 0, got -0.001");
}

TEST(ValidateScoreParamsTest, RejectsNonFiniteValues) {
  ScoreParams params;
  params.rr_fast_step = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(ValidateScoreParams(params).code(),
            absl::StatusCode::kInvalidArgument);

  params = ScoreParams();
  params.energy_temperature = std::numeric_limits<double>::infinity();
  EXPECT_EQ(ValidateScoreParams(params).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateScoreParamsTest, RejectsIterationCountOutOfRange) {
  ScoreParams params;
  params.rr_bs_max_iterations = 0;
  const absl::Status status = ValidateScoreParams(params);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "rr_bs_max_iterations must be in [1, 64], got 0");
}

TEST(ValidateScoreParamsTest, RejectsNegativePgdSteps) {
  ScoreParams params;
  params.rr_bs_pgd_steps = -1;
  const absl::Status status = ValidateScoreParams(params);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("rr_bs_pgd_steps"));
}

TEST(ValidateScoreParamsTest, AcceptsZeroRelTolAndEpsilon) {
  ScoreParams params;
  params.rr_bs_rel_tol = 0.0;
  params.odin_epsilon = 0.0;
  EXPECT_TRUE(ValidateScoreParams(params).ok());
}

}  // namespace
}  // namespace rat
