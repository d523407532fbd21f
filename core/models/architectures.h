// Classifier architectures built as TorchScript modules from C++, so the
// trainer trains the very artifact the server loads. Normalization is inside:
// forward takes float32 N x C x H x W in [0, 1] and returns N x K logits.
#ifndef RAT_CORE_MODELS_ARCHITECTURES_H_
#define RAT_CORE_MODELS_ARCHITECTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

#include "absl/status/statusor.h"

namespace rat {

struct ArchitectureOptions {
  // "small_cnn", "resnet20", "resnet56", "resnet110", "wrn28_10".
  std::string name = "small_cnn";
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t num_classes = 10;
  // Per-channel mean and std applied inside forward; empty means none.
  std::vector<float> mean;
  std::vector<float> std;
  uint64_t seed = 0;
};

// Builds the module with freshly initialized parameters (Kaiming normal for
// convolutions, as in the reference ResNets) in training mode.
// INVALID_ARGUMENT for an unknown name or a shape the architecture does not
// support.
absl::StatusOr<torch::jit::Module> BuildArchitecture(
    const ArchitectureOptions& options);

// The names BuildArchitecture accepts.
const std::vector<std::string>& ArchitectureNames();

}  // namespace rat

#endif  // RAT_CORE_MODELS_ARCHITECTURES_H_
