// The training run of rat-train: data, model, optimizer, the epoch loop,
// checkpoints and the exported bundle.
#ifndef RAT_TRAINER_TRAINER_H_
#define RAT_TRAINER_TRAINER_H_

#include <torch/optim/optimizer.h>
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/data/loader.h"
#include "rat/v1/model_card.pb.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"
#include "trainer/options.h"
#include "trainer/rat_step.h"
#include "trainer/schedule.h"

namespace rat {

// Summary of one finished epoch.
struct EpochSummary {
  int64_t epoch = 0;
  double loss = 0;
  double clean_loss = 0;
  double adv_loss = 0;
  double train_accuracy = 0;       // clean unmixed training images
  double validation_accuracy = 0;  // hold-out split (0 when it is empty)
  double images_per_second = 0;
  double seconds = 0;
};

// One training run. Create loads the data and builds the model; Train runs
// the remaining epochs (or up to --max-steps); Export writes the bundle.
// Only rank 0 writes files and logs progress. Not thread safe.
class Trainer {
 public:
  // Starts a run from `options`, or continues `resume` (whose options must
  // be the same as `options` apart from run control: see MergeResumeOptions).
  // INVALID_ARGUMENT for bad options, NOT_FOUND for missing data files.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const TrainOptions& options, const CheckpointContents* resume = nullptr);
  ~Trainer();

  // Trains until the last epoch ends or options.max_steps is reached, writing
  // checkpoints as configured and one at the stop.
  absl::Status Train();

  // True when every epoch has been trained.
  bool finished() const;

  // Calibrates on the hold-out split (if enabled and not empty) and writes
  // the bundle; returns its path. Rank 0 only writes; other ranks return the
  // path without writing.
  absl::StatusOr<std::string> Export();

  // Top-1 accuracy of the model on `dataset` in evaluation mode.
  absl::StatusOr<double> Evaluate(const Dataset& dataset);

  // Top-1 accuracy on the data set's test split; NOT_FOUND when the split's
  // files are missing.
  absl::StatusOr<double> TestAccuracy();

  torch::jit::Module& model() { return model_; }
  const TrainingProgress& progress() const { return progress_; }
  const std::vector<EpochSummary>& history() const { return history_; }
  const Dataset& validation_set() const { return validation_; }
  std::string CheckpointPath() const;

 private:
  Trainer() = default;

  absl::Status LoadData();
  absl::Status BuildModel();
  absl::Status BuildOptimizer();
  absl::Status RunEpoch();
  absl::Status TrainBatch(const Batch& batch, StepStats* stats);
  absl::Status FinishEpoch(const EpochSummary& summary);
  absl::Status WriteCheckpoint();
  absl::Status CalibrateOnHoldout(rat::v1::ModelCard& card);

  TrainOptions options_;
  // Device of the model, batches and scoring; from --device.
  c10::Device device_ = c10::Device(c10::kCPU);
  RatStepOptions step_options_;
  LrSchedule schedule_;
  TrainingProgress progress_;
  std::vector<EpochSummary> history_;

  Dataset train_;
  Dataset validation_;
  std::unique_ptr<DataLoader> loader_;
  std::vector<float> mean_;
  std::vector<float> std_;
  std::string architecture_;

  torch::jit::Module model_;
  std::vector<at::Tensor> parameters_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<Distributed> distributed_;
  bool is_main_ = true;
  int world_size_ = 1;
};

// Options for continuing a checkpoint: the checkpoint's training options with
// the run-control options (max_steps, threads, progress, metrics_file,
// bundle_path, model_name, calibration settings) taken from `command_line`,
// and output_dir too when `output_dir_given`.
TrainOptions MergeResumeOptions(const TrainOptions& checkpoint,
                                const TrainOptions& command_line,
                                bool output_dir_given);

}  // namespace rat

#endif  // RAT_TRAINER_TRAINER_H_
