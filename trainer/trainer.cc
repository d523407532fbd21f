#include "trainer/trainer.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/models/architectures.h"
#include "core/models/bundle.h"
#include "spdlog/spdlog.h"
#include "trainer/progress.h"

namespace rat {
namespace {

using Clock = std::chrono::steady_clock;

// Per-channel mean and std of uint8 N x C x H x W images, in [0, 1] units,
// accumulated in chunks so large data sets need no float copy.
void ComputeNormalization(const at::Tensor& images, std::vector<float>* mean,
                          std::vector<float>* std) {
  const int64_t channels = images.size(1);
  at::Tensor sum = at::zeros({channels}, at::kDouble);
  at::Tensor square_sum = at::zeros({channels}, at::kDouble);
  constexpr int64_t kChunk = 4096;
  for (int64_t start = 0; start < images.size(0); start += kChunk) {
    at::Tensor chunk =
        images.slice(0, start, start + kChunk).to(at::kDouble).div(255);
    sum += chunk.sum({0, 2, 3});
    square_sum += chunk.square().sum({0, 2, 3});
  }
  const double count =
      static_cast<double>(images.size(0) * images.size(2) * images.size(3));
  for (int64_t c = 0; c < channels; ++c) {
    const double m = sum[c].item<double>() / count;
    const double variance = square_sum[c].item<double>() / count - m * m;
    mean->push_back(static_cast<float>(m));
    std->push_back(static_cast<float>(std::sqrt(std::max(variance, 1e-12))));
  }
}

Augmentation DefaultAugmentation(const TrainOptions& options) {
  const bool cifar =
      options.dataset == "cifar10" || options.dataset == "cifar100";
  Augmentation augmentation;
  augmentation.crop_padding =
      options.crop_padding >= 0 ? options.crop_padding : (cifar ? 4 : 0);
  augmentation.horizontal_flip = options.flip >= 0 ? options.flip == 1 : cifar;
  return augmentation;
}

// Maps --device to a device: "cuda" means cuda:LOCAL_RANK, so each
// data-parallel worker on a node takes its own GPU.
absl::StatusOr<c10::Device> ResolveDevice(const std::string& name,
                                          int local_rank) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  const std::string full =
      name == "cuda" ? absl::StrCat("cuda:", local_rank) : name;
  const int64_t visible =
      torch::cuda::is_available()
          ? static_cast<int64_t>(torch::cuda::device_count())
          : 0;
  const c10::Device device(full);
  if (device.index() >= visible) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--device ", full, " is not available: this LibTorch build sees ",
        visible,
        " CUDA devices; use --device cpu or a CUDA build of LibTorch"));
  }
  return device;
}

}  // namespace

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const TrainOptions& options, const CheckpointContents* resume) {
  RAT_RETURN_IF_ERROR(ValidateTrainOptions(options));
  std::unique_ptr<Trainer> trainer(new Trainer());
  trainer->options_ = options;
  if (options.threads > 0) at::set_num_threads(options.threads);

  RAT_ASSIGN_OR_RETURN(trainer->step_options_.method,
                       ParseTrainMethod(options.method));
  trainer->step_options_.epsilon = options.epsilon;
  trainer->step_options_.pgd_steps = options.pgd_steps;
  trainer->step_options_.lambda_clean = options.lambda_clean;
  trainer->step_options_.lambda_adv = options.lambda_adv;

  int local_rank = 0;
#ifdef RAT_HAVE_DISTRIBUTED
  DistributedOptions distributed_options;
  RAT_RETURN_IF_ERROR(ReadDistributedEnvironment(&distributed_options));
  local_rank = distributed_options.local_rank;
#endif
  RAT_ASSIGN_OR_RETURN(trainer->device_,
                       ResolveDevice(options.device, local_rank));
#ifdef RAT_HAVE_DISTRIBUTED
  RAT_ASSIGN_OR_RETURN(
      trainer->distributed_,
      Distributed::Create(distributed_options, trainer->device_.str()));
  trainer->is_main_ = trainer->distributed_->is_main();
  trainer->world_size_ = trainer->distributed_->world_size();
#endif

  RAT_RETURN_IF_ERROR(trainer->LoadData());
  RAT_RETURN_IF_ERROR(trainer->BuildModel());
  RAT_RETURN_IF_ERROR(trainer->BuildOptimizer());
  if (resume != nullptr) {
    RAT_RETURN_IF_ERROR(
        RestoreCheckpoint(*resume, trainer->model_, *trainer->optimizer_));
    trainer->progress_ = resume->progress;
    if (trainer->is_main_) {
      spdlog::info("resumed at epoch {} batch {} (step {})",
                   trainer->progress_.epoch + 1,
                   trainer->progress_.batch_in_epoch, trainer->progress_.step);
    }
  }
  return trainer;
}

absl::Status Trainer::LoadData() {
  DatasetOptions data_options;
  data_options.name = options_.dataset;
  data_options.split = "train";
  data_options.root = options_.data_dir;
  data_options.image_size = options_.image_size;
  data_options.channels = options_.image_channels;
  data_options.limit = options_.train_limit;
  RAT_ASSIGN_OR_RETURN(Dataset full, LoadDataset(data_options));

  if (options_.holdout_fraction > 0) {
    RAT_ASSIGN_OR_RETURN(
        auto split,
        SplitHoldout(full, options_.holdout_fraction, options_.seed));
    train_ = std::move(split.first);
    validation_ = std::move(split.second);
  } else {
    train_ = std::move(full);
  }

  LoaderOptions loader_options;
  loader_options.batch_size = options_.batch_size;
  loader_options.augmentation = DefaultAugmentation(options_);
  loader_options.seed = options_.seed;
#ifdef RAT_HAVE_DISTRIBUTED
  loader_options.rank = distributed_->rank();
  loader_options.world_size = distributed_->world_size();
#endif
  RAT_ASSIGN_OR_RETURN(loader_, DataLoader::Create(train_, loader_options));
  const int64_t batches = loader_->batches_per_epoch();
  if (batches == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch-size ", options_.batch_size, " times ",
                     world_size_, " processes is larger than the ",
                     train_.size(), " training images; lower --batch-size"));
  }

  schedule_.peak_lr = options_.learning_rate;
  schedule_.min_lr = options_.min_learning_rate;
  schedule_.total_steps = options_.epochs * batches;
  schedule_.warmup_steps =
      static_cast<int64_t>(std::llround(options_.warmup_epochs * batches));
  RAT_ASSIGN_OR_RETURN(schedule_.warmup, ParseWarmupShape(options_.warmup));
  if (is_main_) {
    spdlog::info("{}: {} training images, {} held out, {} batches per epoch",
                 options_.dataset, train_.size(), validation_.size(), batches);
  }
  return absl::OkStatus();
}

absl::Status Trainer::BuildModel() {
  const int64_t channels = train_.images.size(1);
  const int64_t height = train_.images.size(2);
  const int64_t width = train_.images.size(3);
  const int64_t classes = static_cast<int64_t>(train_.class_names.size());

  if (!options_.init_bundle.empty()) {
    RAT_ASSIGN_OR_RETURN(Bundle bundle, LoadBundle(options_.init_bundle));
    RAT_ASSIGN_OR_RETURN(int64_t bundle_classes, CheckBundle(bundle));
    const rat::v1::InputShape& shape = bundle.card.input_shape();
    if (bundle_classes != classes || shape.channels() != channels ||
        shape.height() != height || shape.width() != width) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bundle \"", options_.init_bundle, "\" expects ", shape.channels(),
          "x", shape.height(), "x", shape.width(), " images and has ",
          bundle_classes, " classes, but ", options_.dataset, " has ", channels,
          "x", height, "x", width, " images and ", classes, " classes"));
    }
    model_ = bundle.module;
    architecture_ = bundle.card.architecture().empty()
                        ? "external"
                        : bundle.card.architecture();
    mean_.assign(bundle.card.normalization().mean().begin(),
                 bundle.card.normalization().mean().end());
    std_.assign(bundle.card.normalization().std().begin(),
                bundle.card.normalization().std().end());
  } else {
    absl::StatusOr<NormalizationStats> stats =
        DefaultNormalization(options_.dataset);
    if (stats.ok()) {
      mean_ = stats->mean;
      std_ = stats->std;
    } else {
      ComputeNormalization(train_.images, &mean_, &std_);
    }
    ArchitectureOptions architecture;
    architecture.name = options_.architecture;
    architecture.channels = channels;
    architecture.height = height;
    architecture.width = width;
    architecture.num_classes = classes;
    architecture.mean = mean_;
    architecture.std = std_;
    architecture.seed = options_.seed;
    RAT_ASSIGN_OR_RETURN(model_, BuildArchitecture(architecture));
    architecture_ = options_.architecture;
  }

  RAT_RETURN_IF_ERROR(
      CallTorch(absl::StrCat("moving the model to ", device_.str()),
                [&]() { model_.to(device_); }));
  model_.train();
  parameters_ = TrainableParameters(model_);
  if (distributed_ != nullptr) {
    RAT_RETURN_IF_ERROR(distributed_->BroadcastModule(model_));
  }
  if (is_main_) {
    spdlog::info("model {}: {} parameters", architecture_,
                 CountParameters(model_));
  }
  return absl::OkStatus();
}

absl::Status Trainer::BuildOptimizer() {
  return CallTorch("creating the optimizer", [&]() {
    if (options_.optimizer == "adamw") {
      torch::optim::AdamWOptions adamw(options_.learning_rate);
      adamw.betas(std::make_tuple(options_.adam_beta1, options_.adam_beta2));
      adamw.weight_decay(options_.weight_decay);
      optimizer_ = std::make_unique<torch::optim::AdamW>(parameters_, adamw);
    } else {
      torch::optim::SGDOptions sgd(options_.learning_rate);
      sgd.momentum(options_.momentum);
      sgd.nesterov(options_.nesterov);
      sgd.weight_decay(options_.weight_decay);
      optimizer_ = std::make_unique<torch::optim::SGD>(parameters_, sgd);
    }
  });
}

bool Trainer::finished() const { return progress_.epoch >= options_.epochs; }

std::string Trainer::CheckpointPath() const {
  return (std::filesystem::path(options_.output_dir) / "checkpoint.pt")
      .string();
}

absl::Status Trainer::Train() {
  while (!finished()) {
    if (options_.max_steps > 0 && progress_.step >= options_.max_steps) break;
    RAT_RETURN_IF_ERROR(RunEpoch());
  }
  if (!finished()) {
    if (is_main_) {
      spdlog::info("stopping after step {} (--max-steps {})", progress_.step,
                   options_.max_steps);
    }
    return WriteCheckpoint();
  }
  return absl::OkStatus();
}

absl::Status Trainer::TrainBatch(const Batch& batch, StepStats* stats) {
  const double learning_rate = LearningRateAt(schedule_, progress_.step);
  for (torch::optim::OptimizerParamGroup& group : optimizer_->param_groups()) {
    group.options().set_lr(learning_rate);
  }
  optimizer_->zero_grad();

  std::optional<MixupParams> mixup;
  if (MixupActive(options_.mixup_alpha, options_.mixup_off_last_epochs,
                  progress_.epoch, options_.epochs)) {
    // Each rank permutes its own shard, so the streams differ by rank.
    const uint64_t rank = distributed_ ? distributed_->rank() : 0;
    mixup = SampleMixup(options_.mixup_alpha, batch.images.size(0),
                        options_.seed + 0x632be59bd9b4e019ULL * rank,
                        progress_.step);
  }
  RAT_ASSIGN_OR_RETURN(
      *stats, RunRatStep(model_, parameters_, batch.images.to(device_),
                         batch.labels.to(device_), step_options_, mixup));
  if (distributed_ != nullptr && world_size_ > 1) {
    RAT_RETURN_IF_ERROR(distributed_->AverageGradients(model_));
  }
  return CallTorch("optimizer step", [&]() { optimizer_->step(); });
}

absl::Status Trainer::RunEpoch() {
  const int64_t batches = loader_->batches_per_epoch();
  ProgressReporter reporter(ChooseProgressMode(options_.progress, is_main_));
  reporter.StartEpoch(progress_.epoch, options_.epochs, batches);
  loader_->StartEpoch(progress_.epoch, progress_.batch_in_epoch);
  EpochMeter meter;
  const Clock::time_point start = Clock::now();

  while (std::optional<Batch> batch = loader_->Next()) {
    StepStats stats;
    RAT_RETURN_IF_ERROR(TrainBatch(*batch, &stats));
    meter.Add(stats);
    ++progress_.step;
    ++progress_.batch_in_epoch;
    reporter.Update(progress_.batch_in_epoch, meter,
                    LearningRateAt(schedule_, progress_.step - 1));
    if (options_.max_steps > 0 && progress_.step >= options_.max_steps &&
        progress_.batch_in_epoch < batches) {
      progress_.train_seconds +=
          std::chrono::duration<double>(Clock::now() - start).count();
      reporter.FinishEpoch();
      return absl::OkStatus();
    }
  }
  reporter.FinishEpoch();
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  progress_.train_seconds += seconds;

  if (distributed_ != nullptr && world_size_ > 1) {
    RAT_RETURN_IF_ERROR(distributed_->AverageBuffers(model_));
    RAT_ASSIGN_OR_RETURN(
        std::vector<double> sums,
        distributed_->SumScalars({meter.loss_sum, meter.clean_loss_sum,
                                  meter.adv_loss_sum,
                                  static_cast<double>(meter.correct),
                                  static_cast<double>(meter.images)}));
    meter.loss_sum = sums[0];
    meter.clean_loss_sum = sums[1];
    meter.adv_loss_sum = sums[2];
    meter.correct = static_cast<int64_t>(sums[3]);
    meter.images = static_cast<int64_t>(sums[4]);
  }

  EpochSummary summary;
  summary.epoch = progress_.epoch;
  summary.loss = meter.loss();
  summary.clean_loss = meter.clean_loss();
  summary.adv_loss = meter.adv_loss();
  summary.train_accuracy = meter.accuracy();
  summary.seconds = seconds;
  summary.images_per_second = seconds > 0 ? meter.images / seconds : 0;
  if (validation_.size() > 0) {
    RAT_ASSIGN_OR_RETURN(summary.validation_accuracy, Evaluate(validation_));
  }
  return FinishEpoch(summary);
}

absl::Status Trainer::FinishEpoch(const EpochSummary& summary) {
  history_.push_back(summary);
  ++progress_.epoch;
  progress_.batch_in_epoch = 0;
  if (!is_main_) return absl::OkStatus();

  spdlog::info(
      "epoch {}/{}: loss {:.4f} (clean {:.4f}, perturbed {:.4f}), train acc "
      "{:.2f}%, validation acc {:.2f}%, {:.0f} img/s, {:.1f} s",
      summary.epoch + 1, options_.epochs, summary.loss, summary.clean_loss,
      summary.adv_loss, 100 * summary.train_accuracy,
      100 * summary.validation_accuracy, summary.images_per_second,
      summary.seconds);
  if (!options_.metrics_file.empty()) {
    nlohmann::json record = {
        {"epoch", summary.epoch + 1},
        {"step", progress_.step},
        {"learning_rate", LearningRateAt(schedule_, progress_.step - 1)},
        {"loss", summary.loss},
        {"clean_loss", summary.clean_loss},
        {"adv_loss", summary.adv_loss},
        {"train_accuracy", summary.train_accuracy},
        {"validation_accuracy", summary.validation_accuracy},
        {"images_per_second", summary.images_per_second},
        {"epoch_seconds", summary.seconds},
        {"train_seconds", progress_.train_seconds}};
    RAT_RETURN_IF_ERROR(AppendJsonLine(options_.metrics_file, record));
  }

  const int every = options_.checkpoint_every_epochs;
  if (finished() || (every > 0 && progress_.epoch % every == 0)) {
    return WriteCheckpoint();
  }
  return absl::OkStatus();
}

absl::Status Trainer::WriteCheckpoint() {
  if (!is_main_) return absl::OkStatus();
  std::error_code error;
  std::filesystem::create_directories(options_.output_dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot create output folder \"",
                                            options_.output_dir,
                                            "\": ", error.message()));
  }
  const std::string path = CheckpointPath();
  RAT_RETURN_IF_ERROR(
      SaveCheckpoint(path, model_, *optimizer_, options_, progress_));
  spdlog::info("checkpoint saved to {} (epoch {}, step {})", path,
               progress_.epoch, progress_.step);
  return absl::OkStatus();
}

absl::StatusOr<double> Trainer::Evaluate(const Dataset& dataset) {
  if (dataset.size() == 0) {
    return absl::InvalidArgumentError("cannot evaluate on an empty data set");
  }
  const int64_t batch_size = options_.eval_batch_size;
  return CallTorch(
      absl::StrCat("evaluating on ", dataset.name), [&]() -> double {
        torch::NoGradGuard no_grad;
        const bool was_training = model_.is_training();
        model_.eval();
        int64_t correct = 0;
        for (int64_t start = 0; start < dataset.size(); start += batch_size) {
          at::Tensor images =
              ToFloatImages(dataset.images.slice(0, start, start + batch_size))
                  .to(device_);
          at::Tensor logits = model_.forward({images}).toTensor();
          correct += logits.argmax(1)
                         .cpu()
                         .eq(dataset.labels.slice(0, start, start + batch_size))
                         .sum()
                         .item<int64_t>();
        }
        model_.train(was_training);
        return static_cast<double>(correct) / dataset.size();
      });
}

TrainOptions MergeResumeOptions(const TrainOptions& checkpoint,
                                const TrainOptions& command_line,
                                bool output_dir_given) {
  TrainOptions merged = checkpoint;
  merged.max_steps = command_line.max_steps;
  merged.threads = command_line.threads;
  merged.progress = command_line.progress;
  merged.metrics_file = command_line.metrics_file;
  merged.bundle_path = command_line.bundle_path;
  merged.model_name = command_line.model_name;
  merged.calibrate = command_line.calibrate;
  merged.calibration_limit = command_line.calibration_limit;
  merged.reject_coverage = command_line.reject_coverage;
  merged.odin_search = command_line.odin_search;
  merged.tune_rr_bs = command_line.tune_rr_bs;
  merged.device = command_line.device;
  merged.eval_batch_size = command_line.eval_batch_size;
  merged.resume = command_line.resume;
  if (output_dir_given) merged.output_dir = command_line.output_dir;
  return merged;
}

}  // namespace rat
