#include "core/models/module_builder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"

namespace rat {

ModuleBuilder::ModuleBuilder(uint64_t seed)
    : unit_(std::make_shared<torch::jit::CompilationUnit>()),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

torch::jit::Module ModuleBuilder::NewModule(const std::string& class_name) {
  const c10::QualifiedName qualified_name(
      absl::StrCat("__torch__.rat.models.", class_name));
  c10::ClassTypePtr type = unit_->get_class(qualified_name);
  if (type == nullptr) {
    type = c10::ClassType::create(qualified_name, unit_, /*is_module=*/true);
    unit_->register_type(type);
  }

  torch::jit::Module module(unit_, type);
  module.register_attribute("training", c10::BoolType::get(), true);
  return module;
}

void ModuleBuilder::Define(torch::jit::Module& module,
                           const std::string& source) {
  if (module.type()->findMethod("forward") != nullptr) return;
  module.define(source);
}

void ModuleBuilder::AddParameter(torch::jit::Module& module,
                                 const std::string& name, at::Tensor tensor) {
  tensor.set_requires_grad(true);
  module.register_parameter(name, std::move(tensor), /*is_buffer=*/false);
}

torch::jit::Module ModuleBuilder::Conv2d(int64_t in_channels,
                                         int64_t out_channels, int64_t kernel,
                                         int64_t stride) {
  const int64_t padding = kernel / 2;
  torch::jit::Module conv =
      NewModule(absl::StrCat("Conv2d_k", kernel, "_s", stride, "_p", padding));

  const double fan_out = static_cast<double>(out_channels * kernel * kernel);
  at::Tensor weight = at::empty({out_channels, in_channels, kernel, kernel});
  weight.normal_(0.0, std::sqrt(2.0 / fan_out), generator_);
  AddParameter(conv, "weight", std::move(weight));

  Define(conv, absl::Substitute(R"(
def forward(self, x):
    return torch.conv2d(x, self.weight, None, [$0, $0], [$1, $1])
)",
                                stride, padding));
  return conv;
}

torch::jit::Module ModuleBuilder::BatchNorm2d(int64_t channels) {
  torch::jit::Module norm = NewModule("BatchNorm2d");
  AddParameter(norm, "weight", at::ones({channels}));
  AddParameter(norm, "bias", at::zeros({channels}));
  norm.register_buffer("running_mean", at::zeros({channels}));
  norm.register_buffer("running_var", at::ones({channels}));

  // Positional arguments after running_var: training, momentum, eps,
  // cudnn_enabled.
  Define(norm, R"(
def forward(self, x):
    return torch.batch_norm(x, self.weight, self.bias, self.running_mean,
                            self.running_var, self.training, 0.1, 1e-05, True)
)");
  return norm;
}

torch::jit::Module ModuleBuilder::Linear(int64_t in_features,
                                         int64_t out_features) {
  torch::jit::Module linear = NewModule("Linear");
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));

  at::Tensor weight = at::empty({out_features, in_features});
  weight.uniform_(-bound, bound, generator_);
  AddParameter(linear, "weight", std::move(weight));
  at::Tensor bias = at::empty({out_features});
  bias.uniform_(-bound, bound, generator_);
  AddParameter(linear, "bias", std::move(bias));

  Define(linear, R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)");
  return linear;
}

}  // namespace rat
