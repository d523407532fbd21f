// Options of one training run, their command line and their validation.
#ifndef RAT_TRAINER_OPTIONS_H_
#define RAT_TRAINER_OPTIONS_H_

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace rat {

struct TrainOptions {
  // Data.
  std::string dataset = "fashion-mnist";
  std::string data_dir;     // empty: $DATASET_ROOT_DIR, then the default folder
  int64_t image_size = 32;  // ImageFolder only, pixels
  int64_t image_channels = 3;     // ImageFolder only
  double holdout_fraction = 0.1;  // of the training split, for validation
  int64_t train_limit = 0;        // keep at most this many images (0 = all)
  // Augmentation; -1 picks the data set's default (on for CIFAR-10/100,
  // off otherwise).
  int64_t crop_padding = -1;  // pixels
  int flip = -1;              // 1 on, 0 off

  // Model: a fresh architecture, or fine-tuning of an existing bundle.
  std::string architecture = "small_cnn";
  std::string init_bundle;

  // Method: "rat", "fgsm-at" or "standard".
  std::string method = "rat";
  double epsilon = 1e-3;  // L-infinity budget in pixel units of [0, 1]
  int pgd_steps = 0;      // 0: one FGSM step
  double lambda_clean = 1.0;
  double lambda_adv = 1.0;

  // Optimization.
  int epochs = 10;
  int64_t batch_size = 128;  // images per process and step
  std::string optimizer = "sgd";
  double learning_rate = 0.05;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 5e-4;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double warmup_epochs = 1.0;
  std::string warmup = "linear";  // "linear" or "cosine"
  double min_learning_rate = 0.0;
  double mixup_alpha = 0.0;  // 0: mixup off
  int mixup_off_last_epochs = 0;

  // Run control.
  uint64_t seed = 0;
  int threads = 0;        // 0: LibTorch's default
  int64_t max_steps = 0;  // stop (with a checkpoint) after this many steps
  std::string output_dir = "rat-train-out";
  std::string bundle_path;  // empty: <output_dir>/model.pt
  std::string model_name;   // empty: "<dataset>-<architecture>-<method>"
  int checkpoint_every_epochs = 1;
  std::string resume;  // checkpoint file to continue from
  std::string metrics_file;
  std::string progress = "auto";  // "auto", "bar" or "log"
  // "cpu", "cuda" (cuda:LOCAL_RANK when data-parallel) or "cuda:N".
  std::string device = "cpu";

  // Export and calibration.
  bool calibrate = true;
  // Hold-out images used for calibration (0 = all). Every grid point costs
  // about three passes over them, so the default keeps export to minutes.
  int64_t calibration_limit = 1000;
  double reject_coverage = 0.95;  // of the hold-out, for the reject policy
  // "staged" (T at eps = 0, then eps at that T) or "full" (every pair).
  std::string odin_search = "staged";
  bool tune_rr_bs = false;  // tune the RR-BS temperature too (slow)
  int64_t eval_batch_size = 512;
};

// Adds every option to `app`, writing into `options`. Help texts give units
// and defaults.
void AddTrainOptions(CLI::App& app, TrainOptions& options);

// INVALID_ARGUMENT naming the first option that is out of range and the
// allowed range.
absl::Status ValidateTrainOptions(const TrainOptions& options);

// Full options as JSON, stored in checkpoints, and back.
nlohmann::json TrainOptionsToJson(const TrainOptions& options);
absl::StatusOr<TrainOptions> TrainOptionsFromJson(const nlohmann::json& json);

}  // namespace rat

#endif  // RAT_TRAINER_OPTIONS_H_
