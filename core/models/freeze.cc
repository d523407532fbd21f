#include "core/models/freeze.h"

#include "absl/strings/str_cat.h"
#include "core/common/torch_status.h"

namespace rat {

absl::StatusOr<torch::jit::Module> FreezeForServing(
    const torch::jit::Module& module) {
  absl::StatusOr<torch::jit::Module> frozen =
      CallTorch("freezing the model", [&] {
        // freeze() refuses modules in training mode; eval() on a clone
        // leaves the caller's module untouched.
        torch::jit::Module copy = module.clone();
        copy.eval();
        return torch::jit::freeze(copy);
      });
  if (frozen.ok()) return frozen;
  return absl::InvalidArgumentError(frozen.status().message());
}

}  // namespace rat
