#include <torch/cuda.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/models/bundle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/trainer/test_models.h"
#include "trainer/checkpoint.h"
#include "trainer/rat_step.h"
#include "trainer/trainer.h"

namespace rat {
namespace {

using ::rat::testing::MakeLinearModel;

TEST(TrainLoopTest, LossFallsOnSyntheticProblem) {
  // Two classes: dark images (label 0) and bright images (label 1).
  at::Generator generator = at::detail::createCPUGenerator(3);
  at::Tensor labels = at::randint(0, 2, {64}, generator, at::kLong);
  at::Tensor images = (labels.to(at::kFloat).view({64, 1, 1, 1}) * 0.5 + 0.25 +
                       at::randn({64, 1, 2, 2}, generator) * 0.05)
                          .clamp(0, 1);
  torch::jit::Module model = MakeLinearModel(4, 2, 4);
  std::vector<at::Tensor> parameters = TrainableParameters(model);
  torch::optim::SGD optimizer(parameters,
                              torch::optim::SGDOptions(0.5).momentum(0.9));
  RatStepOptions options;
  options.epsilon = 0.01;

  double first_loss = 0;
  double last_loss = 0;
  for (int step = 0; step < 40; ++step) {
    optimizer.zero_grad();
    absl::StatusOr<StepStats> stats =
        RunRatStep(model, parameters, images, labels, options, std::nullopt);
    ASSERT_TRUE(stats.ok()) << stats.status();
    if (step == 0) first_loss = stats->clean_loss;
    last_loss = stats->clean_loss;
    optimizer.step();
  }
  EXPECT_LT(last_loss, first_loss * 0.5);
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("rat_train_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  // A small Fashion-MNIST run: 320 images, 64 of them held out, 8 batches of
  // 32 per epoch, one thread so results are bitwise reproducible.
  TrainOptions SmallRun(const std::string& name) const {
    TrainOptions options;
    options.dataset = "fashion-mnist";
    options.train_limit = 320;
    options.holdout_fraction = 0.2;
    options.batch_size = 32;
    options.epochs = 2;
    options.learning_rate = 0.05;
    options.warmup_epochs = 0.5;
    options.mixup_alpha = 1.0;
    options.mixup_off_last_epochs = 1;
    options.threads = 1;
    options.seed = 5;
    options.progress = "log";
    options.calibrate = false;
    options.output_dir = (folder_ / name).string();
    return options;
  }

  std::filesystem::path folder_;
};

double MaxParameterDifference(torch::jit::Module& a, torch::jit::Module& b) {
  double difference = 0;
  auto second = b.named_parameters().begin();
  for (const auto& first : a.named_parameters()) {
    EXPECT_EQ(first.name, (*second).name);
    difference = std::max(
        difference, (first.value - (*second).value).abs().max().item<double>());
    ++second;
  }
  return difference;
}

TEST_F(TrainerTest, ResumedRunMatchesUninterruptedRun) {
  absl::StatusOr<std::unique_ptr<Trainer>> full =
      Trainer::Create(SmallRun("full"));
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE((*full)->Train().ok());
  ASSERT_TRUE((*full)->finished());

  // Stop in the middle of the first epoch, as a killed run would.
  TrainOptions interrupted_options = SmallRun("interrupted");
  interrupted_options.max_steps = 5;
  absl::StatusOr<std::unique_ptr<Trainer>> interrupted =
      Trainer::Create(interrupted_options);
  ASSERT_TRUE(interrupted.ok()) << interrupted.status();
  ASSERT_TRUE((*interrupted)->Train().ok());
  EXPECT_FALSE((*interrupted)->finished());
  EXPECT_EQ((*interrupted)->progress().step, 5);
  const std::string checkpoint_path = (*interrupted)->CheckpointPath();
  interrupted->reset();

  absl::StatusOr<CheckpointContents> checkpoint =
      ReadCheckpoint(checkpoint_path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->progress.batch_in_epoch, 5);
  TrainOptions command_line = SmallRun("interrupted");
  const TrainOptions merged =
      MergeResumeOptions(checkpoint->options, command_line, false);
  EXPECT_EQ(merged.max_steps, 0);
  absl::StatusOr<std::unique_ptr<Trainer>> resumed =
      Trainer::Create(merged, &*checkpoint);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_TRUE((*resumed)->Train().ok());
  ASSERT_TRUE((*resumed)->finished());
  EXPECT_EQ((*resumed)->progress().step, (*full)->progress().step);

  EXPECT_LE(MaxParameterDifference((*full)->model(), (*resumed)->model()),
            1e-5);
}

TEST_F(TrainerTest, WritesOneMetricsLinePerEpoch) {
  TrainOptions options = SmallRun("metrics");
  options.method = "standard";
  options.metrics_file = (folder_ / "metrics.jsonl").string();
  std::filesystem::create_directories(folder_);
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Train().ok());

  std::ifstream file(options.metrics_file);
  std::string line;
  int lines = 0;
  while (std::getline(file, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    ++lines;
    EXPECT_EQ(record["epoch"], lines);
    EXPECT_EQ(record["step"], 8 * lines);
    EXPECT_GE(record["validation_accuracy"].get<double>(), 0.0);
    EXPECT_LE(record["validation_accuracy"].get<double>(), 1.0);
    EXPECT_EQ(record["adv_loss"].get<double>(), 0.0);
  }
  EXPECT_EQ(lines, 2);
  EXPECT_TRUE(std::filesystem::exists((*trainer)->CheckpointPath()));
}

// Writes a small classifier for 1 x 28 x 28 images with torch.jit.save and a
// model card, as a Python user would. Returns false when no python3 on this
// machine imports torch.
bool SavePythonBundle(const std::filesystem::path& folder,
                      const std::string& bundle) {
  std::filesystem::create_directories(folder);
  const std::filesystem::path script = folder / "make_bundle.py";
  std::ofstream(script) << R"(import json, sys, torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, stride=2)
        self.fc = torch.nn.Linear(4 * 13 * 13, 10)
    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))
card = {"name": "from-python", "input_shape": {"channels": 1, "height": 28,
        "width": 28}, "class_names": [str(i) for i in range(10)]}
torch.manual_seed(0)
torch.jit.save(torch.jit.script(Net()), sys.argv[1],
               _extra_files={"model_card.json": json.dumps(card)})
)";
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    const std::string command = std::string(python) + " '" + script.string() +
                                "' '" + bundle + "' 2>/dev/null";
    if (std::system(command.c_str()) == 0) return true;
  }
  return false;
}

TEST_F(TrainerTest, FineTunesPythonSavedBundle) {
  const std::string bundle = (folder_ / "python.pt").string();
  if (!SavePythonBundle(folder_, bundle)) {
    GTEST_SKIP() << "no python3 with torch to write the bundle";
  }
  absl::StatusOr<Bundle> original = LoadBundle(bundle);
  ASSERT_TRUE(original.ok()) << original.status();

  TrainOptions options = SmallRun("finetune");
  options.init_bundle = bundle;
  options.epochs = 1;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Train().ok());

  ASSERT_EQ((*trainer)->history().size(), 1u);
  EXPECT_TRUE(std::isfinite((*trainer)->history()[0].loss));
  EXPECT_GT(MaxParameterDifference((*trainer)->model(), original->module), 0);
}

TEST_F(TrainerTest, RejectsOutOfRangeOption) {
  TrainOptions options = SmallRun("bad");
  options.batch_size = 0;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(trainer.status().message()),
            "--batch-size 0 is out of range; expected [1, 1048576]");
}

TEST_F(TrainerTest, RejectsUnknownMethod) {
  TrainOptions options = SmallRun("bad");
  options.method = "pgd";
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trainer.status().message(),
            "--method \"pgd\" is invalid; expected one of rat, fgsm-at, "
            "standard");
}

TEST_F(TrainerTest, RejectsInvalidDevice) {
  TrainOptions options = SmallRun("bad");
  options.device = "gpu0";
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trainer.status().message(),
            "--device \"gpu0\" is invalid; expected cpu, cuda or cuda:N");
}

TEST_F(TrainerTest, RejectsMissingCudaDevice) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  TrainOptions options = SmallRun("bad");
  options.device = "cuda";
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(trainer.status().message(),
            "--device cuda:0 is not available: this LibTorch build sees 0 "
            "CUDA devices; use --device cpu or a CUDA build of LibTorch");
}

TEST_F(TrainerTest, RejectsUnknownOdinSearch) {
  TrainOptions options = SmallRun("bad");
  options.odin_search = "random";
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(trainer.status().message(),
            "--odin-search \"random\" is invalid; expected one of staged, "
            "full");
}

TEST_F(TrainerTest, RejectsBatchLargerThanData) {
  TrainOptions options = SmallRun("bad");
  options.batch_size = 1000;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  EXPECT_EQ(trainer.status().code(), absl::StatusCode::kInvalidArgument);
  // The loader or the trainer rejects it; either message names the size.
  EXPECT_THAT(std::string(trainer.status().message()),
              ::testing::HasSubstr("256"));
}

}  // namespace
}  // namespace rat
