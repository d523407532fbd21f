#include "core/models/freeze.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <string>

#include "core/models/architectures.h"

namespace rat {
namespace {

using ::testing::HasSubstr;

torch::jit::Module SmallCnn() {
  ArchitectureOptions options;
  options.name = "small_cnn";
  options.mean = {0.286f};
  options.std = {0.353f};
  options.seed = 5;
  absl::StatusOr<torch::jit::Module> model = BuildArchitecture(options);
  EXPECT_TRUE(model.ok()) << model.status();
  return *model;
}

at::Tensor Forward(torch::jit::Module& module, const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  return module.forward({images}).toTensor();
}

TEST(FreezeForServingTest, FrozenModelComputesTheSameLogits) {
  torch::jit::Module model = SmallCnn();
  model.eval();
  torch::manual_seed(6);
  const at::Tensor images = at::rand({4, 1, 28, 28});

  absl::StatusOr<torch::jit::Module> frozen = FreezeForServing(model);
  ASSERT_TRUE(frozen.ok()) << frozen.status();

  EXPECT_TRUE(at::allclose(Forward(*frozen, images), Forward(model, images),
                           /*rtol=*/1e-5, /*atol=*/1e-5));
}

TEST(FreezeForServingTest, FrozenModelHasNoParameters) {
  torch::jit::Module model = SmallCnn();

  absl::StatusOr<torch::jit::Module> frozen = FreezeForServing(model);
  ASSERT_TRUE(frozen.ok()) << frozen.status();

  EXPECT_EQ(frozen->parameters().size(), 0);
}

TEST(FreezeForServingTest, FoldsBatchNormIntoConvolutions) {
  torch::jit::Module model = SmallCnn();

  absl::StatusOr<torch::jit::Module> frozen = FreezeForServing(model);
  ASSERT_TRUE(frozen.ok()) << frozen.status();

  const std::string graph = frozen->get_method("forward").graph()->toString();
  EXPECT_THAT(graph, HasSubstr("aten::conv2d"));
  EXPECT_THAT(graph, ::testing::Not(HasSubstr("batch_norm")));
}

TEST(FreezeForServingTest, LeavesTheOriginalInTrainingMode) {
  torch::jit::Module model = SmallCnn();
  ASSERT_TRUE(model.is_training());

  ASSERT_TRUE(FreezeForServing(model).ok());

  EXPECT_TRUE(model.is_training());
  EXPECT_EQ(model.parameters().size(), 16);
}

TEST(FreezeForServingTest, ModuleWithoutForwardIsInvalid) {
  torch::jit::Module model("NoForward");
  model.define(R"(
def predict(self, x):
    return x
)");

  absl::StatusOr<torch::jit::Module> frozen = FreezeForServing(model);

  EXPECT_EQ(frozen.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(frozen.status().message(), HasSubstr("freezing the model"));
  EXPECT_THAT(frozen.status().message(), HasSubstr("forward"));
}

}  // namespace
}  // namespace rat
