// Resumable training checkpoints: parameters, buffers, optimizer state,
// progress counters, the LibTorch CPU generator state and the full options.
#ifndef RAT_TRAINER_CHECKPOINT_H_
#define RAT_TRAINER_CHECKPOINT_H_

#include <torch/optim/optimizer.h>
#include <torch/script.h>
#include <torch/serialize/input-archive.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/options.h"

namespace rat {

// Position of a run in its schedule. The data order, augmentation, learning rate and mixup
// draws are functions of (seed, epoch, step), so these counters are enough to
// continue the same schedule.
struct TrainingProgress {
  int64_t epoch = 0;           // epoch in progress (0-based)
  int64_t batch_in_epoch = 0;  // batches of that epoch already trained
  int64_t step = 0;            // optimizer steps since the start
  double train_seconds = 0;    // wall time spent so far
};

struct CheckpointContents {
  TrainOptions options;
  TrainingProgress progress;
  // The rest of the archive, for RestoreCheckpoint.
  std::shared_ptr<torch::serialize::InputArchive> archive;
};

// Writes a checkpoint to `path` atomically (a temporary file in the same
// folder, then rename), so a crash never leaves a truncated checkpoint.
absl::Status SaveCheckpoint(const std::string& path,
                            const torch::jit::Module& model,
                            torch::optim::Optimizer& optimizer,
                            const TrainOptions& options,
                            const TrainingProgress& progress);

// Reads the options and progress of a checkpoint. NOT_FOUND for a missing
// file, INVALID_ARGUMENT for a file that is not a rat-train checkpoint.
absl::StatusOr<CheckpointContents> ReadCheckpoint(const std::string& path);

// Copies the checkpoint's parameters, buffers, optimizer state and generator
// state into `model` and `optimizer`. INVALID_ARGUMENT naming the first
// tensor whose name or shape differs from the model's.
absl::Status RestoreCheckpoint(const CheckpointContents& checkpoint,
                               torch::jit::Module& model,
                               torch::optim::Optimizer& optimizer);

}  // namespace rat

#endif  // RAT_TRAINER_CHECKPOINT_H_
