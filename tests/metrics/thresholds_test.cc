#include <cmath>
#include <random>
#include <vector>

#include "core/metrics/incomplete_beta.h"
#include "core/metrics/metrics.h"
#include "gtest/gtest.h"
#include "tests/metrics/brute_force.h"

namespace rat {
namespace {

using ::rat::testing::BoolArray;

// P(Binomial(trials, p) <= errors) by direct summation.
double BinomialCdf(int errors, int trials, double p) {
  double cdf = 0;
  for (int i = 0; i <= errors; ++i) {
    const double log_term = std::lgamma(trials + 1.0) - std::lgamma(i + 1.0) -
                            std::lgamma(trials - i + 1.0) + i * std::log(p) +
                            (trials - i) * std::log1p(-p);
    cdf += std::exp(log_term);
  }
  return cdf;
}

// Samples with score = uniform and correctness more likely at high scores.
struct Dataset {
  std::vector<double> scores;
  BoolArray correct = BoolArray(0);
};

Dataset CalibratedDataset(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  Dataset data;
  data.scores.resize(n);
  data.correct = BoolArray(n);
  for (int i = 0; i < n; ++i) {
    data.scores[i] = std::round(uniform(rng) * 1000) / 1000;
    data.correct[i] = uniform(rng) < 0.5 + 0.5 * data.scores[i];
  }
  return data;
}

TEST(IncompleteBetaTest, MatchesClosedForms) {
  for (double x : {0.0, 0.1, 0.37, 0.5, 0.93, 1.0}) {
    EXPECT_NEAR(x, RegularizedIncompleteBeta(1, 1, x), 1e-14) << x;
    EXPECT_NEAR(std::pow(x, 3.5), RegularizedIncompleteBeta(3.5, 1, x), 1e-14)
        << x;
    EXPECT_NEAR(1 - std::pow(1 - x, 7), RegularizedIncompleteBeta(1, 7, x),
                1e-14)
        << x;
  }
  EXPECT_NEAR(0.5, RegularizedIncompleteBeta(40, 40, 0.5), 1e-13);
  EXPECT_NEAR(0.5, RegularizedIncompleteBeta(5e5, 5e5, 0.5), 1e-9);
}

TEST(IncompleteBetaTest, RejectsInvalidArguments) {
  EXPECT_TRUE(std::isnan(RegularizedIncompleteBeta(0, 1, 0.5)));
  EXPECT_TRUE(std::isnan(RegularizedIncompleteBeta(1, -1, 0.5)));
  EXPECT_TRUE(std::isnan(RegularizedIncompleteBeta(1, 1, 1.5)));
}

TEST(ClopperPearsonTest, ZeroErrorsHasClosedForm) {
  EXPECT_NEAR(0.2588656, ClopperPearsonUpper(0, 10, 0.05), 1e-7);
  EXPECT_DOUBLE_EQ(1 - std::pow(0.05, 0.1), ClopperPearsonUpper(0, 10, 0.05));
}

TEST(ClopperPearsonTest, MatchesPublishedValue) {
  // One-sided 95% upper limit for 1 event in 10 trials.
  EXPECT_NEAR(0.3942, ClopperPearsonUpper(1, 10, 0.05), 1e-4);
}

TEST(ClopperPearsonTest, BinomialTailAtBoundEqualsDelta) {
  const int cases[][2] = {{1, 10}, {5, 20}, {3, 100}, {50, 1000}, {9, 10}};
  for (const auto& [errors, trials] : cases) {
    for (double delta : {0.01, 0.05, 0.3}) {
      const double bound = ClopperPearsonUpper(errors, trials, delta);
      EXPECT_NEAR(delta, BinomialCdf(errors, trials, bound), 1e-9)
          << errors << " of " << trials << " at delta " << delta;
      EXPECT_GT(bound, static_cast<double>(errors) / trials);
    }
  }
}

TEST(ClopperPearsonTest, LargeSampleStaysAccurate) {
  // Normal approximation: 0.1 + 1.645 * sqrt(0.1 * 0.9 / 10^6) = 0.100494.
  EXPECT_NEAR(0.100494, ClopperPearsonUpper(100000, 1000000, 0.05), 2e-6);
}

TEST(ClopperPearsonTest, EdgeCases) {
  EXPECT_EQ(1.0, ClopperPearsonUpper(10, 10, 0.05));
  EXPECT_EQ(1.0, ClopperPearsonUpper(0, 0, 0.05));
  EXPECT_TRUE(std::isnan(ClopperPearsonUpper(11, 10, 0.05)));
  EXPECT_TRUE(std::isnan(ClopperPearsonUpper(-1, 10, 0.05)));
  EXPECT_TRUE(std::isnan(ClopperPearsonUpper(1, 10, 0)));
  EXPECT_TRUE(std::isnan(ClopperPearsonUpper(1, 10, 1)));
}

TEST(SelectiveRiskAtCoverageTest, AcceptsTopFraction) {
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  const BoolArray correct = {1, 0, 1, 0};
  absl::StatusOr<ThresholdChoice> choice =
      SelectiveRiskAtCoverage(scores, correct.span(), 0.75);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(0.7, choice->threshold);
  EXPECT_EQ(0.75, choice->coverage);
  EXPECT_DOUBLE_EQ(1.0 / 3, choice->risk);
}

TEST(SelectiveRiskAtCoverageTest, TieBlockCanExceedTargetCoverage) {
  const std::vector<double> scores = {0.9, 0.5, 0.5, 0.5, 0.1};
  const BoolArray correct = {1, 1, 0, 1, 0};
  absl::StatusOr<ThresholdChoice> choice =
      SelectiveRiskAtCoverage(scores, correct.span(), 0.4);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(0.5, choice->threshold);
  EXPECT_EQ(0.8, choice->coverage);
  EXPECT_EQ(0.25, choice->risk);
}

TEST(SelectiveRiskAtCoverageTest, RoundedCoverageNeedsNoExtraSample) {
  std::vector<double> scores;
  BoolArray correct(10);
  for (int i = 0; i < 10; ++i) {
    scores.push_back(1.0 - 0.05 * i);
    correct[i] = i != 1;
  }
  absl::StatusOr<ThresholdChoice> choice =
      SelectiveRiskAtCoverage(scores, correct.span(), 0.3);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_DOUBLE_EQ(0.3, choice->coverage);
}

TEST(SelectiveRiskAtCoverageTest, RejectsCoverageOutsideRange) {
  const std::vector<double> scores = {0.9};
  const BoolArray correct = {1};
  for (double coverage : {0.0, 1.01, -1.0, std::nan("")}) {
    absl::StatusOr<ThresholdChoice> choice =
        SelectiveRiskAtCoverage(scores, correct.span(), coverage);
    EXPECT_EQ(absl::StatusCode::kInvalidArgument, choice.status().code());
  }
}

TEST(CoverageAtRiskTest, FindsLargestCoverageWithinRisk) {
  // Risks by threshold: 0.9 -> 0, 0.8 -> 1/2, 0.7 -> 1/3, 0.6 -> 1/4.
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  const BoolArray correct = {1, 0, 1, 1};
  absl::StatusOr<ThresholdChoice> choice =
      CoverageAtRisk(scores, correct.span(), 0.3);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(0.6, choice->threshold);
  EXPECT_EQ(1.0, choice->coverage);
  EXPECT_EQ(0.25, choice->risk);

  absl::StatusOr<ThresholdChoice> strict =
      CoverageAtRisk(scores, correct.span(), 0.2);
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_EQ(0.9, strict->threshold);
  EXPECT_EQ(0.25, strict->coverage);
}

TEST(CoverageAtRiskTest, NotFoundWhenEveryThresholdIsTooRisky) {
  const std::vector<double> scores = {0.9, 0.8};
  const BoolArray correct = {0, 1};
  absl::StatusOr<ThresholdChoice> choice =
      CoverageAtRisk(scores, correct.span(), 0.4);
  EXPECT_EQ(absl::StatusCode::kNotFound, choice.status().code());
  EXPECT_EQ(
      "no threshold reaches a selective risk of at most 0.4; the lowest risk "
      "on these 2 samples is 1 at the highest threshold",
      choice.status().message());
}

TEST(CoverageAtRiskTest, MatchesBruteForceSweep) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 100; ++trial) {
    const auto samples = rat::testing::RandomSamples(rng, 1 + trial % 25);
    absl::StatusOr<ThresholdChoice> choice =
        CoverageAtRisk(samples.scores, samples.correct.span(), 0.3);

    double best_coverage = -1;
    for (double t : samples.scores) {
      int accepted = 0;
      int errors = 0;
      for (size_t i = 0; i < samples.scores.size(); ++i) {
        if (samples.scores[i] < t) continue;
        ++accepted;
        if (!samples.correct_vector[i]) ++errors;
      }
      if (errors <= 0.3 * accepted) {
        best_coverage = std::max(best_coverage, static_cast<double>(accepted) /
                                                    samples.scores.size());
      }
    }
    if (best_coverage < 0) {
      EXPECT_EQ(absl::StatusCode::kNotFound, choice.status().code());
    } else {
      ASSERT_TRUE(choice.ok()) << choice.status();
      EXPECT_DOUBLE_EQ(best_coverage, choice->coverage) << "trial " << trial;
    }
  }
}

TEST(GuaranteedRiskThresholdTest, BoundHoldsOnTheData) {
  const Dataset data = CalibratedDataset(5000, 17);
  absl::StatusOr<ThresholdChoice> choice =
      GuaranteedRiskThreshold(data.scores, data.correct.span(), 0.1, 0.05);
  ASSERT_TRUE(choice.ok()) << choice.status();

  // Recount the accepted set and recompute the bound at delta / ceil(log2 n).
  int accepted = 0;
  int errors = 0;
  for (size_t i = 0; i < data.scores.size(); ++i) {
    if (data.scores[i] < choice->threshold) continue;
    ++accepted;
    if (!data.correct.span()[i]) ++errors;
  }
  const double bound = ClopperPearsonUpper(errors, accepted, 0.05 / 13);
  EXPECT_DOUBLE_EQ(bound, choice->risk_upper_bound);
  EXPECT_LE(choice->risk_upper_bound, 0.1);
  EXPECT_LE(choice->risk, choice->risk_upper_bound);
  EXPECT_DOUBLE_EQ(static_cast<double>(accepted) / 5000, choice->coverage);
  EXPECT_DOUBLE_EQ(static_cast<double>(errors) / accepted, choice->risk);
  EXPECT_GT(choice->coverage, 0.1);
}

TEST(GuaranteedRiskThresholdTest, TrueRiskExceedsTargetAtMostDeltaOften) {
  // Population: score ~ U(0, 1) and P(error | score) = (1 - score) / 2, so
  // accepting score >= t has true selective risk (1 - t) / 4. The bound is
  // not monotone in coverage (few accepted samples widen it), so a small set
  // can miss the target; 4000 samples reach it almost always.
  constexpr int kCalibrationSets = 200;
  constexpr int kSamples = 4000;
  constexpr double kTargetRisk = 0.1;
  constexpr double kDelta = 0.1;
  std::mt19937 rng(2024);
  std::uniform_real_distribution<double> uniform(0, 1);
  int violations = 0;
  int found = 0;
  for (int set = 0; set < kCalibrationSets; ++set) {
    std::vector<double> scores(kSamples);
    BoolArray correct(kSamples);
    for (int i = 0; i < kSamples; ++i) {
      scores[i] = uniform(rng);
      correct[i] = uniform(rng) >= (1 - scores[i]) / 2;
    }
    absl::StatusOr<ThresholdChoice> choice =
        GuaranteedRiskThreshold(scores, correct.span(), kTargetRisk, kDelta);
    if (!choice.ok()) continue;
    ++found;
    if ((1 - choice->threshold) / 4 > kTargetRisk) ++violations;
  }
  EXPECT_GT(found, kCalibrationSets * 9 / 10);
  EXPECT_LE(violations, kDelta * kCalibrationSets);
}

TEST(GuaranteedRiskThresholdTest, LooserTargetGivesMoreCoverage) {
  const Dataset data = CalibratedDataset(5000, 17);
  absl::StatusOr<ThresholdChoice> strict =
      GuaranteedRiskThreshold(data.scores, data.correct.span(), 0.1, 0.05);
  absl::StatusOr<ThresholdChoice> loose =
      GuaranteedRiskThreshold(data.scores, data.correct.span(), 0.2, 0.05);
  ASSERT_TRUE(strict.ok()) << strict.status();
  ASSERT_TRUE(loose.ok()) << loose.status();
  EXPECT_GT(loose->coverage, strict->coverage);
}

TEST(GuaranteedRiskThresholdTest, NotFoundWhenTargetIsUnreachable) {
  const Dataset data = CalibratedDataset(200, 5);
  absl::StatusOr<ThresholdChoice> choice =
      GuaranteedRiskThreshold(data.scores, data.correct.span(), 0.001, 0.05);
  EXPECT_EQ(absl::StatusCode::kNotFound, choice.status().code());
}

TEST(GuaranteedRiskThresholdTest, RejectsInvalidArguments) {
  const std::vector<double> scores = {0.9, 0.1};
  const BoolArray correct = {1, 0};
  for (double risk : {0.0, 1.0, std::nan("")}) {
    EXPECT_EQ(absl::StatusCode::kInvalidArgument,
              GuaranteedRiskThreshold(scores, correct.span(), risk, 0.05)
                  .status()
                  .code());
  }
  for (double delta : {0.0, 1.0, -0.5}) {
    EXPECT_EQ(absl::StatusCode::kInvalidArgument,
              GuaranteedRiskThreshold(scores, correct.span(), 0.1, delta)
                  .status()
                  .code());
  }
  EXPECT_EQ(absl::StatusCode::kInvalidArgument,
            GuaranteedRiskThreshold(std::vector<double>(), BoolArray(0).span(),
                                    0.1, 0.05)
                .status()
                .code());
}

}  // namespace
}  // namespace rat
