#include "trainer/checkpoint.h"

#include <torch/optim/sgd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/trainer/test_models.h"
#include "trainer/rat_step.h"

namespace rat {
namespace {

using ::rat::testing::MakeLinearModel;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("rat_checkpoint_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  std::string PathOf(const std::string& name) const {
    return (folder_ / name).string();
  }

  std::filesystem::path folder_;
};

// One SGD step with momentum, so the optimizer has state to save.
void TakeStep(torch::jit::Module& model, torch::optim::SGD& optimizer) {
  optimizer.zero_grad();
  at::Tensor images = at::full({4, 1, 2, 2}, 0.5f);
  at::Tensor labels = at::tensor({0, 1, 2, 0}, at::kLong);
  at::cross_entropy_loss(model.forward({images}).toTensor(), labels).backward();
  optimizer.step();
}

TEST_F(CheckpointTest, RoundTripRestoresEverything) {
  torch::jit::Module model = MakeLinearModel(4, 3, 1);
  torch::optim::SGD optimizer(TrainableParameters(model),
                              torch::optim::SGDOptions(0.1).momentum(0.9));
  TakeStep(model, optimizer);
  TrainOptions options;
  options.epochs = 7;
  options.method = "fgsm-at";
  TrainingProgress progress;
  progress.epoch = 2;
  progress.batch_in_epoch = 5;
  progress.step = 41;
  progress.train_seconds = 12.5;
  const std::string path = PathOf("checkpoint.pt");
  ASSERT_TRUE(SaveCheckpoint(path, model, optimizer, options, progress).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  // Continue the original for one step, and a restored copy for one step:
  // the results must agree, which needs the momentum buffers too.
  const at::Tensor random_before = at::rand({3});
  TakeStep(model, optimizer);
  const at::Tensor expected_weight = model.attr("weight").toTensor().clone();

  torch::jit::Module restored = MakeLinearModel(4, 3, 99);
  torch::optim::SGD restored_optimizer(
      TrainableParameters(restored),
      torch::optim::SGDOptions(0.1).momentum(0.9));
  absl::StatusOr<CheckpointContents> contents = ReadCheckpoint(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->options.epochs, 7);
  EXPECT_EQ(contents->options.method, "fgsm-at");
  EXPECT_EQ(contents->progress.epoch, 2);
  EXPECT_EQ(contents->progress.batch_in_epoch, 5);
  EXPECT_EQ(contents->progress.step, 41);
  EXPECT_DOUBLE_EQ(contents->progress.train_seconds, 12.5);
  ASSERT_TRUE(RestoreCheckpoint(*contents, restored, restored_optimizer).ok());
  TakeStep(restored, restored_optimizer);

  EXPECT_TRUE(restored.attr("weight").toTensor().equal(expected_weight));
  // The generator state is restored too: the same draws follow.
  EXPECT_TRUE(at::rand({3}).equal(random_before));
}

TEST_F(CheckpointTest, MissingFileIsNotFound) {
  absl::StatusOr<CheckpointContents> contents =
      ReadCheckpoint(PathOf("absent.pt"));
  EXPECT_EQ(contents.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(contents.status().message(),
            "checkpoint \"" + PathOf("absent.pt") + "\" not found");
}

TEST_F(CheckpointTest, GarbageFileIsInvalidArgument) {
  const std::string path = PathOf("garbage.pt");
  std::ofstream(path) << "not a checkpoint";
  absl::StatusOr<CheckpointContents> contents = ReadCheckpoint(path);
  EXPECT_EQ(contents.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointTest, OtherModelShapeIsInvalidArgument) {
  torch::jit::Module model = MakeLinearModel(4, 3, 1);
  torch::optim::SGD optimizer(TrainableParameters(model),
                              torch::optim::SGDOptions(0.1));
  const std::string path = PathOf("checkpoint.pt");
  ASSERT_TRUE(SaveCheckpoint(path, model, optimizer, TrainOptions(), {}).ok());

  torch::jit::Module other = MakeLinearModel(4, 5, 1);
  torch::optim::SGD other_optimizer(TrainableParameters(other),
                                    torch::optim::SGDOptions(0.1));
  absl::StatusOr<CheckpointContents> contents = ReadCheckpoint(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  absl::Status status = RestoreCheckpoint(*contents, other, other_optimizer);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "checkpoint parameter \"weight\" has shape "
            "3x4, the model expects 5x4");
}

}  // namespace
}  // namespace rat
