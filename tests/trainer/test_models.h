// Small TorchScript classifiers for trainer tests, built without the models
// library so the tests pin down the step's math on known modules.
#ifndef RAT_TESTS_TRAINER_TEST_MODELS_H_
#define RAT_TESTS_TRAINER_TEST_MODELS_H_

#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <cstdint>

namespace rat::testing {

// logits = flatten(x) @ weight.T + bias, with `features` inputs and
// `classes` outputs, weights drawn from a generator seeded with `seed`.
inline torch::jit::Module MakeLinearModel(int64_t features, int64_t classes,
                                          uint64_t seed) {
  torch::jit::Module module("LinearClassifier");
  at::Generator generator = at::detail::createCPUGenerator(seed);
  module.register_parameter(
      "weight", at::randn({classes, features}, generator) * 0.5, false);
  module.register_parameter("bias", at::randn({classes}, generator) * 0.1,
                            false);
  module.register_attribute("training", c10::BoolType::get(), true);
  module.define(R"(
def forward(self, x):
    return torch.matmul(x.flatten(1), self.weight.t()) + self.bias
)");
  return module;
}

// A two-layer network with a tanh hidden layer, so input gradients depend on
// the point (unlike the linear model).
inline torch::jit::Module MakeMlpModel(int64_t features, int64_t hidden,
                                       int64_t classes, uint64_t seed) {
  torch::jit::Module module("MlpClassifier");
  at::Generator generator = at::detail::createCPUGenerator(seed);
  module.register_parameter(
      "w1", at::randn({hidden, features}, generator) * 0.3, false);
  module.register_parameter("b1", at::randn({hidden}, generator) * 0.1, false);
  module.register_parameter("w2", at::randn({classes, hidden}, generator) * 0.3,
                            false);
  module.register_parameter("b2", at::randn({classes}, generator) * 0.1, false);
  module.register_attribute("training", c10::BoolType::get(), true);
  module.define(R"(
def forward(self, x):
    h = torch.tanh(torch.matmul(x.flatten(1), self.w1.t()) + self.b1)
    return torch.matmul(h, self.w2.t()) + self.b2
)");
  return module;
}

}  // namespace rat::testing

#endif  // RAT_TESTS_TRAINER_TEST_MODELS_H_
