// One loader per file format, called by LoadDataset with the resolved root
// folder. Options have been checked for the fields every reader shares
// (split, limit); each reader checks its own files.
#ifndef RAT_CORE_DATA_READERS_H_
#define RAT_CORE_DATA_READERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"

namespace rat {

// MNIST and Fashion-MNIST IDX files, gzip-compressed or plain.
absl::StatusOr<Dataset> LoadIdxDataset(const DatasetOptions& options,
                                       const std::string& root);

// CIFAR-10 and CIFAR-100 binary versions.
absl::StatusOr<Dataset> LoadCifar10(const DatasetOptions& options,
                                    const std::string& root);
absl::StatusOr<Dataset> LoadCifar100(const DatasetOptions& options,
                                     const std::string& root);

// root/<split>/<class>/*.png|jpg|jpeg, or root/<class>/... without a split.
absl::StatusOr<Dataset> LoadImageFolder(const DatasetOptions& options,
                                        const std::string& root);

// Corrupted CIFAR-10: root/<corruption>.npy and root/labels.npy.
absl::StatusOr<Dataset> LoadCifar10Corrupted(const DatasetOptions& options,
                                             const std::string& root);

// The ten CIFAR-10 class names in label order.
const std::vector<std::string>& Cifar10ClassNames();

// Number of images to keep out of `available` under `limit` (0 = all).
int64_t LimitCount(int64_t available, int64_t limit);

}  // namespace rat

#endif  // RAT_CORE_DATA_READERS_H_
