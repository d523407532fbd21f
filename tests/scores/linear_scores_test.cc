// Scores of linear models, where the robust radius has a closed form:
// f(x) = W x + b moves the gap f_a - f_j at rate (W_a - W_j) . d along d.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/scores/score_engine.h"
#include "tests/scores/test_models.h"

namespace rat {
namespace {

using ::rat::testing::MakeLinearModel;

constexpr int64_t kPixels = 64;  // 1 x 8 x 8 images

// Runs one score and fails the test on an error status.
torch::Tensor Score(torch::jit::Module& model, const torch::Tensor& images,
                    ScoreKind kind, const ScoreParams& params) {
  absl::StatusOr<torch::Tensor> scores =
      ComputeScore(model, images, kind, params);
  EXPECT_TRUE(scores.ok()) << scores.status();
  return scores.ok() ? *scores : torch::Tensor();
}

// A K-class linear model centred on the grey image 0.5, so that the radii
// of images near 0.5 are small and their attacks stay inside [0, 1].
struct LinearCase {
  torch::Tensor weight;  // K x D float64 copy of the model's weights
  torch::Tensor bias;    // K float64
  torch::jit::Module model;
};

LinearCase MakeCenteredCase(int64_t classes, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor weight = torch::randn({classes, kPixels});
  const torch::Tensor bias =
      -0.5 * weight.sum(1) + 2.0 * torch::randn({classes});
  LinearCase result{weight.to(torch::kFloat64), bias.to(torch::kFloat64),
                    MakeLinearModel(weight, bias)};
  return result;
}

// Images with pixel values in [0.4, 0.6], N x 1 x 8 x 8.
torch::Tensor GreyImages(int64_t count, uint64_t seed) {
  torch::manual_seed(seed);
  return 0.4 + 0.2 * torch::rand({count, 1, 8, 8});
}

// Logits of the float32 model, as float64. The closed forms below take the
// gaps from them: float32 logits near 10 carry rounding near 1e-6, which
// the radius cannot undo.
torch::Tensor ModelLogits(LinearCase& c, const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return c.model.forward({images}).toTensor().to(torch::kFloat64);
}

// Largest error of the default 24-iteration search for a radius `radius`:
// doubling from 1e-6 to the first flip takes k = ceil(log2(radius / 1e-6))
// steps and brackets the radius in [lo, 2 lo]; the 24 - k bisections that
// remain halve that bracket, and the midpoint is off by half of it. The
// default rel_tol of 1e-3 may stop earlier, at a bracket of 1e-3 lo.
double DefaultBisectionError(double radius) {
  const int doublings = static_cast<int>(std::ceil(std::log2(radius / 1e-6)));
  const double bracket =
      std::max(std::ldexp(radius, -(24 - doublings)), 1e-3 * radius);
  return bracket / 2 + 1e-7;
}

// Distance along -d (d = sign of the confidence gradient at T) until the
// first gap closes, capped at 1, per image.
torch::Tensor ExactRadiusAlongDirection(LinearCase& c,
                                        const torch::Tensor& images,
                                        double temperature) {
  const torch::Tensor logits = ModelLogits(c, images);
  const int64_t count = images.size(0);
  torch::Tensor radius = torch::ones({count}, torch::kFloat64);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t top = logits[i].argmax().item<int64_t>();
    const torch::Tensor p = torch::softmax(logits[i] / temperature, 0);
    // grad log p_T(top) is proportional to sum_j p_j (W_top - W_j).
    const torch::Tensor direction =
        torch::matmul(p.unsqueeze(0), c.weight[top].unsqueeze(0) - c.weight)
            .squeeze(0)
            .sign();
    for (int64_t j = 0; j < logits.size(1); ++j) {
      if (j == top) continue;
      const double rate =
          torch::dot(c.weight[top] - c.weight[j], direction).item<double>();
      const double gap = (logits[i][top] - logits[i][j]).item<double>();
      if (rate > 0) {
        radius[i] = std::min(radius[i].item<double>(), gap / rate);
      }
    }
  }
  return radius;
}

void ExpectRelativelyNear(const torch::Tensor& actual,
                          const torch::Tensor& expected, double tolerance) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual[i].item<double>();
    const double e = expected[i].item<double>();
    EXPECT_NEAR(a, e, tolerance * std::abs(e)) << "image " << i;
  }
}

// RR-BS decides each budget by the sign of a float32 gap, which carries
// rounding near 1e-6 for logits near 10; at a closing rate near 50 per
// pixel unit that moves the flip point by about 2e-8 pixels.
constexpr double kFlipRoundingPixels = 1e-7;

void ExpectBisectionNear(const torch::Tensor& actual,
                         const torch::Tensor& expected, double rel_tol) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual[i].item<double>();
    const double e = expected[i].item<double>();
    EXPECT_NEAR(a, e, rel_tol * std::abs(e) + kFlipRoundingPixels)
        << "image " << i;
  }
}

TEST(LinearRrFastTest, TwoClassesEqualsExactRadius) {
  LinearCase c = MakeCenteredCase(2, 1);
  const torch::Tensor images = GreyImages(16, 2);
  ScoreParams params;
  params.rr_fast_step = 0.05;  // exact for a linear model, less rounding

  const torch::Tensor radius =
      Score(c.model, images, ScoreKind::kRrFast, params);

  // m / ||W_a - W_b||_1 for the predicted class a and the other class b.
  const torch::Tensor logits = ModelLogits(c, images);
  const torch::Tensor gap = (logits.select(1, 0) - logits.select(1, 1)).abs();
  const double norm = (c.weight[0] - c.weight[1]).abs().sum().item<double>();
  ASSERT_TRUE((gap / norm < 0.4).all().item<bool>()) << "attack leaves [0, 1]";
  ExpectRelativelyNear(radius, gap / norm, 1e-5);
}

TEST(LinearRrFastTest, DefaultStepEqualsExactRadius) {
  LinearCase c = MakeCenteredCase(2, 3);
  const torch::Tensor images = GreyImages(16, 4);

  const torch::Tensor radius =
      Score(c.model, images, ScoreKind::kRrFast, ScoreParams());

  ExpectRelativelyNear(radius, ExactRadiusAlongDirection(c, images, 1.0), 1e-3);
}

TEST(LinearRrFastTest, ManyClassesEqualsDistanceAlongDirection) {
  LinearCase c = MakeCenteredCase(5, 5);
  const torch::Tensor images = GreyImages(32, 6);
  ScoreParams params;
  params.rr_fast_step = 0.05;

  for (double temperature : {1.0, 2.5}) {
    params.rr_fast_temperature = temperature;
    const torch::Tensor radius =
        Score(c.model, images, ScoreKind::kRrFast, params);
    ExpectRelativelyNear(
        radius, ExactRadiusAlongDirection(c, images, temperature), 1e-5);
  }
}

TEST(LinearRrBsTest, TwoClassesAgreesWithinBisectionTolerance) {
  LinearCase c = MakeCenteredCase(2, 7);
  const torch::Tensor images = GreyImages(16, 8);
  ScoreParams params;
  params.rr_bs_max_iterations = 48;
  params.rr_bs_rel_tol = 1e-7;

  const torch::Tensor radius = Score(c.model, images, ScoreKind::kRrBs, params);

  ExpectBisectionNear(radius, ExactRadiusAlongDirection(c, images, 1.0), 1e-6);
}

TEST(LinearRrBsTest, DefaultSearchAgreesWithinItsBracket) {
  LinearCase c = MakeCenteredCase(2, 9);
  const torch::Tensor images = GreyImages(16, 10);

  const torch::Tensor radius =
      Score(c.model, images, ScoreKind::kRrBs, ScoreParams());

  const torch::Tensor exact = ExactRadiusAlongDirection(c, images, 1.0);
  for (int64_t i = 0; i < images.size(0); ++i) {
    const double expected = exact[i].item<double>();
    EXPECT_NEAR(radius[i].item<double>(), expected,
                DefaultBisectionError(expected))
        << "image " << i;
  }
}

TEST(LinearRrBsTest, PgdMatchesFgsmOnLinearModel) {
  LinearCase c = MakeCenteredCase(2, 11);
  const torch::Tensor images = GreyImages(8, 12);
  ScoreParams params;
  params.rr_bs_max_iterations = 48;
  params.rr_bs_rel_tol = 1e-7;
  params.rr_bs_pgd_steps = 7;

  ScoreRequest request;
  request.scores = {ScoreKind::kRrBs};
  request.params = params;
  const absl::StatusOr<ScoreResult> result =
      ScoreEngine::Score(c.model, images, request);
  ASSERT_TRUE(result.ok()) << result.status();

  // Against a linear model the FGSM corner of the ball is the optimal attack,
  // which 4 or more PGD steps of e / 4 reach.
  ExpectBisectionNear(result->scores.at(ScoreKind::kRrBs),
                      ExactRadiusAlongDirection(c, images, 1.0), 1e-6);
  EXPECT_EQ(result->rr_bs_forwards.remainder(7).count_nonzero().item<int64_t>(),
            0);
}

// A two-class model on 1 x 8 x 8 images whose gap f_0 - f_1 is
// `slope` * sum(x) + `offset`, so every pixel moves the gap at rate |slope|.
torch::jit::Module MakeUniformTwoClassModel(double slope, double offset) {
  const torch::Tensor weight = torch::stack(
      {torch::full({kPixels}, slope / 2), torch::full({kPixels}, -slope / 2)});
  const torch::Tensor bias = torch::tensor({offset, 0.0});
  return MakeLinearModel(weight, bias);
}

TEST(BoxEdgeTest, BlackImageWhoseGapNeverClosesGetsCap) {
  // At x = 0 the confidence rises with every pixel, so lowering it would
  // need negative pixels: no perturbation inside [0, 1] closes the gap.
  torch::jit::Module model = MakeUniformTwoClassModel(1.0, 1.0);
  const torch::Tensor images = torch::zeros({2, 1, 8, 8});

  const torch::Tensor fast =
      Score(model, images, ScoreKind::kRrFast, ScoreParams());
  const torch::Tensor bisection =
      Score(model, images, ScoreKind::kRrBs, ScoreParams());

  EXPECT_DOUBLE_EQ(fast[0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(fast[1].item<double>(), 1.0);
  // No budget flips: the lower end after 24 doublings of 1e-6.
  EXPECT_DOUBLE_EQ(bisection[0].item<double>(), std::ldexp(1e-6, 24));
}

TEST(BoxEdgeTest, WhiteImageWhoseGapNeverClosesGetsCap) {
  torch::jit::Module model = MakeUniformTwoClassModel(-1.0, 65.0);
  const torch::Tensor images = torch::ones({1, 1, 8, 8});
  ScoreParams params;
  params.rr_fast_max_radius = 0.75;

  const torch::Tensor fast = Score(model, images, ScoreKind::kRrFast, params);
  const torch::Tensor bisection =
      Score(model, images, ScoreKind::kRrBs, params);

  EXPECT_DOUBLE_EQ(fast[0].item<double>(), 0.75);
  EXPECT_DOUBLE_EQ(bisection[0].item<double>(), std::ldexp(1e-6, 24));
}

TEST(BoxEdgeTest, ClampedPixelsDoNotMove) {
  // Half the pixels are 0 and cannot decrease. The other 32 close the gap
  // of 0.5 at rate 1 each, so the radius is 0.5 / 32.
  torch::jit::Module model = MakeUniformTwoClassModel(1.0, -15.5);
  torch::Tensor images = torch::full({1, 1, 8, 8}, 0.5);
  images.view({-1}).narrow(0, 0, 32).zero_();
  ScoreParams params;
  params.rr_fast_step = 1.0 / 64;  // exact in float32, like every logit here
  params.rr_bs_max_iterations = 48;
  params.rr_bs_rel_tol = 1e-7;

  const torch::Tensor fast = Score(model, images, ScoreKind::kRrFast, params);
  const torch::Tensor bisection =
      Score(model, images, ScoreKind::kRrBs, params);

  EXPECT_DOUBLE_EQ(fast[0].item<double>(), 0.5 / 32);
  EXPECT_NEAR(bisection[0].item<double>(), 0.5 / 32, 1e-5 * 0.5 / 32);
}

// Three classes on 1 x 1 x 3 images with logits scale * x.
torch::jit::Module MakeScaledIdentityModel(double scale) {
  return MakeLinearModel(scale * torch::eye(3), torch::zeros({3}));
}

torch::Tensor OneImage(std::vector<float> pixels) {
  return torch::tensor(pixels).view({1, 1, 1, 3});
}

double Only(const torch::Tensor& scores) {
  EXPECT_EQ(scores.numel(), 1);
  return scores.item<double>();
}

TEST(LogitScoresTest, MatchHandComputation) {
  torch::jit::Module model = MakeScaledIdentityModel(10.0);
  const torch::Tensor image =
      OneImage({0.5f, 0.25f, 0.0f});  // logits 5, 2.5, 0
  ScoreParams params;
  params.doctor_temperature = 2.0;
  params.energy_temperature = 2.0;

  const double z = std::exp(5.0) + std::exp(2.5) + 1.0;
  const double p0 = std::exp(5.0) / z;
  const double p1 = std::exp(2.5) / z;
  const double p2 = 1.0 / z;
  const double z2 = std::exp(2.5) + std::exp(1.25) + 1.0;
  const double doctor = (std::exp(5.0) + std::exp(2.5) + 1.0) / (z2 * z2);

  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kMsr, params)), p0, 1e-12);
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kMls, params)), 5.0, 1e-12);
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kNegEntropy, params)),
              p0 * std::log(p0) + p1 * std::log(p1) + p2 * std::log(p2), 1e-12);
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kMargin, params)), p0 - p1,
              1e-12);
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kDoctor, params)), doctor,
              1e-12);
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kEnergy, params)),
              2.0 * std::log(z2), 1e-12);
}

TEST(OdinTest, ZeroEpsilonEqualsTemperatureScaledMsr) {
  torch::jit::Module model = MakeScaledIdentityModel(10.0);
  const torch::Tensor image = OneImage({0.5f, 0.25f, 0.0f});
  ScoreParams params;
  params.odin_temperature = 1000.0;
  params.odin_epsilon = 0.0;

  const double z = std::exp(5e-3) + std::exp(2.5e-3) + 1.0;
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kOdin, params)),
              std::exp(5e-3) / z, 1e-12);
}

TEST(OdinTest, PerturbationRaisesPredictedClass) {
  // d = sign(grad log p_0) = (+1, -1, -1); the third pixel is clamped at 0,
  // so x~ = (0.51, 0.24, 0) and the logits are (5.1, 2.4, 0).
  torch::jit::Module model = MakeScaledIdentityModel(10.0);
  const torch::Tensor image = OneImage({0.5f, 0.25f, 0.0f});
  ScoreParams params;
  params.odin_temperature = 2.0;
  params.odin_epsilon = 0.01;

  const double z = std::exp(2.55) + std::exp(1.2) + 1.0;
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kOdin, params)),
              std::exp(2.55) / z, 1e-6);
}

TEST(HugeLogitsTest, ScoresStayFinite) {
  // Logits (4000, 0, 2000): float32 softmax saturates to one-hot, where a
  // plain log-softmax gradient would vanish.
  torch::jit::Module model = MakeScaledIdentityModel(4000.0);
  const torch::Tensor image = OneImage({1.0f, 0.0f, 0.5f});
  ScoreParams params;
  params.odin_epsilon = 1e-3;

  for (ScoreKind kind : AllScoreKinds()) {
    const double score = Only(Score(model, image, kind, params));
    EXPECT_TRUE(std::isfinite(score)) << ScoreName(kind);
  }
  EXPECT_DOUBLE_EQ(Only(Score(model, image, ScoreKind::kMsr, params)), 1.0);
  EXPECT_DOUBLE_EQ(Only(Score(model, image, ScoreKind::kMargin, params)), 1.0);
  EXPECT_DOUBLE_EQ(Only(Score(model, image, ScoreKind::kEnergy, params)),
                   4000.0);
  EXPECT_LE(Only(Score(model, image, ScoreKind::kNegEntropy, params)), 0.0);

  // Moving towards class 2 along (-1, 0, +1) closes the gap of 2000 at
  // rate 8000.
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kRrFast, params)), 0.25,
              1e-4 * 0.25);
  EXPECT_NEAR(Only(Score(model, image, ScoreKind::kRrBs, params)), 0.25,
              DefaultBisectionError(0.25));
}

}  // namespace
}  // namespace rat
