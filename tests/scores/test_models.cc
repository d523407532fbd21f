#include "tests/scores/test_models.h"

#include <cmath>
#include <memory>

namespace rat::testing {
namespace {

torch::jit::Module NewModule(const std::string& name) {
  torch::jit::Module module(name,
                            std::make_shared<torch::jit::CompilationUnit>());
  module.register_attribute("training", c10::BoolType::get(), false);
  return module;
}

torch::Tensor Kaiming(std::vector<int64_t> shape, int64_t fan_in) {
  return (torch::randn(shape) * std::sqrt(2.0 / static_cast<double>(fan_in)))
      .requires_grad_();
}

}  // namespace

torch::jit::Module MakeLinearModel(const torch::Tensor& weight,
                                   const torch::Tensor& bias) {
  torch::jit::Module module = NewModule("Linear");
  module.register_parameter(
      "weight", weight.to(torch::kFloat32).detach().requires_grad_(), false);
  module.register_parameter(
      "bias", bias.to(torch::kFloat32).detach().requires_grad_(), false);
  module.define(R"(
def forward(self, x):
    return torch.matmul(torch.flatten(x, 1), self.weight.t()) + self.bias
)");
  module.eval();
  return module;
}

torch::jit::Module MakeSmallConvNet(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module module = NewModule("SmallConvNet");
  module.register_parameter("conv1_weight", Kaiming({8, 1, 3, 3}, 9), false);
  module.register_parameter("conv1_bias",
                            torch::zeros({8}, torch::requires_grad()), false);
  module.register_parameter("conv2_weight", Kaiming({16, 8, 3, 3}, 72), false);
  module.register_parameter("conv2_bias",
                            torch::zeros({16}, torch::requires_grad()), false);
  module.register_parameter("fc_weight", Kaiming({10, 784}, 784), false);
  module.register_parameter("fc_bias",
                            torch::zeros({10}, torch::requires_grad()), false);
  module.define(R"(
def forward(self, x):
    x = torch.conv2d(x - 0.5, self.conv1_weight, self.conv1_bias, [1, 1], [1, 1])
    x = torch.max_pool2d(torch.relu(x), [2, 2])
    x = torch.conv2d(x, self.conv2_weight, self.conv2_bias, [1, 1], [1, 1])
    x = torch.max_pool2d(torch.relu(x), [2, 2])
    x = torch.dropout(torch.flatten(x, 1), 0.5, self.training)
    return torch.matmul(x, self.fc_weight.t()) + self.fc_bias
)");
  module.eval();
  return module;
}

}  // namespace rat::testing
