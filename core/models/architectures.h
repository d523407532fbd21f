// Classifier architectures built as TorchScript modules from C++, so the
// trainer trains the very artifact the server loads. Normalization is inside:
// forward takes float32 N x C x H x W in [0, 1] and returns N x K logits.
#ifndef RAT_CORE_MODELS_ARCHITECTURES_H_
#define RAT_CORE_MODELS_ARCHITECTURES_H_

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

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
//
// Every module and submodule has a boolean attribute "training", so
// Module::train() and eval() switch BatchNorm between batch statistics and
// running statistics. Initial values depend only on the options (a local
// generator seeded with `seed`), never on the global LibTorch seed. Thread
// safe.
//
//   small_cnn  conv3x3(16)-BN-ReLU-conv3x3(16)-BN-ReLU-maxpool2 -
//              conv3x3(32)-BN-ReLU-conv3x3(32)-BN-ReLU-maxpool2 -
//              fc(128)-ReLU-fc(K), for 1x28x28 and 3x32x32 images. Sized for
//              CPU training. One run reached 89.7% Fashion-MNIST
//              test accuracy after two epochs and 90.8% after three (590 s).
//              That run used Adam at learning rate 1e-3, batch 128, plain
//              cross-entropy, no normalization or augmentation, on a 2-core
//              CPU shared with other jobs.
//   resnetD    CIFAR ResNet of He et al. (2016), D = 6n + 2: a 3x3 conv with
//              16 channels, three stages of n basic blocks with 16, 32 and 64
//              channels (stride 2 at the start of stages 2 and 3), global
//              average pooling and fc(K). Shortcuts are option A: identity,
//              and where a stage halves the resolution, every other pixel with
//              the new channels zero-padded, so shortcuts add no parameters.
//   wrn28_10   Wide ResNet 28-10 (Zagoruyko and Komodakis, 2016): four
//              pre-activation blocks per stage with 160, 320 and 640
//              channels, 1x1 conv shortcuts where shape changes, no dropout.
//
// Supported shapes: channels >= 1, height and width >= 4 pixels (every
// architecture halves the resolution twice), num_classes >= 2, and mean and
// std either both empty or both with one entry per channel (std > 0).
absl::StatusOr<torch::jit::Module> BuildArchitecture(
    const ArchitectureOptions& options);

// The names BuildArchitecture accepts.
const std::vector<std::string>& ArchitectureNames();

// Per-channel pixel statistics of a data set's training images, for
// ArchitectureOptions::mean and std.
struct NormalizationStats {
  std::vector<float> mean;
  std::vector<float> std;
};

// Returns the statistics of "mnist", "fashion-mnist", "cifar10" or
// "cifar100" (pixel values in [0, 1]). INVALID_ARGUMENT for other names.
absl::StatusOr<NormalizationStats> DefaultNormalization(
    const std::string& dataset);

// Number of scalar parameters (not buffers) of `module` and its submodules.
int64_t CountParameters(const torch::jit::Module& module);

}  // namespace rat

#endif  // RAT_CORE_MODELS_ARCHITECTURES_H_
