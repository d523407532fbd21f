// Shuffled, augmented, optionally sharded mini-batches prepared on a
// background thread.
#ifndef RAT_CORE_DATA_LOADER_H_
#define RAT_CORE_DATA_LOADER_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
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
  // Data-parallel sharding: this process reads every world_size-th image of
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
//
// Epoch layout: the shuffled order of all N images is dealt to the ranks
// round-robin. With drop_last each rank takes floor(N / world_size) images
// and drops the last partial batch; without it the order wraps around to
// ceil(N / world_size) images per rank (a few images repeat) and the last
// batch may be smaller. The crop offsets and flip of an image depend on
// (seed, epoch, image index in the data set).
//
// The images and labels tensors are shared with `dataset`, not copied.
// Not thread safe: one consumer thread; batches are built on one background
// thread.
class DataLoader {
 public:
  // INVALID_ARGUMENT for an empty or malformed data set, bad options, or
  // options that leave no batch in an epoch.
  static absl::StatusOr<std::unique_ptr<DataLoader>> Create(
      const Dataset& dataset, const LoaderOptions& options);
  ~DataLoader();

  // Starts epoch `epoch` (0-based), skipping its first `skip_batches`;
  // abandons the rest of the previous epoch.
  void StartEpoch(int64_t epoch, int64_t skip_batches = 0);
  // Next batch of the current epoch, or std::nullopt at its end (and before
  // the first StartEpoch). Blocks while the batch is being built.
  std::optional<Batch> Next();
  int64_t batches_per_epoch() const;
  // The error that ended the current epoch early (an allocation failure, for
  // example); OK otherwise.
  absl::Status status() const;

 private:
  DataLoader() = default;
  struct State;
  std::unique_ptr<State> state_;
};

// Splits `dataset` into (train, validation) with a seeded permutation;
// `validation_fraction` in [0, 1). The validation part has
// round(N * validation_fraction) images; both parts keep the data set order.
// The tensors are copies. INVALID_ARGUMENT for a fraction outside [0, 1).
absl::StatusOr<std::pair<Dataset, Dataset>> SplitHoldout(
    const Dataset& dataset, double validation_fraction, uint64_t seed);

}  // namespace rat

#endif  // RAT_CORE_DATA_LOADER_H_
