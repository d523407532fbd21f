// Shuffled, augmented, optionally sharded mini-batches prepared on a
// background thread.
#ifndef RAT_CORE_DATA_LOADER_H_
#define RAT_CORE_DATA_LOADER_H_

#include <cstdint>
#include <memory>
#include <optional>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"

namespace rat {

struct Augmentation {
  // Random crop after zero padding by this many pixels on each side (0 = off).
  int64_t crop_padding = 0;
  bool horizontal_flip = false;
};

struct LoaderOptions {
  int64_t batch_size = 128;  // images per batch (per process)
  bool shuffle = true;
  bool drop_last = true;
  Augmentation augmentation;
  uint64_t seed = 0;
  // Data-parallel sharding: this process sees every world_size-th image of
  // the shuffled order, starting at rank; all ranks get the same number of
  // batches.
  int64_t rank = 0;
  int64_t world_size = 1;
  // Batches prepared ahead by the background thread.
  int64_t prefetch = 2;
};

struct Batch {
  at::Tensor images;  // float32 B x C x H x W in [0, 1]
  at::Tensor labels;  // int64 B
};

// Iterates one data set epoch by epoch. The order and augmentation of epoch e
// depend only on (seed, e), so a resumed run sees the same batches.
// Not thread safe: one consumer thread.
class DataLoader {
 public:
  static absl::StatusOr<std::unique_ptr<DataLoader>> Create(
      const Dataset& dataset, const LoaderOptions& options);
  ~DataLoader();

  // Starts epoch `epoch` (0-based), skipping its first `skip_batches`.
  void StartEpoch(int64_t epoch, int64_t skip_batches = 0);
  // Next batch of the current epoch, or std::nullopt at its end.
  std::optional<Batch> Next();
  int64_t batches_per_epoch() const;

 private:
  DataLoader() = default;
  struct State;
  std::unique_ptr<State> state_;
};

// Splits `dataset` into (train, validation) with a seeded permutation;
// `validation_fraction` in [0, 1).
absl::StatusOr<std::pair<Dataset, Dataset>> SplitHoldout(
    const Dataset& dataset, double validation_fraction, uint64_t seed);

}  // namespace rat

#endif  // RAT_CORE_DATA_LOADER_H_
