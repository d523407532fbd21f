#include "core/metrics/metrics.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/metrics/brute_force.h"

namespace rat {
namespace {

using ::rat::testing::BoolArray;
using ::rat::testing::RandomSamples;
using ::rat::testing::Samples;

TEST(AurcTest, MatchesBruteForceWithTies) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 150; ++trial) {
    const Samples samples = RandomSamples(rng, 1 + trial % 8);
    const absl::Span<const bool> correct = samples.correct.span();

    absl::StatusOr<double> aurc = Aurc(samples.scores, correct);
    ASSERT_TRUE(aurc.ok()) << aurc.status();
    EXPECT_NEAR(rat::testing::AurcOverAllTieOrders(samples.scores,
                                                   samples.correct_vector),
                *aurc, 1e-12)
        << "trial " << trial;
  }
}

TEST(AurcTest, HandComputedValues) {
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  const BoolArray correct = {1, 0, 1, 0};

  // Risks at coverage 1/4..4/4: 0, 1/2, 1/3, 2/4.
  EXPECT_NEAR((0 + 0.5 + 1.0 / 3 + 0.5) / 4, *Aurc(scores, correct.span()),
              1e-15);
  // Optimal risks: 0, 0, 1/3, 2/4.
  EXPECT_NEAR((1.0 / 3 + 0.5) / 4, OptimalAurc(4, 2), 1e-15);
  EXPECT_NEAR(0.5 / 4, *Eaurc(scores, correct.span()), 1e-15);
}

TEST(AurcTest, AllTiedIsErrorRate) {
  const std::vector<double> scores = {0.5, 0.5, 0.5, 0.5};
  const BoolArray correct = {1, 0, 1, 0};
  EXPECT_NEAR(0.5, *Aurc(scores, correct.span()), 1e-15);
}

TEST(AurcTest, IndependentOfInputOrderWithinTies) {
  const std::vector<double> scores = {0.3, 0.3, 0.3, 0.9};
  const BoolArray errors_first = {0, 1, 1, 1};
  const BoolArray errors_last = {1, 1, 0, 1};
  EXPECT_EQ(*Aurc(scores, errors_first.span()),
            *Aurc(scores, errors_last.span()));
}

TEST(EaurcTest, PerfectRankingIsExactlyZero) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> scores(1000);
  BoolArray correct(1000);
  for (int i = 0; i < 1000; ++i) {
    scores[i] = uniform(rng);
    correct[i] = scores[i] > 0.3;
  }
  absl::StatusOr<double> eaurc = Eaurc(scores, correct.span());
  ASSERT_TRUE(eaurc.ok()) << eaurc.status();
  EXPECT_EQ(0.0, *eaurc);
}

TEST(EaurcTest, PerfectRankingWithTiedBlocksIsZero) {
  const std::vector<double> scores = {1, 1, 1, 0, 0};
  const BoolArray correct = {1, 1, 1, 0, 0};
  EXPECT_EQ(0.0, *Eaurc(scores, correct.span()));
}

TEST(EaurcTest, ThreeSamplesOneErrorUsesDiscreteFormula) {
  // Only k = 3 has an error in a perfect ranking: (1/3) * (1/3).
  EXPECT_NEAR(1.0 / 9, OptimalAurc(3, 1), 1e-15);
}

TEST(EaurcTest, OptimalAurcEdgeCases) {
  EXPECT_EQ(0.0, OptimalAurc(5, 0));
  EXPECT_EQ(0.0, OptimalAurc(0, 0));
  EXPECT_EQ(1.0, OptimalAurc(4, 4));
}

TEST(AurocTest, MatchesPairCountWithTies) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 200; ++trial) {
    const Samples samples = RandomSamples(rng, 1 + trial % 40);
    const absl::Span<const bool> correct = samples.correct.span();

    absl::StatusOr<std::optional<double>> auroc =
        Auroc(samples.scores, correct);
    ASSERT_TRUE(auroc.ok()) << auroc.status();
    const std::optional<double> expected =
        rat::testing::AurocByPairs(samples.scores, samples.correct_vector);
    ASSERT_EQ(expected.has_value(), auroc->has_value()) << "trial " << trial;
    if (expected.has_value()) {
      EXPECT_NEAR(*expected, **auroc, 1e-12) << "trial " << trial;
    }
  }
}

TEST(AurocTest, HandComputedValue) {
  // Correct {0.9, 0.7} against errors {0.8, 0.6}: 3 of 4 pairs ordered.
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  const BoolArray correct = {1, 0, 1, 0};
  EXPECT_DOUBLE_EQ(0.75, **Auroc(scores, correct.span()));
}

TEST(FprAtTprTest, MatchesThresholdSweep) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const Samples samples = RandomSamples(rng, 1 + trial % 60);
    const absl::Span<const bool> correct = samples.correct.span();

    absl::StatusOr<std::optional<double>> fpr =
        FprAtTpr(samples.scores, correct);
    ASSERT_TRUE(fpr.ok()) << fpr.status();
    const std::optional<double> expected =
        rat::testing::FprAt95TprBySweep(samples.scores, samples.correct_vector);
    ASSERT_EQ(expected.has_value(), fpr->has_value()) << "trial " << trial;
    if (expected.has_value()) {
      EXPECT_DOUBLE_EQ(*expected, **fpr) << "trial " << trial;
    }
  }
}

TEST(FprAtTprTest, HandComputedValue) {
  // Catching both errors needs threshold 0.8, which also flags 0.7.
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  const BoolArray correct = {1, 0, 1, 0};
  EXPECT_DOUBLE_EQ(0.5, **FprAtTpr(scores, correct.span()));
}

TEST(FprAtTprTest, TieBlockIsFlaggedWhole) {
  // 20 errors: 19 must be flagged. The block at 0.5 contains the 19th error and
  // two correct samples, which are flagged with it.
  std::vector<double> scores;
  std::vector<int> flags;
  for (int i = 0; i < 18; ++i) {
    scores.push_back(0.1);
    flags.push_back(0);
  }
  for (int value : {0, 0, 1, 1}) {
    scores.push_back(0.5);
    flags.push_back(value);
  }
  for (int i = 0; i < 8; ++i) {
    scores.push_back(0.9);
    flags.push_back(1);
  }
  BoolArray correct(flags.size());
  for (size_t i = 0; i < flags.size(); ++i) correct[i] = flags[i] != 0;
  EXPECT_DOUBLE_EQ(0.2, **FprAtTpr(scores, correct.span()));
}

TEST(FprAtTprTest, RejectsRateOutsideUnitInterval) {
  const std::vector<double> scores = {0.9, 0.1};
  const BoolArray correct = {1, 0};
  for (double tpr : {0.0, -0.1, 1.5, std::nan("")}) {
    EXPECT_EQ(absl::StatusCode::kInvalidArgument,
              FprAtTpr(scores, correct.span(), tpr).status().code());
  }
}

TEST(AuprTest, MatchesBruteForceAveragePrecision) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const Samples samples = RandomSamples(rng, 1 + trial % 30);
    const absl::Span<const bool> correct = samples.correct.span();

    for (bool errors_positive : {true, false}) {
      absl::StatusOr<std::optional<double>> aupr =
          errors_positive ? AuprError(samples.scores, correct)
                          : AuprSuccess(samples.scores, correct);
      ASSERT_TRUE(aupr.ok()) << aupr.status();
      const std::optional<double> expected =
          rat::testing::AveragePrecisionBySweep(
              samples.scores, samples.correct_vector, errors_positive);
      ASSERT_EQ(expected.has_value(), aupr->has_value()) << "trial " << trial;
      if (expected.has_value()) {
        EXPECT_NEAR(*expected, **aupr, 1e-12) << "trial " << trial;
      }
    }
  }
}

TEST(AuprTest, HandComputedValues) {
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  const BoolArray correct = {1, 0, 1, 0};
  // Errors at ranks 1 and 3 from the bottom: (1 + 2/3) / 2.
  EXPECT_DOUBLE_EQ(5.0 / 6, **AuprError(scores, correct.span()));
  EXPECT_DOUBLE_EQ(5.0 / 6, **AuprSuccess(scores, correct.span()));
}

TEST(MisdMetricsTest, MatchesSingleMetricFunctions) {
  std::mt19937 rng(21);
  const Samples samples = RandomSamples(rng, 500);
  const absl::Span<const bool> correct = samples.correct.span();

  absl::StatusOr<MisdMetrics> metrics =
      ComputeMisdMetrics(samples.scores, correct);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(500, metrics->num_samples);
  EXPECT_EQ(std::count(samples.correct_vector.begin(),
                       samples.correct_vector.end(), false),
            metrics->num_errors);
  EXPECT_EQ(*Accuracy(correct), metrics->accuracy);
  EXPECT_EQ(*Aurc(samples.scores, correct), metrics->aurc);
  EXPECT_EQ(*Eaurc(samples.scores, correct), metrics->eaurc);
  EXPECT_EQ(*Auroc(samples.scores, correct), metrics->auroc);
  EXPECT_EQ(*FprAtTpr(samples.scores, correct), metrics->fpr_at_95_tpr);
  EXPECT_EQ(*AuprError(samples.scores, correct), metrics->aupr_error);
  EXPECT_EQ(*AuprSuccess(samples.scores, correct), metrics->aupr_success);
}

TEST(MisdMetricsTest, VectorBoolOverloadsMatchSpanVersions) {
  std::mt19937 rng(31);
  const Samples samples = RandomSamples(rng, 300);
  const absl::Span<const bool> correct = samples.correct.span();
  const std::vector<bool>& flags = samples.correct_vector;

  absl::StatusOr<MisdMetrics> from_vector =
      ComputeMisdMetrics(samples.scores, flags);
  ASSERT_TRUE(from_vector.ok()) << from_vector.status();
  EXPECT_EQ(*Aurc(samples.scores, correct), from_vector->aurc);
  EXPECT_EQ(*Auroc(samples.scores, correct), from_vector->auroc);
  EXPECT_EQ(*Aurc(samples.scores, correct), *Aurc(samples.scores, flags));
  EXPECT_EQ(*Accuracy(correct), *Accuracy(flags));
  EXPECT_EQ(SelectiveRiskAtCoverage(samples.scores, correct, 0.5)->threshold,
            SelectiveRiskAtCoverage(samples.scores, flags, 0.5)->threshold);
  EXPECT_EQ(absl::StatusCode::kInvalidArgument,
            Aurc(samples.scores, std::vector<bool>(3)).status().code());
}

TEST(MisdMetricsTest, NoErrorsLeavesRankingMetricsUndefined) {
  const std::vector<double> scores = {0.9, 0.4, 0.4};
  const BoolArray correct = {1, 1, 1};
  absl::StatusOr<MisdMetrics> metrics =
      ComputeMisdMetrics(scores, correct.span());
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(1.0, metrics->accuracy);
  EXPECT_EQ(0.0, metrics->aurc);
  EXPECT_EQ(0.0, metrics->eaurc);
  EXPECT_FALSE(metrics->auroc.has_value());
  EXPECT_FALSE(metrics->fpr_at_95_tpr.has_value());
  EXPECT_FALSE(metrics->aupr_error.has_value());
  EXPECT_FALSE(metrics->aupr_success.has_value());
}

TEST(MisdMetricsTest, NoCorrectSamplesLeavesRankingMetricsUndefined) {
  const std::vector<double> scores = {0.9, 0.4};
  const BoolArray correct = {0, 0};
  absl::StatusOr<MisdMetrics> metrics =
      ComputeMisdMetrics(scores, correct.span());
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(0.0, metrics->accuracy);
  EXPECT_EQ(1.0, metrics->aurc);
  EXPECT_EQ(0.0, metrics->eaurc);
  EXPECT_FALSE(metrics->auroc.has_value());
  EXPECT_FALSE(metrics->fpr_at_95_tpr.has_value());
  EXPECT_FALSE(metrics->aupr_error.has_value());
  EXPECT_FALSE(metrics->aupr_success.has_value());
}

TEST(MisdMetricsTest, RejectsEmptyInput) {
  const BoolArray no_flags(0);
  absl::StatusOr<MisdMetrics> metrics =
      ComputeMisdMetrics(std::vector<double>(), no_flags.span());
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, metrics.status().code());
  EXPECT_EQ("MisD metrics need at least one sample, got 0 scores",
            metrics.status().message());
  EXPECT_EQ(absl::StatusCode::kInvalidArgument,
            Accuracy(no_flags.span()).status().code());
}

TEST(MisdMetricsTest, RejectsLengthMismatch) {
  const std::vector<double> scores = {0.9, 0.4, 0.1};
  const BoolArray correct = {1, 0};
  absl::Status status = ValidateMisdInput(scores, correct.span());
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, status.code());
  EXPECT_EQ("got 3 scores but 2 correctness flags; expected one flag per score",
            status.message());
}

TEST(MisdMetricsTest, RejectsNonFiniteScoreNamingIndex) {
  const BoolArray correct = {1, 0, 1};
  const std::vector<double> with_nan = {0.9, 0.4, std::nan("")};
  absl::Status nan_status = ValidateMisdInput(with_nan, correct.span());
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, nan_status.code());
  EXPECT_EQ("score at index 2 is nan; expected a finite value",
            nan_status.message());

  const std::vector<double> with_inf = {
      0.9, -std::numeric_limits<double>::infinity(), 0.1};
  absl::StatusOr<double> aurc = Aurc(with_inf, correct.span());
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, aurc.status().code());
  EXPECT_EQ("score at index 1 is -inf; expected a finite value",
            aurc.status().message());
}

TEST(RiskCoverageCurveTest, OnePointPerDistinctScore) {
  const std::vector<double> scores = {0.2, 0.9, 0.5, 0.5};
  const BoolArray correct = {0, 1, 1, 0};
  absl::StatusOr<std::vector<RiskCoveragePoint>> curve =
      RiskCoverageCurve(scores, correct.span());
  ASSERT_TRUE(curve.ok()) << curve.status();
  ASSERT_EQ(3u, curve->size());
  EXPECT_EQ(0.9, (*curve)[0].threshold);
  EXPECT_EQ(0.25, (*curve)[0].coverage);
  EXPECT_EQ(0.0, (*curve)[0].risk);
  EXPECT_EQ(0.5, (*curve)[1].threshold);
  EXPECT_EQ(0.75, (*curve)[1].coverage);
  EXPECT_DOUBLE_EQ(1.0 / 3, (*curve)[1].risk);
  EXPECT_EQ(0.2, (*curve)[2].threshold);
  EXPECT_EQ(1.0, (*curve)[2].coverage);
  EXPECT_EQ(0.5, (*curve)[2].risk);
}

}  // namespace
}  // namespace rat
