#include "core/data/dataset.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/torch_status.h"
#include "core/data/readers.h"

namespace rat {
namespace {

constexpr char kFashionMnistRoot[] = "/usr/share/datasets/fashion-mnist";

bool IsKnownName(const std::string& name) {
  for (const std::string& known : DatasetNames()) {
    if (name == known) return true;
  }
  return false;
}

// Explicit root, then $DATASET_ROOT_DIR, then the packaged Fashion-MNIST.
absl::StatusOr<std::string> ResolveRoot(const DatasetOptions& options) {
  if (!options.root.empty()) return options.root;
  const char* from_environment = std::getenv("DATASET_ROOT_DIR");
  if (from_environment != nullptr && from_environment[0] != '\0') {
    return std::string(from_environment);
  }
  if (options.name == "fashion-mnist") return std::string(kFashionMnistRoot);
  return absl::InvalidArgumentError(absl::StrCat(
      "data set \"", options.name,
      "\" has no default folder: set the root option or DATASET_ROOT_DIR"));
}

absl::Status CheckOptions(const DatasetOptions& options) {
  if (!IsKnownName(options.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown data set \"", options.name, "\", expected one of ",
        absl::StrJoin(DatasetNames(), ", ")));
  }
  const bool fixed_splits = options.name != "imagefolder";
  if (fixed_splits && options.split != "train" && options.split != "test") {
    return absl::InvalidArgumentError(absl::StrCat(
        "split \"", options.split, "\" is invalid, expected train or test"));
  }
  if (options.split.empty() || options.split == "." || options.split == ".." ||
      options.split.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "split \"", options.split, "\" must be a non-empty folder name"));
  }
  if (options.limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be 0 (all) or positive, got ", options.limit));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t LimitCount(int64_t available, int64_t limit) {
  return limit > 0 && limit < available ? limit : available;
}

const std::vector<std::string>& DatasetNames() {
  static const auto* names =
      new std::vector<std::string>{"fashion-mnist", "mnist",       "cifar10",
                                   "cifar100",      "imagefolder", "cifar10c"};
  return *names;
}

absl::StatusOr<Dataset> LoadDataset(const DatasetOptions& options) {
  absl::Status valid = CheckOptions(options);
  if (!valid.ok()) return valid;
  absl::StatusOr<std::string> root = ResolveRoot(options);
  if (!root.ok()) return root.status();

  if (options.name == "fashion-mnist" || options.name == "mnist") {
    return LoadIdxDataset(options, *root);
  }
  if (options.name == "cifar10") return LoadCifar10(options, *root);
  if (options.name == "cifar100") return LoadCifar100(options, *root);
  if (options.name == "imagefolder") return LoadImageFolder(options, *root);
  return LoadCifar10Corrupted(options, *root);
}

at::Tensor ToFloatImages(const at::Tensor& uint8_images) {
  return uint8_images.to(at::kFloat).div_(255.0);
}

}  // namespace rat
