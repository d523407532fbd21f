#include "trainer/schedule.h"

#include <cmath>

#include "gtest/gtest.h"

namespace rat {
namespace {

constexpr double kPi = 3.14159265358979323846;

LrSchedule TestSchedule(WarmupShape warmup) {
  LrSchedule schedule;
  schedule.peak_lr = 0.2;
  schedule.min_lr = 0.0;
  schedule.warmup_steps = 10;
  schedule.total_steps = 110;
  schedule.warmup = warmup;
  return schedule;
}

TEST(LearningRateTest, LinearWarmupRisesToPeak) {
  const LrSchedule schedule = TestSchedule(WarmupShape::kLinear);
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 0), 0.02);
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 4), 0.1);
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 9), 0.2);
}

TEST(LearningRateTest, CosineWarmupRisesToPeak) {
  const LrSchedule schedule = TestSchedule(WarmupShape::kCosine);
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 4), 0.1);  // (1 - cos(pi/2)) / 2
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 0),
                   0.2 * (1 - std::cos(kPi * 0.1)) / 2);
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 9), 0.2);
}

TEST(LearningRateTest, CosineDecayAfterWarmup) {
  const LrSchedule schedule = TestSchedule(WarmupShape::kLinear);
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 10), 0.2);
  EXPECT_NEAR(LearningRateAt(schedule, 60), 0.1, 1e-12);
  EXPECT_NEAR(LearningRateAt(schedule, 35), 0.1 * (1 + std::cos(kPi / 4)),
              1e-12);
  EXPECT_NEAR(LearningRateAt(schedule, 110), 0.0, 1e-12);
  EXPECT_NEAR(LearningRateAt(schedule, 500), 0.0, 1e-12);
}

TEST(LearningRateTest, DecaysToMinimum) {
  LrSchedule schedule = TestSchedule(WarmupShape::kLinear);
  schedule.min_lr = 0.01;
  EXPECT_NEAR(LearningRateAt(schedule, 60), 0.105, 1e-12);
  EXPECT_NEAR(LearningRateAt(schedule, 110), 0.01, 1e-12);
}

TEST(LearningRateTest, NoWarmupStartsAtPeak) {
  LrSchedule schedule = TestSchedule(WarmupShape::kLinear);
  schedule.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(LearningRateAt(schedule, 0), 0.2);
}

TEST(ParseWarmupShapeTest, RejectsUnknownShape) {
  EXPECT_EQ(ParseWarmupShape("cosine").value(), WarmupShape::kCosine);
  EXPECT_EQ(ParseWarmupShape("step").status().message(),
            "warmup shape \"step\" is invalid; expected linear or cosine");
}

TEST(MixupActiveTest, OffForLastEpochs) {
  EXPECT_TRUE(MixupActive(1.0, 10, 0, 500));
  EXPECT_TRUE(MixupActive(1.0, 10, 489, 500));
  EXPECT_FALSE(MixupActive(1.0, 10, 490, 500));
  EXPECT_FALSE(MixupActive(1.0, 10, 499, 500));
}

TEST(MixupActiveTest, OffWhenAlphaIsZero) {
  EXPECT_FALSE(MixupActive(0.0, 0, 0, 10));
}

TEST(SampleMixupTest, DependsOnlyOnSeedAndStep) {
  MixupParams a = SampleMixup(1.0, 16, 7, 3);
  MixupParams b = SampleMixup(1.0, 16, 7, 3);
  MixupParams c = SampleMixup(1.0, 16, 7, 4);
  EXPECT_EQ(a.lambda, b.lambda);
  EXPECT_TRUE(a.permutation.equal(b.permutation));
  EXPECT_NE(a.lambda, c.lambda);
}

TEST(SampleMixupTest, LambdaInUnitIntervalAndPermutationValid) {
  for (int64_t step = 0; step < 50; ++step) {
    MixupParams mixup = SampleMixup(0.4, 8, 1, step);
    EXPECT_GE(mixup.lambda, 0.0);
    EXPECT_LE(mixup.lambda, 1.0);
    EXPECT_TRUE(
        std::get<0>(mixup.permutation.sort()).equal(at::arange(8, at::kLong)));
  }
}

TEST(SampleMixupTest, MeanOfBetaIsOneHalf) {
  // Beta(2, 2) has mean 1/2 and variance 1/20; 2000 draws give a standard
  // error of 0.005.
  double sum = 0;
  for (int64_t step = 0; step < 2000; ++step) {
    sum += SampleMixup(2.0, 2, 5, step).lambda;
  }
  EXPECT_NEAR(sum / 2000, 0.5, 0.02);
}

}  // namespace
}  // namespace rat
