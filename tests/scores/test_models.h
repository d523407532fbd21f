// Small TorchScript models with known weights for the score tests.
#ifndef RAT_TESTS_SCORES_TEST_MODELS_H_
#define RAT_TESTS_SCORES_TEST_MODELS_H_

#include <torch/script.h>

#include <cstdint>

namespace rat::testing {

// f(x) = weight * flatten(x) + bias for a K x D float32 `weight` and a K
// float32 `bias`, with a `training` attribute, in evaluation mode.
torch::jit::Module MakeLinearModel(const torch::Tensor& weight,
                                   const torch::Tensor& bias);

// A two-layer conv net for 1 x 28 x 28 images with 10 classes: conv 3x3 (8)
// -> relu -> max pool 2 -> conv 3x3 (16) -> relu -> max pool 2 -> dropout
// 0.5 (active only in training mode) -> linear. Weights are drawn from
// `seed`; the module starts in evaluation mode.
torch::jit::Module MakeSmallConvNet(uint64_t seed);

}  // namespace rat::testing

#endif  // RAT_TESTS_SCORES_TEST_MODELS_H_
