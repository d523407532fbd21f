#include "core/models/architectures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <string>
#include <vector>

namespace rat {
namespace {

using ::testing::HasSubstr;

ArchitectureOptions Cifar(const std::string& name) {
  ArchitectureOptions options;
  options.name = name;
  options.channels = 3;
  options.height = 32;
  options.width = 32;
  options.num_classes = 10;
  options.mean = {0.49f, 0.48f, 0.45f};
  options.std = {0.25f, 0.24f, 0.26f};
  options.seed = 1;
  return options;
}

ArchitectureOptions FashionMnist(const std::string& name) {
  ArchitectureOptions options;
  options.name = name;
  options.mean = {0.286f};
  options.std = {0.353f};
  options.seed = 1;
  return options;
}

at::Tensor Forward(torch::jit::Module& module, const at::Tensor& images) {
  return module.forward({images}).toTensor();
}

TEST(ArchitecturesTest, NamesListEveryArchitecture) {
  EXPECT_THAT(ArchitectureNames(),
              ::testing::ElementsAre("small_cnn", "resnet20", "resnet56",
                                     "resnet110", "wrn28_10"));
}

TEST(ArchitecturesTest, OutputShapesOnCifarImages) {
  for (const std::string name :
       {"small_cnn", "resnet20", "resnet56", "resnet110"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<torch::jit::Module> model = BuildArchitecture(Cifar(name));
    ASSERT_TRUE(model.ok()) << model.status();

    const at::Tensor logits = Forward(*model, at::rand({2, 3, 32, 32}));

    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10}));
  }
}

TEST(ArchitecturesTest, OutputShapesOnFashionMnistImages) {
  for (const std::string name : {"small_cnn", "resnet20"}) {
    SCOPED_TRACE(name);
    ArchitectureOptions options = FashionMnist(name);
    options.num_classes = 7;
    absl::StatusOr<torch::jit::Module> model = BuildArchitecture(options);
    ASSERT_TRUE(model.ok()) << model.status();

    const at::Tensor logits = Forward(*model, at::rand({2, 1, 28, 28}));

    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 7}));
  }
}

TEST(ArchitecturesTest, WideResNetOutputShape) {
  absl::StatusOr<torch::jit::Module> model =
      BuildArchitecture(Cifar("wrn28_10"));
  ASSERT_TRUE(model.ok()) << model.status();
  model->eval();

  const at::Tensor logits = Forward(*model, at::rand({1, 3, 32, 32}));

  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 10}));
}

// Expected counts with K = 10 classes, summed by hand from the layer list:
// small_cnn on 1x28x28: convs 144 + 2304 + 4608 + 9216, BatchNorm weight
// and bias 2 * (16 + 16 + 32 + 32), fc1 1568 * 128 + 128, fc2 128 * 10 + 10.
// On 3x32x32 conv1 has 432 weights and fc1 takes 32 * 8 * 8 = 2048 inputs.
// resnet20 on 3x32x32: stem conv 432 + BN 32; stage 1: 3 blocks of two
// 16->16 convs (2304 each) and two BNs (32 each); stage 2: 16->32 and
// 32->32 convs (4608 + 9216), then 2 blocks of two 32->32 convs, BNs 64
// each; stage 3 likewise with 64 channels; fc 64 * 10 + 10. Option A
// shortcuts have no parameters, so the total is He et al.'s 0.27M.
TEST(ArchitecturesTest, ParameterCountsMatchLayerSums) {
  const std::vector<std::pair<ArchitectureOptions, int64_t>> cases = {
      {FashionMnist("small_cnn"), 218586}, {Cifar("small_cnn"), 280314},
      {Cifar("resnet20"), 269722},         {Cifar("resnet56"), 853018},
      {Cifar("resnet110"), 1727962},       {Cifar("wrn28_10"), 36479194},
  };
  for (const auto& [options, expected] : cases) {
    SCOPED_TRACE(options.name + " with " + std::to_string(options.channels) +
                 " channels");
    absl::StatusOr<torch::jit::Module> model = BuildArchitecture(options);
    ASSERT_TRUE(model.ok()) << model.status();

    EXPECT_EQ(CountParameters(*model), expected);
  }
}

TEST(ArchitecturesTest, BuildsInTrainingMode) {
  torch::jit::Module model = BuildArchitecture(Cifar("resnet20")).value();

  for (const torch::jit::Module& child : model.modules()) {
    EXPECT_TRUE(child.is_training());
  }
}

TEST(ArchitecturesTest, EvalSwitchesBatchNormToRunningStatistics) {
  for (const std::string name : {"small_cnn", "resnet20"}) {
    SCOPED_TRACE(name);
    torch::jit::Module model = BuildArchitecture(Cifar(name)).value();
    const at::Tensor images = at::rand({4, 3, 32, 32});

    const at::Tensor train_logits = Forward(model, images);
    model.eval();
    const at::Tensor eval_logits = Forward(model, images);
    const at::Tensor eval_again = Forward(model, images);

    EXPECT_FALSE(at::allclose(train_logits, eval_logits));
    // Evaluation mode leaves the running statistics alone.
    EXPECT_TRUE(at::equal(eval_logits, eval_again));
  }
}

TEST(ArchitecturesTest, TrainingUpdatesRunningStatistics) {
  torch::jit::Module model = BuildArchitecture(Cifar("small_cnn")).value();
  torch::jit::Module norm = model.attr("bn1").toModule();

  Forward(model, at::rand({4, 3, 32, 32}));

  // One batch with momentum 0.1 moves the running variance away from 1.
  EXPECT_FALSE(at::equal(norm.attr("running_var").toTensor(), at::ones({16})));
}

TEST(ArchitecturesTest, BackwardReachesEveryParameter) {
  for (const std::string name :
       {"small_cnn", "resnet20", "resnet56", "resnet110"}) {
    SCOPED_TRACE(name);
    torch::jit::Module model = BuildArchitecture(Cifar(name)).value();

    Forward(model, at::rand({2, 3, 32, 32})).pow(2).sum().backward();

    for (const auto& parameter : model.named_parameters()) {
      SCOPED_TRACE(parameter.name);
      EXPECT_TRUE(parameter.value.requires_grad());
      ASSERT_TRUE(parameter.value.grad().defined());
      EXPECT_GT(parameter.value.grad().abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(ArchitecturesTest, SameSeedGivesIdenticalParameters) {
  torch::jit::Module first = BuildArchitecture(Cifar("resnet20")).value();
  at::manual_seed(12345);  // The global seed must not matter.
  torch::jit::Module second = BuildArchitecture(Cifar("resnet20")).value();
  ArchitectureOptions other_seed = Cifar("resnet20");
  other_seed.seed = 2;
  torch::jit::Module third = BuildArchitecture(other_seed).value();

  const auto first_parameters = first.named_parameters();
  const auto second_parameters = second.named_parameters();
  const auto third_parameters = third.named_parameters();
  auto second_it = second_parameters.begin();
  auto third_it = third_parameters.begin();
  bool any_differs_with_other_seed = false;
  for (const auto& parameter : first_parameters) {
    SCOPED_TRACE(parameter.name);
    EXPECT_EQ((*second_it).name, parameter.name);
    EXPECT_TRUE(at::equal((*second_it).value, parameter.value));
    any_differs_with_other_seed |=
        !at::equal((*third_it).value, parameter.value);
    ++second_it;
    ++third_it;
  }
  EXPECT_TRUE(any_differs_with_other_seed);
}

TEST(ArchitecturesTest, ConvolutionsUseKaimingNormalStd) {
  ArchitectureOptions options = Cifar("wrn28_10");
  torch::jit::Module model = BuildArchitecture(options).value();
  const at::Tensor weight = model.attr("stage3")
                                .toModule()
                                .attr("block1")
                                .toModule()
                                .attr("conv1")
                                .toModule()
                                .attr("weight")
                                .toTensor();

  // 640 x 640 x 3 x 3 weights with std sqrt(2 / (640 * 9)) = 0.01864.
  EXPECT_NEAR(weight.std().item<double>(), 0.01864, 0.0002);
  EXPECT_NEAR(weight.mean().item<double>(), 0.0, 0.0002);
}

TEST(ArchitecturesTest, NormalizationIsAppliedInsideForward) {
  ArchitectureOptions normalized = Cifar("small_cnn");
  ArchitectureOptions plain = normalized;
  plain.mean.clear();
  plain.std.clear();
  torch::jit::Module with_normalization = BuildArchitecture(normalized).value();
  torch::jit::Module without = BuildArchitecture(plain).value();
  with_normalization.eval();
  without.eval();
  const at::Tensor images = at::rand({2, 3, 32, 32});
  const at::Tensor mean = at::tensor({0.49f, 0.48f, 0.45f}).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor({0.25f, 0.24f, 0.26f}).view({1, 3, 1, 1});

  const at::Tensor expected = Forward(without, (images - mean) / std);
  const at::Tensor logits = Forward(with_normalization, images);

  EXPECT_TRUE(at::allclose(logits, expected, 1e-5, 1e-6));
}

TEST(ArchitecturesTest, SmallCnnPoolingEqualsMaxPool2d) {
  absl::StatusOr<torch::jit::Module> model =
      BuildArchitecture(FashionMnist("small_cnn"));
  ASSERT_TRUE(model.ok()) << model.status();
  torch::manual_seed(3);
  // Odd sizes check that the last row and column are dropped, as
  // max_pool2d drops them.
  for (const std::vector<int64_t> shape :
       {std::vector<int64_t>{2, 3, 8, 6}, std::vector<int64_t>{1, 2, 7, 9}}) {
    const at::Tensor input = at::randn(shape);
    c10::InferenceMode inference;

    const at::Tensor pooled =
        model->get_method("max_pool_2x2")({input}).toTensor();

    EXPECT_TRUE(at::equal(pooled, at::max_pool2d(input, {2, 2}, {2, 2})))
        << "shape " << input.sizes();
  }
}

TEST(ArchitecturesTest, SmallCnnPoolingGradientEqualsMaxPool2d) {
  absl::StatusOr<torch::jit::Module> model =
      BuildArchitecture(FashionMnist("small_cnn"));
  ASSERT_TRUE(model.ok()) << model.status();
  torch::manual_seed(4);
  const at::Tensor input = at::randn({2, 3, 7, 9}).requires_grad_(true);
  const at::Tensor weights = at::randn({2, 3, 3, 4});

  const at::Tensor ours = torch::autograd::grad(
      {(model->get_method("max_pool_2x2")({input}).toTensor() * weights).sum()},
      {input})[0];
  const at::Tensor reference = torch::autograd::grad(
      {(at::max_pool2d(input, {2, 2}, {2, 2}) * weights).sum()}, {input})[0];

  EXPECT_TRUE(at::equal(ours, reference));
}

TEST(ArchitecturesTest, UnknownNameListsAllowedNames) {
  const absl::Status status = BuildArchitecture(Cifar("vgg16")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "unknown architecture \"vgg16\", expected one of: small_cnn, "
            "resnet20, resnet56, resnet110, wrn28_10");
}

TEST(ArchitecturesTest, TooSmallImagesAreInvalid) {
  ArchitectureOptions options = Cifar("resnet20");
  options.height = 3;

  const absl::Status status = BuildArchitecture(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "architecture \"resnet20\" expects images of at least 4x4 "
            "pixels, got 3x32");
}

TEST(ArchitecturesTest, ZeroChannelsAreInvalid) {
  ArchitectureOptions options = FashionMnist("small_cnn");
  options.channels = 0;
  options.mean.clear();
  options.std.clear();

  const absl::Status status = BuildArchitecture(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "architecture \"small_cnn\" expects channels >= 1, got 0");
}

TEST(ArchitecturesTest, OneClassIsInvalid) {
  ArchitectureOptions options = FashionMnist("small_cnn");
  options.num_classes = 1;

  const absl::Status status = BuildArchitecture(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "architecture \"small_cnn\" expects num_classes >= 2, got 1");
}

TEST(ArchitecturesTest, NormalizationSizeMismatchIsInvalid) {
  ArchitectureOptions options = Cifar("resnet20");
  options.mean = {0.5f};
  options.std = {0.25f};

  const absl::Status status = BuildArchitecture(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "normalization has 1 mean and 1 std values, expected both empty "
            "or 3 (one per channel)");
}

TEST(ArchitecturesTest, ZeroStdIsInvalid) {
  ArchitectureOptions options = FashionMnist("small_cnn");
  options.std = {0.0f};

  const absl::Status status = BuildArchitecture(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("expected a finite value > 0"));
}

TEST(DefaultNormalizationTest, ReturnsOneValuePerChannel) {
  const absl::StatusOr<NormalizationStats> fashion =
      DefaultNormalization("fashion-mnist");
  const absl::StatusOr<NormalizationStats> cifar =
      DefaultNormalization("cifar10");

  ASSERT_TRUE(fashion.ok());
  ASSERT_TRUE(cifar.ok());
  EXPECT_EQ(fashion->mean.size(), 1u);
  EXPECT_EQ(fashion->std.size(), 1u);
  EXPECT_EQ(cifar->mean.size(), 3u);
  EXPECT_EQ(cifar->std.size(), 3u);
  EXPECT_FLOAT_EQ(fashion->mean[0], 0.2860f);
}

TEST(DefaultNormalizationTest, UnknownDataSetIsInvalid) {
  const absl::Status status = DefaultNormalization("imagenet").status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "no default normalization for data set \"imagenet\", expected "
            "mnist, fashion-mnist, cifar10 or cifar100");
}

}  // namespace
}  // namespace rat
