#include "core/metrics/curves.h"

#include <cmath>
#include <random>
#include <vector>

#include "core/metrics/metrics.h"
#include "gtest/gtest.h"
#include "tests/metrics/brute_force.h"

namespace rat {
namespace {

using ::rat::testing::BoolArray;

HistogramOptions Range(int bins, double low, double high) {
  HistogramOptions options;
  options.bins = bins;
  options.low = low;
  options.high = high;
  return options;
}

TEST(RocCurveTest, TieBlockIsOnePoint) {
  const std::vector<double> scores = {0.9, 0.5, 0.5, 0.1};
  const BoolArray correct = {1, 1, 0, 0};
  absl::StatusOr<std::optional<std::vector<RocPoint>>> curve =
      RocCurve(scores, correct.span());
  ASSERT_TRUE(curve.ok()) << curve.status();
  ASSERT_TRUE(curve->has_value());
  const std::vector<RocPoint>& points = **curve;
  ASSERT_EQ(4u, points.size());
  EXPECT_EQ(0.0, points[0].fpr);
  EXPECT_EQ(0.0, points[0].tpr);
  EXPECT_EQ(0.0, points[1].fpr);
  EXPECT_EQ(0.5, points[1].tpr);
  EXPECT_EQ(0.5, points[2].fpr);
  EXPECT_EQ(1.0, points[2].tpr);
  EXPECT_EQ(1.0, points[3].fpr);
  EXPECT_EQ(1.0, points[3].tpr);
}

TEST(RocCurveTest, TrapezoidAreaEqualsAuroc) {
  std::mt19937 rng(8);
  for (int trial = 0; trial < 50; ++trial) {
    const auto samples = rat::testing::RandomSamples(rng, 2 + trial);
    absl::StatusOr<std::optional<std::vector<RocPoint>>> curve =
        RocCurve(samples.scores, samples.correct.span());
    absl::StatusOr<std::optional<double>> auroc =
        Auroc(samples.scores, samples.correct.span());
    ASSERT_TRUE(curve.ok()) << curve.status();
    ASSERT_TRUE(auroc.ok()) << auroc.status();
    ASSERT_EQ(auroc->has_value(), curve->has_value());
    if (!curve->has_value()) continue;

    double area = 0;
    const std::vector<RocPoint>& points = **curve;
    for (size_t i = 1; i < points.size(); ++i) {
      area += (points[i].fpr - points[i - 1].fpr) *
              (points[i].tpr + points[i - 1].tpr) / 2;
    }
    EXPECT_NEAR(**auroc, area, 1e-12) << "trial " << trial;
  }
}

TEST(RocCurveTest, UndefinedWithoutErrors) {
  const std::vector<double> scores = {0.9, 0.5};
  const BoolArray correct = {1, 1};
  absl::StatusOr<std::optional<std::vector<RocPoint>>> curve =
      RocCurve(scores, correct.span());
  ASSERT_TRUE(curve.ok()) << curve.status();
  EXPECT_FALSE(curve->has_value());
}

TEST(HistogramCountsTest, CountsAndClampsOutOfRangeValues) {
  const std::vector<double> values = {-3, 0, 0.1, 0.5, 0.99, 1, 7};
  absl::StatusOr<std::vector<int64_t>> counts =
      HistogramCounts(values, Range(4, 0, 1));
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ((std::vector<int64_t>{3, 0, 1, 3}), *counts);
}

TEST(HistogramCountsTest, EmptyInputGivesZeroCounts) {
  absl::StatusOr<std::vector<int64_t>> counts =
      HistogramCounts(std::vector<double>(), Range(3, 0, 1));
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ((std::vector<int64_t>{0, 0, 0}), *counts);
}

TEST(HistogramCountsTest, RejectsInvalidOptionsAndValues) {
  const std::vector<double> values = {0.5};
  absl::StatusOr<std::vector<int64_t>> no_bins =
      HistogramCounts(values, Range(0, 0, 1));
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, no_bins.status().code());
  EXPECT_EQ("histogram bins 0 must be in [1, 1000000]",
            no_bins.status().message());

  absl::StatusOr<std::vector<int64_t>> too_many_bins =
      HistogramCounts(values, Range(2'000'000, 0, 1));
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, too_many_bins.status().code());

  absl::StatusOr<std::vector<int64_t>> empty_range =
      HistogramCounts(values, Range(2, 1, 1));
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, empty_range.status().code());

  const std::vector<double> with_nan = {0.5, std::nan("")};
  absl::StatusOr<std::vector<int64_t>> nan_value =
      HistogramCounts(with_nan, Range(2, 0, 1));
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, nan_value.status().code());
  EXPECT_EQ("value at index 1 is nan; expected a finite value",
            nan_value.status().message());
}

}  // namespace
}  // namespace rat
