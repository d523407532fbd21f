#include "trainer/rat_step.h"

#include <torch/csrc/autograd/autograd.h>

#include <vector>

#include "gtest/gtest.h"
#include "tests/trainer/test_models.h"

namespace rat {
namespace {

using ::rat::testing::MakeLinearModel;
using ::rat::testing::MakeMlpModel;

// Images of 1x2x2 pixels in [0.3, 0.7], far enough from 0 and 1 that the
// small steps of these tests are never clamped.
at::Tensor MidImages(int64_t count, uint64_t seed) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  return at::rand({count, 1, 2, 2}, generator) * 0.4 + 0.3;
}

// Per-image cross-entropy of `model` on `images`.
at::Tensor PerImageLoss(torch::jit::Module& model, const at::Tensor& images,
                        const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  at::Tensor logits = model.forward({images}).toTensor();
  return at::cross_entropy_loss(logits, labels, {}, at::Reduction::None);
}

at::Tensor InputGradient(torch::jit::Module& model, const at::Tensor& images,
                         const at::Tensor& labels) {
  at::Tensor x = images.detach().requires_grad_(true);
  at::Tensor loss =
      at::cross_entropy_loss(model.forward({x}).toTensor(), labels);
  return torch::autograd::grad({loss}, {x})[0];
}

TEST(PerturbImagesTest, RatSignsAndClamp) {
  at::Tensor images =
      at::tensor({0.5f, 0.999f, 0.5f, 0.001f}).view({2, 1, 1, 2});
  at::Tensor grad = at::tensor({1.0f, 2.0f, -3.0f, -1.0f}).view({2, 1, 1, 2});
  at::Tensor correct = at::tensor({1, 0}).to(at::kBool);

  at::Tensor out =
      PerturbImages(images, grad, correct, TrainMethod::kRat, 0.01);

  // Image 0 is correct: +eps*sign(g). Image 1 is wrong: -eps*sign(g).
  EXPECT_FLOAT_EQ(out[0][0][0][0].item<float>(), 0.51f);
  EXPECT_FLOAT_EQ(out[0][0][0][1].item<float>(), 1.0f);  // clamped from 1.009
  EXPECT_FLOAT_EQ(out[1][0][0][0].item<float>(), 0.51f);
  EXPECT_FLOAT_EQ(out[1][0][0][1].item<float>(), 0.011f);
  EXPECT_FALSE(out.requires_grad());
}

TEST(PerturbImagesTest, ClampsWrongImagesAtZero) {
  at::Tensor images = at::tensor({0.004f}).view({1, 1, 1, 1});
  at::Tensor grad = at::tensor({1.0f}).view({1, 1, 1, 1});
  at::Tensor out = PerturbImages(images, grad, at::tensor({0}).to(at::kBool),
                                 TrainMethod::kRat, 0.01);
  EXPECT_FLOAT_EQ(out.item<float>(), 0.0f);
}

TEST(PerturbImagesTest, FgsmAtMovesEveryImageUp) {
  at::Tensor images = at::full({2, 1, 1, 1}, 0.5f);
  at::Tensor grad = at::tensor({2.0f, -2.0f}).view({2, 1, 1, 1});
  at::Tensor out = PerturbImages(images, grad, at::tensor({1, 0}).to(at::kBool),
                                 TrainMethod::kFgsmAt, 0.1);
  EXPECT_FLOAT_EQ(out[0].item<float>(), 0.6f);
  EXPECT_FLOAT_EQ(out[1].item<float>(), 0.4f);
}

TEST(PerturbImagesTest, StandardLeavesImagesUnchanged) {
  at::Tensor images = at::full({2, 1, 1, 1}, 0.5f);
  at::Tensor grad = at::ones({2, 1, 1, 1});
  at::Tensor out = PerturbImages(images, grad, at::tensor({1, 0}).to(at::kBool),
                                 TrainMethod::kStandard, 0.1);
  EXPECT_TRUE(out.equal(images));
}

TEST(PerturbImagesTest, CorrectImagesGainLossWrongImagesLose) {
  torch::jit::Module model = MakeMlpModel(4, 8, 3, 7);
  at::Tensor images = MidImages(64, 1);
  at::Tensor labels =
      at::randint(0, 3, {64}, at::detail::createCPUGenerator(2), at::kLong);
  at::Tensor correct;
  {
    torch::NoGradGuard no_grad;
    correct = model.forward({images}).toTensor().argmax(1).eq(labels);
  }
  ASSERT_GT(correct.sum().item<int64_t>(), 0);
  ASSERT_LT(correct.sum().item<int64_t>(), 64);

  at::Tensor grad = InputGradient(model, images, labels * 1);
  at::Tensor perturbed =
      PerturbImages(images, grad, correct, TrainMethod::kRat, 1e-3);
  at::Tensor change = PerImageLoss(model, perturbed, labels) -
                      PerImageLoss(model, images, labels);

  // The batch-mean gradient has the same sign per image as the per-image one.
  EXPECT_TRUE(change.masked_select(correct).gt(0).all().item<bool>());
  EXPECT_TRUE(
      change.masked_select(correct.logical_not()).lt(0).all().item<bool>());
}

TEST(ProjectToBallTest, ClipsToBallAndUnitRange) {
  at::Tensor images = at::tensor({0.5f, 0.99f}).view({2, 1, 1, 1});
  at::Tensor far = at::tensor({0.7f, 1.5f}).view({2, 1, 1, 1});
  at::Tensor out = ProjectToBall(far, images, 0.05);
  EXPECT_FLOAT_EQ(out[0].item<float>(), 0.55f);
  EXPECT_FLOAT_EQ(out[1].item<float>(), 1.0f);
}

// Parameter gradients of lambda_clean * L_clean + lambda_adv * L_adv computed
// the straightforward way: the input gradient through its own backward that
// keeps the clean graph, then one backward of the total loss through both
// graphs.
std::vector<at::Tensor> ReferenceGradients(torch::jit::Module& model,
                                           const at::Tensor& images,
                                           const at::Tensor& labels,
                                           const RatStepOptions& options) {
  std::vector<at::Tensor> parameters = TrainableParameters(model);
  for (at::Tensor& p : parameters) p.mutable_grad() = at::Tensor();

  at::Tensor x = images.detach().requires_grad_(true);
  at::Tensor logits = model.forward({x}).toTensor();
  at::Tensor clean = at::cross_entropy_loss(logits, labels);
  at::Tensor g =
      torch::autograd::grad({clean}, {x}, {}, /*retain_graph=*/true)[0];
  at::Tensor correct = logits.detach().argmax(1).eq(labels);
  at::Tensor perturbed =
      PerturbImages(x.detach(), g, correct, options.method, options.epsilon);
  at::Tensor adv =
      at::cross_entropy_loss(model.forward({perturbed}).toTensor(), labels);
  (clean * options.lambda_clean + adv * options.lambda_adv).backward();

  std::vector<at::Tensor> grads;
  for (at::Tensor& p : parameters) grads.push_back(p.grad().clone());
  return grads;
}

std::vector<at::Tensor> StepGradients(torch::jit::Module& model,
                                      const at::Tensor& images,
                                      const at::Tensor& labels,
                                      const RatStepOptions& options) {
  std::vector<at::Tensor> parameters = TrainableParameters(model);
  for (at::Tensor& p : parameters) p.mutable_grad() = at::Tensor();
  absl::StatusOr<StepStats> stats =
      RunRatStep(model, parameters, images, labels, options, std::nullopt);
  EXPECT_TRUE(stats.ok()) << stats.status();
  std::vector<at::Tensor> grads;
  for (at::Tensor& p : parameters) grads.push_back(p.grad().clone());
  return grads;
}

TEST(RunRatStepTest, TwoBackwardGradientsMatchReference) {
  for (TrainMethod method : {TrainMethod::kRat, TrainMethod::kFgsmAt}) {
    torch::jit::Module model = MakeMlpModel(4, 16, 5, 11);
    at::Tensor images = MidImages(32, 3);
    at::Tensor labels =
        at::randint(0, 5, {32}, at::detail::createCPUGenerator(4), at::kLong);
    RatStepOptions options;
    options.method = method;
    options.epsilon = 0.02;
    options.lambda_clean = 0.7;
    options.lambda_adv = 1.3;

    std::vector<at::Tensor> expected =
        ReferenceGradients(model, images, labels, options);
    std::vector<at::Tensor> actual =
        StepGradients(model, images, labels, options);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_LE((actual[i] - expected[i]).abs().max().item<double>(), 1e-6)
          << "parameter " << i;
    }
  }
}

TEST(RunRatStepTest, StandardGradientsAreCleanGradients) {
  torch::jit::Module model = MakeMlpModel(4, 16, 5, 12);
  at::Tensor images = MidImages(16, 5);
  at::Tensor labels =
      at::randint(0, 5, {16}, at::detail::createCPUGenerator(6), at::kLong);
  RatStepOptions options;
  options.method = TrainMethod::kStandard;

  std::vector<at::Tensor> actual =
      StepGradients(model, images, labels, options);

  std::vector<at::Tensor> parameters = TrainableParameters(model);
  at::Tensor loss =
      at::cross_entropy_loss(model.forward({images}).toTensor(), labels);
  std::vector<at::Tensor> expected = torch::autograd::grad({loss}, parameters);
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_LE((actual[i] - expected[i]).abs().max().item<double>(), 1e-7);
  }
}

TEST(RunRatStepTest, ReportsLossesAndAccuracy) {
  torch::jit::Module model = MakeLinearModel(4, 3, 13);
  at::Tensor images = MidImages(20, 7);
  at::Tensor labels =
      at::randint(0, 3, {20}, at::detail::createCPUGenerator(8), at::kLong);
  RatStepOptions options;
  options.lambda_clean = 2;
  options.lambda_adv = 0.5;
  absl::StatusOr<StepStats> stats = RunRatStep(
      model, TrainableParameters(model), images, labels, options, std::nullopt);
  ASSERT_TRUE(stats.ok()) << stats.status();

  at::Tensor logits = model.forward({images}).toTensor().detach();
  EXPECT_NEAR(stats->clean_loss,
              at::cross_entropy_loss(logits, labels).item<double>(), 1e-6);
  EXPECT_NEAR(stats->loss, 2 * stats->clean_loss + 0.5 * stats->adv_loss, 1e-6);
  EXPECT_EQ(stats->correct, logits.argmax(1).eq(labels).sum().item<int64_t>());
  EXPECT_EQ(stats->images, 20);
}

TEST(RunRatStepTest, PgdVariantChangesGradientsFromFgsm) {
  torch::jit::Module model = MakeMlpModel(4, 16, 5, 14);
  at::Tensor images = MidImages(16, 9);
  at::Tensor labels =
      at::randint(0, 5, {16}, at::detail::createCPUGenerator(10), at::kLong);
  RatStepOptions fgsm;
  fgsm.epsilon = 0.05;
  RatStepOptions pgd = fgsm;
  pgd.pgd_steps = 7;
  std::vector<at::Tensor> a = StepGradients(model, images, labels, fgsm);
  std::vector<at::Tensor> b = StepGradients(model, images, labels, pgd);
  EXPECT_GT((a[0] - b[0]).abs().max().item<double>(), 0);
}

TEST(PerturbPgdTest, StaysInBallAndUnitRange) {
  torch::jit::Module model = MakeMlpModel(4, 16, 5, 18);
  // Pixels at 0, 1 and in between, so both clamps and the ball bind.
  at::Tensor images =
      at::rand({32, 1, 2, 2}, at::detail::createCPUGenerator(19));
  images.index_put_({at::indexing::Slice(0, 8)}, 0.0);
  images.index_put_({at::indexing::Slice(8, 16)}, 1.0);
  at::Tensor labels =
      at::randint(0, 5, {32}, at::detail::createCPUGenerator(20), at::kLong);
  at::Tensor correct = model.forward({images}).toTensor().argmax(1).eq(labels);
  RatStepOptions options;
  options.epsilon = 0.1;
  options.pgd_steps = 10;

  at::Tensor perturbed =
      PerturbPgd(model, images, InputGradient(model, images, labels), labels,
                 correct, options, std::nullopt);

  EXPECT_LE((perturbed - images).abs().max().item<double>(), 0.1 + 1e-6);
  EXPECT_GE(perturbed.min().item<double>(), 0.0);
  EXPECT_LE(perturbed.max().item<double>(), 1.0);
  // Ten steps of eps/4 reach the boundary of the ball for some pixel.
  EXPECT_NEAR((perturbed - images).abs().max().item<double>(), 0.1, 1e-6);
}

TEST(RunRatStepTest, MixupMaskComesFromUnmixedImages) {
  torch::jit::Module model = MakeLinearModel(4, 3, 15);
  at::Tensor images = MidImages(32, 11);
  at::Tensor labels =
      at::randint(0, 3, {32}, at::detail::createCPUGenerator(12), at::kLong);
  MixupParams mixup;
  mixup.lambda = 0.3;
  mixup.permutation = at::randperm(32, at::kLong);
  absl::StatusOr<StepStats> stats =
      RunRatStep(model, TrainableParameters(model), images, labels,
                 RatStepOptions(), mixup);
  ASSERT_TRUE(stats.ok()) << stats.status();
  at::Tensor logits = model.forward({images}).toTensor().detach();
  EXPECT_EQ(stats->correct, logits.argmax(1).eq(labels).sum().item<int64_t>());
}

TEST(RunRatStepTest, RejectsMismatchedBatch) {
  torch::jit::Module model = MakeLinearModel(4, 3, 16);
  absl::StatusOr<StepStats> stats =
      RunRatStep(model, TrainableParameters(model), MidImages(4, 1),
                 at::zeros({3}, at::kLong), RatStepOptions(), std::nullopt);
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stats.status().message(),
            "training batch expects B x C x H x W images and B labels, got "
            "images 4x1x2x2 and labels 3");
}

TEST(RunRatStepTest, RejectsLabelsOutOfRange) {
  torch::jit::Module model = MakeLinearModel(4, 3, 17);
  absl::StatusOr<StepStats> stats =
      RunRatStep(model, TrainableParameters(model), MidImages(2, 1),
                 at::tensor({0, 3}, at::kLong), RatStepOptions(), std::nullopt);
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stats.status().message(),
            "labels span [0, 3] but the model has 3 classes");
}

TEST(ParseTrainMethodTest, RejectsUnknownName) {
  EXPECT_EQ(ParseTrainMethod("rat").value(), TrainMethod::kRat);
  EXPECT_EQ(ParseTrainMethod("pgd").status().message(),
            "training method \"pgd\" is invalid; expected rat, fgsm-at or "
            "standard");
}

}  // namespace
}  // namespace rat
