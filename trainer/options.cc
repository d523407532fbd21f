#include "trainer/options.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace rat {

// Missing keys keep their defaults, so checkpoints written before an option
// existed still load.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    TrainOptions, dataset, data_dir, image_size, image_channels,
    holdout_fraction, train_limit, crop_padding, flip, architecture,
    init_bundle, method, epsilon, pgd_steps, lambda_clean, lambda_adv, epochs,
    batch_size, optimizer, learning_rate, momentum, nesterov, weight_decay,
    adam_beta1, adam_beta2, warmup_epochs, warmup, min_learning_rate,
    mixup_alpha, mixup_off_last_epochs, seed, threads, max_steps, output_dir,
    bundle_path, model_name, checkpoint_every_epochs, resume, metrics_file,
    progress, calibrate, calibration_limit, reject_coverage, eval_batch_size,
    odin_search, tune_rr_bs, device)

namespace {

absl::Status CheckOneOf(const std::string& option, const std::string& value,
                        const std::vector<std::string>& allowed) {
  for (const std::string& name : allowed) {
    if (value == name) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--", option, " \"", value, "\" is invalid; expected one of ",
      absl::StrJoin(allowed, ", ")));
}

// Accepts "cpu", "cuda" and "cuda:N"; whether CUDA is usable is checked when
// the trainer starts.
absl::Status CheckDevice(const std::string& device) {
  if (device == "cpu" || device == "cuda") return absl::OkStatus();
  const std::string prefix = "cuda:";
  if (device.size() > prefix.size() &&
      device.compare(0, prefix.size(), prefix) == 0 &&
      device.find_first_not_of("0123456789", prefix.size()) ==
          std::string::npos) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--device \"", device, "\" is invalid; expected cpu, cuda or cuda:N"));
}

absl::Status CheckRange(const std::string& option, double value, double low,
                        double high) {
  if (std::isfinite(value) && value >= low && value <= high) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("--%s %.10g is out of range; expected [%.10g, %.10g]",
                      option, value, low, high));
}

void AddDataOptions(CLI::App& app, TrainOptions& o) {
  app.add_option("--dataset", o.dataset,
                 "Training data set: fashion-mnist, mnist, cifar10, cifar100 "
                 "or imagefolder")
      ->capture_default_str();
  app.add_option("--data-dir", o.data_dir,
                 "Folder with the data set files (default: $DATASET_ROOT_DIR, "
                 "then the data set's standard folder)");
  app.add_option("--image-size", o.image_size,
                 "ImageFolder only: side of the resized images in pixels")
      ->capture_default_str();
  app.add_option("--image-channels", o.image_channels,
                 "ImageFolder only: 1 (grayscale) or 3 (RGB)")
      ->capture_default_str();
  app.add_option("--holdout-fraction", o.holdout_fraction,
                 "Fraction of the training split held out for validation and "
                 "calibration, in [0, 1)")
      ->capture_default_str();
  app.add_option("--train-limit", o.train_limit,
                 "Use at most this many training images (0 = all)")
      ->capture_default_str();
  app.add_option("--crop-padding", o.crop_padding,
                 "Random crop after zero padding, in pixels per side (-1 = 4 "
                 "for CIFAR, 0 otherwise)")
      ->capture_default_str();
  app.add_option("--flip", o.flip,
                 "Random horizontal flip: 1 on, 0 off (-1 = on for CIFAR, "
                 "off otherwise)")
      ->capture_default_str();
}

void AddModelOptions(CLI::App& app, TrainOptions& o) {
  app.add_option("--arch", o.architecture,
                 "Architecture: small_cnn, resnet20, resnet56, resnet110 or "
                 "wrn28_10")
      ->capture_default_str();
  app.add_option("--init", o.init_bundle,
                 "Fine-tune this TorchScript classifier bundle instead of "
                 "building --arch");
  app.add_option("--method", o.method,
                 "Training method: rat, fgsm-at (all images move up the loss) "
                 "or standard (no perturbation)")
      ->capture_default_str();
  app.add_option("--eps", o.epsilon,
                 "Perturbation budget, L-infinity in pixel units of [0, 1]")
      ->capture_default_str();
  app.add_option("--pgd-steps", o.pgd_steps,
                 "PGD steps of size eps/4 (0 = one FGSM step)")
      ->capture_default_str();
  app.add_option("--lambda-clean", o.lambda_clean, "Weight of the clean loss")
      ->capture_default_str();
  app.add_option("--lambda-adv", o.lambda_adv, "Weight of the perturbed loss")
      ->capture_default_str();
}

void AddOptimizerOptions(CLI::App& app, TrainOptions& o) {
  app.add_option("--epochs", o.epochs, "Training epochs")
      ->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Images per process and step")
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "sgd or adamw")
      ->capture_default_str();
  app.add_option("--lr", o.learning_rate, "Peak learning rate")
      ->capture_default_str();
  app.add_option("--min-lr", o.min_learning_rate,
                 "Learning rate at the end of the cosine schedule")
      ->capture_default_str();
  app.add_option("--momentum", o.momentum, "SGD momentum")
      ->capture_default_str();
  app.add_flag("--nesterov", o.nesterov, "Use Nesterov momentum (SGD)");
  app.add_option("--weight-decay", o.weight_decay,
                 "Weight decay (L2 for SGD, decoupled for AdamW)")
      ->capture_default_str();
  app.add_option("--adam-beta1", o.adam_beta1, "AdamW beta1")
      ->capture_default_str();
  app.add_option("--adam-beta2", o.adam_beta2, "AdamW beta2")
      ->capture_default_str();
  app.add_option("--warmup-epochs", o.warmup_epochs,
                 "Warmup length in epochs (fractions allowed)")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "Warmup shape: linear or cosine")
      ->capture_default_str();
  app.add_option("--mixup-alpha", o.mixup_alpha,
                 "Mixup Beta(alpha, alpha) parameter (0 = mixup off)")
      ->capture_default_str();
  app.add_option("--mixup-off-last-epochs", o.mixup_off_last_epochs,
                 "Switch mixup off for this many final epochs")
      ->capture_default_str();
}

void AddRunOptions(CLI::App& app, TrainOptions& o) {
  app.add_option("--seed", o.seed,
                 "Seed of initialization, data order, "
                 "hold-out split and mixup")
      ->capture_default_str();
  app.add_option("--threads", o.threads,
                 "LibTorch intra-op threads (0 = LibTorch's default)")
      ->capture_default_str();
  app.add_option("--max-steps", o.max_steps,
                 "Stop after this many optimizer steps in total, writing a "
                 "checkpoint (0 = run all epochs)")
      ->capture_default_str();
  app.add_option("--output-dir", o.output_dir,
                 "Folder for checkpoints and the default bundle path")
      ->capture_default_str();
  app.add_option("--bundle", o.bundle_path,
                 "Output bundle path (default: <output-dir>/model.pt)");
  app.add_option("--name", o.model_name,
                 "Model name on the card (default: <dataset>-<arch>-<method>)");
  app.add_option("--checkpoint-every", o.checkpoint_every_epochs,
                 "Write a checkpoint every this many epochs (0 = only at the "
                 "end)")
      ->capture_default_str();
  app.add_option("--resume", o.resume,
                 "Continue from this checkpoint file with its options");
  app.add_option("--metrics-file", o.metrics_file,
                 "Append one JSON line of metrics per epoch to this file");
  app.add_option("--progress", o.progress,
                 "auto (bar on a terminal), bar or log")
      ->capture_default_str();
  app.add_option("--calibrate", o.calibrate,
                 "Tune score temperatures on the hold-out split at export "
                 "(1 or 0)")
      ->capture_default_str();
  app.add_option("--calibration-limit", o.calibration_limit,
                 "Hold-out images used for calibration (0 = all)")
      ->capture_default_str();
  app.add_option("--reject-coverage", o.reject_coverage,
                 "Target coverage of the default reject policy, in (0, 1]")
      ->capture_default_str();
  app.add_option("--odin-search", o.odin_search,
                 "ODIN calibration: staged (T at eps 0, then eps at that T; "
                 "26 passes) or full (every T and eps pair; 180 passes)")
      ->capture_default_str();
  app.add_flag("--tune-rr-bs", o.tune_rr_bs,
               "Also tune the RR-BS temperature (15 bisections instead of 1)");
  app.add_option("--device", o.device,
                 "cpu, cuda (cuda:LOCAL_RANK when data-parallel) or cuda:N; "
                 "CUDA needs a CUDA build of LibTorch")
      ->capture_default_str();
  app.add_option("--eval-batch-size", o.eval_batch_size,
                 "Images per forward pass when evaluating")
      ->capture_default_str();
}

}  // namespace

void AddTrainOptions(CLI::App& app, TrainOptions& options) {
  AddDataOptions(app, options);
  AddModelOptions(app, options);
  AddOptimizerOptions(app, options);
  AddRunOptions(app, options);
}

absl::Status ValidateTrainOptions(const TrainOptions& o) {
  const std::vector<absl::Status> checks = {
      CheckOneOf(
          "dataset", o.dataset,
          {"fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder"}),
      CheckRange("image-size", o.image_size, 1, 4096),
      CheckRange("image-channels", o.image_channels, 1, 3),
      CheckRange("holdout-fraction", o.holdout_fraction, 0, 0.99),
      CheckRange("train-limit", o.train_limit, 0, 1e12),
      CheckRange("crop-padding", o.crop_padding, -1, 64),
      CheckRange("flip", o.flip, -1, 1),
      CheckOneOf("method", o.method, {"rat", "fgsm-at", "standard"}),
      CheckRange("eps", o.epsilon, 0, 1),
      CheckRange("pgd-steps", o.pgd_steps, 0, 1000),
      CheckRange("lambda-clean", o.lambda_clean, 0, 1e6),
      CheckRange("lambda-adv", o.lambda_adv, 0, 1e6),
      CheckRange("epochs", o.epochs, 1, 1e6),
      CheckRange("batch-size", o.batch_size, 1, 1 << 20),
      CheckOneOf("optimizer", o.optimizer, {"sgd", "adamw"}),
      CheckRange("lr", o.learning_rate, 1e-12, 100),
      CheckRange("min-lr", o.min_learning_rate, 0, o.learning_rate),
      CheckRange("momentum", o.momentum, 0, 0.999999),
      CheckRange("weight-decay", o.weight_decay, 0, 1),
      CheckRange("adam-beta1", o.adam_beta1, 0, 0.999999),
      CheckRange("adam-beta2", o.adam_beta2, 0, 0.999999),
      CheckRange("warmup-epochs", o.warmup_epochs, 0, o.epochs),
      CheckOneOf("warmup", o.warmup, {"linear", "cosine"}),
      CheckRange("mixup-alpha", o.mixup_alpha, 0, 1e3),
      CheckRange("mixup-off-last-epochs", o.mixup_off_last_epochs, 0, o.epochs),
      CheckRange("threads", o.threads, 0, 1024),
      CheckRange("max-steps", o.max_steps, 0, 1e15),
      CheckRange("checkpoint-every", o.checkpoint_every_epochs, 0, 1e6),
      CheckOneOf("progress", o.progress, {"auto", "bar", "log"}),
      CheckRange("calibration-limit", o.calibration_limit, 0, 1e12),
      CheckRange("reject-coverage", o.reject_coverage, 1e-6, 1),
      CheckRange("eval-batch-size", o.eval_batch_size, 1, 1 << 20),
      CheckOneOf("odin-search", o.odin_search, {"staged", "full"}),
      CheckDevice(o.device),
  };
  for (const absl::Status& status : checks) {
    if (!status.ok()) return status;
  }

  if (o.architecture.empty() && o.init_bundle.empty()) {
    return absl::InvalidArgumentError(
        "--arch is empty; name an architecture or pass --init BUNDLE");
  }
  if (o.nesterov && (o.optimizer != "sgd" || o.momentum <= 0)) {
    return absl::InvalidArgumentError(
        "--nesterov needs --optimizer sgd and --momentum > 0");
  }
  if (o.output_dir.empty()) {
    return absl::InvalidArgumentError("--output-dir is empty; name a folder");
  }
  return absl::OkStatus();
}

nlohmann::json TrainOptionsToJson(const TrainOptions& o) {
  return nlohmann::json(o);
}

absl::StatusOr<TrainOptions> TrainOptionsFromJson(const nlohmann::json& json) {
  try {
    return json.get<TrainOptions>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("training options JSON is invalid: ", e.what()));
  }
}

}  // namespace rat
