// Trainer::Export: the model card and the bundle.
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/models/bundle.h"
#include "spdlog/spdlog.h"
#include "trainer/calibration.h"
#include "trainer/trainer.h"

namespace rat {
namespace {

rat::v1::TrainingRecipe RecipeOf(const TrainOptions& options, int world_size,
                                 double train_seconds) {
  rat::v1::TrainingRecipe recipe;
  recipe.set_method(options.method);
  recipe.set_epsilon(options.method == "standard" ? 0 : options.epsilon);
  recipe.set_lambda_clean(options.lambda_clean);
  recipe.set_lambda_adv(options.method == "standard" ? 0 : options.lambda_adv);
  recipe.set_pgd_steps(options.pgd_steps);
  recipe.set_epochs(options.epochs);
  recipe.set_batch_size(static_cast<int32_t>(options.batch_size));
  recipe.set_world_size(world_size);
  recipe.set_optimizer(options.optimizer);
  recipe.set_learning_rate(options.learning_rate);
  recipe.set_momentum(options.optimizer == "sgd" ? options.momentum : 0);
  recipe.set_weight_decay(options.weight_decay);
  // The card stores whole epochs; fractional warmups round to the nearest.
  recipe.set_warmup_epochs(static_cast<int32_t>(options.warmup_epochs + 0.5));
  recipe.set_mixup_alpha(options.mixup_alpha);
  recipe.set_mixup_off_last_epochs(options.mixup_off_last_epochs);
  recipe.set_seed(options.seed);
  recipe.set_train_seconds(train_seconds);
  return recipe;
}

std::string DefaultModelName(const TrainOptions& options,
                             const std::string& architecture) {
  return absl::StrCat(options.dataset, "-", architecture, "-", options.method);
}

}  // namespace

absl::StatusOr<std::string> Trainer::Export() {
  const std::string path =
      options_.bundle_path.empty()
          ? (std::filesystem::path(options_.output_dir) / "model.pt").string()
          : options_.bundle_path;
  if (!is_main_) return path;

  rat::v1::ModelCard card;
  card.set_name(options_.model_name.empty()
                    ? DefaultModelName(options_, architecture_)
                    : options_.model_name);
  card.set_version("1");
  card.mutable_input_shape()->set_channels(train_.images.size(1));
  card.mutable_input_shape()->set_height(train_.images.size(2));
  card.mutable_input_shape()->set_width(train_.images.size(3));
  for (const std::string& name : train_.class_names) card.add_class_names(name);
  for (float value : mean_) card.mutable_normalization()->add_mean(value);
  for (float value : std_) card.mutable_normalization()->add_std(value);
  card.set_architecture(architecture_);
  *card.mutable_recipe() =
      RecipeOf(options_, world_size_, progress_.train_seconds);
  card.set_dataset(options_.dataset);
  card.set_created_at(
      absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()));

  if (validation_.size() > 0) {
    RAT_ASSIGN_OR_RETURN(double accuracy, Evaluate(validation_));
    card.set_validation_accuracy(accuracy);
    if (options_.calibrate) {
      RAT_RETURN_IF_ERROR(CalibrateOnHoldout(card));
    }
  } else if (options_.calibrate) {
    spdlog::warn(
        "no hold-out split (--holdout-fraction 0): the card has no "
        "calibration and no validation accuracy");
  }

  absl::StatusOr<double> test_accuracy = TestAccuracy();
  if (test_accuracy.ok()) {
    spdlog::info("test accuracy {:.2f}%", 100 * *test_accuracy);
    card.set_description(absl::StrFormat(
        "%s trained with %s on %s; test accuracy %.4f.", architecture_,
        options_.method, options_.dataset, *test_accuracy));
  } else {
    spdlog::warn("test accuracy not measured: {}",
                 test_accuracy.status().ToString());
  }

  model_.eval();
  absl::Status saved = SaveBundle(path, model_, card);
  model_.train();
  RAT_RETURN_IF_ERROR(saved);
  spdlog::info("bundle saved to {}", path);
  return path;
}

absl::Status Trainer::CalibrateOnHoldout(rat::v1::ModelCard& card) {
  int64_t count = validation_.size();
  if (options_.calibration_limit > 0) {
    count = std::min(count, options_.calibration_limit);
  }
  CalibrationOptions calibration_options;
  calibration_options.batch_size = options_.eval_batch_size;
  calibration_options.reject_coverage = options_.reject_coverage;
  calibration_options.full_odin_grid = options_.odin_search == "full";
  calibration_options.tune_rr_bs = options_.tune_rr_bs;
  calibration_options.tuned_on =
      absl::StrCat(options_.dataset, " train hold-out (", count, " images)");

  const auto start = absl::Now();
  model_.eval();
  absl::StatusOr<rat::v1::Calibration> calibration = CalibrateScores(
      model_, ToFloatImages(validation_.images.slice(0, 0, count)).to(device_),
      validation_.labels.slice(0, 0, count), calibration_options);
  model_.train();
  RAT_RETURN_IF_ERROR(calibration.status());
  *card.mutable_calibration() = *calibration;
  spdlog::info(
      "calibrated on {} images in {:.1f} s: ODIN T={} eps={}, RR-Fast T={}, "
      "RR-BS T={}, reject rr_fast < {:.6g} (coverage {:.3f}, risk {:.4f})",
      count, absl::ToDoubleSeconds(absl::Now() - start),
      calibration->odin_temperature(), calibration->odin_epsilon(),
      calibration->rr_fast_temperature(), calibration->rr_bs_temperature(),
      calibration->reject().threshold(),
      calibration->reject().achieved_coverage(),
      calibration->reject().achieved_risk());
  return absl::OkStatus();
}

absl::StatusOr<double> Trainer::TestAccuracy() {
  DatasetOptions data_options;
  data_options.name = options_.dataset;
  data_options.split = "test";
  data_options.root = options_.data_dir;
  data_options.image_size = options_.image_size;
  data_options.channels = options_.image_channels;
  RAT_ASSIGN_OR_RETURN(Dataset test, LoadDataset(data_options));
  return Evaluate(test);
}

}  // namespace rat
