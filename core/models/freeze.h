// Prepares a loaded model for serving.
#ifndef RAT_CORE_MODELS_FREEZE_H_
#define RAT_CORE_MODELS_FREEZE_H_

#include <torch/script.h>

#include "absl/status/statusor.h"

namespace rat {

// Returns a frozen copy of `module` in evaluation mode: parameters and
// attributes become constants of the graph and batch normalization is folded
// into the convolution before it. The copy computes the same function
// (within float rounding), runs fewer operators per pass, and its input-only
// backward pass has no parameter gradients to compute, because constants do
// not require gradients. `module` itself is not changed.
// INVALID_ARGUMENT with TorchScript's message when the module cannot be
// frozen (for example, a module without a forward method).
absl::StatusOr<torch::jit::Module> FreezeForServing(
    const torch::jit::Module& module);

}  // namespace rat

#endif  // RAT_CORE_MODELS_FREEZE_H_
