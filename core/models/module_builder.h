// Builds TorchScript modules from C++: registers parameters, buffers and
// submodules on torch::jit::Module objects and compiles their forward
// methods from TorchScript source. Used by architectures.cc.
#ifndef RAT_CORE_MODELS_MODULE_BUILDER_H_
#define RAT_CORE_MODELS_MODULE_BUILDER_H_

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <string>

namespace rat {

// Creates modules whose classes live in one compilation unit. Modules with the
// same class name share one class type, so the class's attributes and forward
// source must be the same for every instance. Initial values come from a
// generator seeded once, so the same sequence of calls gives the same values.
// Not thread safe; use one builder per model.
class ModuleBuilder {
 public:
  explicit ModuleBuilder(uint64_t seed);

  // Returns a new module of class `class_name` (created on first use) with
  // the boolean attribute "training" set to true, which train() and eval()
  // toggle and BatchNorm reads.
  torch::jit::Module NewModule(const std::string& class_name);

  // Compiles `source` as the module's methods unless its class already has a
  // forward method. Call after registering every attribute the source reads.
  // Throws c10::Error when the source does not compile.
  void Define(torch::jit::Module& module, const std::string& source);

  // Convolution without bias; Kaiming normal weights with std
  // sqrt(2 / fan_out), fan_out = out_channels * kernel * kernel, the
  // initialization He et al. (2015) derive for ReLU networks.
  torch::jit::Module Conv2d(int64_t in_channels, int64_t out_channels,
                            int64_t kernel, int64_t stride);

  // Batch normalization over channels (eps 1e-5, momentum 0.1) with weight 1,
  // bias 0 and running statistics 0 and 1, using batch statistics while
  // "training" is true and the running statistics otherwise.
  torch::jit::Module BatchNorm2d(int64_t channels);

  // Fully connected layer; weight and bias uniform in
  // [-1/sqrt(in_features), 1/sqrt(in_features)], as torch.nn.Linear does.
  torch::jit::Module Linear(int64_t in_features, int64_t out_features);

  // Registers `tensor` as a trainable parameter (requires_grad true).
  static void AddParameter(torch::jit::Module& module, const std::string& name,
                           at::Tensor tensor);

 private:
  std::shared_ptr<torch::jit::CompilationUnit> unit_;
  at::Generator generator_;
};

}  // namespace rat

#endif  // RAT_CORE_MODELS_MODULE_BUILDER_H_
