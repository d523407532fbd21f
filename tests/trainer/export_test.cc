#include <algorithm>
#include <filesystem>
#include <string>

#include "core/models/bundle.h"
#include "gtest/gtest.h"
#include "tests/trainer/test_models.h"
#include "trainer/calibration.h"
#include "trainer/trainer.h"

namespace rat {
namespace {

using ::rat::testing::MakeMlpModel;

bool InGrid(const std::vector<double>& grid, double value) {
  return std::find(grid.begin(), grid.end(), value) != grid.end();
}

TEST(CalibrateScoresTest, TunedValuesComeFromGrids) {
  torch::jit::Module model = MakeMlpModel(4, 8, 3, 21);
  model.eval();
  at::Tensor images =
      at::rand({96, 1, 2, 2}, at::detail::createCPUGenerator(22));
  at::Tensor labels;
  {
    // Labels agree with the model on about two thirds of the images, so
    // both correct and wrong predictions exist.
    torch::NoGradGuard no_grad;
    labels = model.forward({images}).toTensor().argmax(1);
    labels.slice(0, 0, 32).add_(1).remainder_(3);
  }
  CalibrationOptions options;
  options.batch_size = 40;
  options.reject_coverage = 0.9;
  options.tuned_on = "random images";

  absl::StatusOr<rat::v1::Calibration> calibration =
      CalibrateScores(model, images, labels, options);
  ASSERT_TRUE(calibration.ok()) << calibration.status();

  EXPECT_TRUE(InGrid(TemperatureGrid(), calibration->odin_temperature()));
  EXPECT_TRUE(InGrid(OdinEpsilonGrid(), calibration->odin_epsilon()));
  EXPECT_TRUE(InGrid(TemperatureGrid(), calibration->rr_fast_temperature()));
  EXPECT_TRUE(InGrid(TemperatureGrid(), calibration->rr_bs_temperature()));
  EXPECT_EQ(calibration->tuned_on(), "random images");
  for (const char* score : {"msr", "odin", "rr_fast", "rr_bs", "mls",
                            "neg_entropy", "margin", "doctor", "energy"}) {
    EXPECT_EQ(calibration->aurc().count(score), 1u) << score;
  }
  // The tuned scores are at least as good as their T = 1 defaults, which the
  // grid contains.
  EXPECT_LE(calibration->aurc().at("odin"), calibration->aurc().at("msr"));
  EXPECT_EQ(calibration->reject().score(), "rr_fast");
  EXPECT_EQ(calibration->reject().method(), "coverage");
  EXPECT_DOUBLE_EQ(calibration->reject().target(), 0.9);
  EXPECT_GE(calibration->reject().achieved_coverage(), 0.9);
}

TEST(CalibrateScoresTest, FullOdinGridIsNoWorseThanStaged) {
  torch::jit::Module model = MakeMlpModel(4, 8, 3, 31);
  model.eval();
  at::Tensor images =
      at::rand({64, 1, 2, 2}, at::detail::createCPUGenerator(32));
  at::Tensor labels;
  {
    torch::NoGradGuard no_grad;
    labels = model.forward({images}).toTensor().argmax(1);
    labels.slice(0, 0, 24).add_(1).remainder_(3);
  }
  CalibrationOptions staged;
  staged.batch_size = 64;
  CalibrationOptions full = staged;
  full.full_odin_grid = true;
  full.tune_rr_bs = true;

  absl::StatusOr<rat::v1::Calibration> from_staged =
      CalibrateScores(model, images, labels, staged);
  absl::StatusOr<rat::v1::Calibration> from_full =
      CalibrateScores(model, images, labels, full);
  ASSERT_TRUE(from_staged.ok()) << from_staged.status();
  ASSERT_TRUE(from_full.ok()) << from_full.status();

  // The full grid contains every staged candidate.
  EXPECT_LE(from_full->aurc().at("odin"), from_staged->aurc().at("odin"));
  EXPECT_LE(from_full->aurc().at("rr_bs"), from_staged->aurc().at("rr_bs"));
  // Without tuning RR-BS keeps T = 1; RR-Fast is tuned either way.
  EXPECT_EQ(from_staged->rr_bs_temperature(), 1.0);
  EXPECT_EQ(from_staged->rr_fast_temperature(),
            from_full->rr_fast_temperature());
}

TEST(CalibrateScoresTest, RejectsEmptySet) {
  torch::jit::Module model = MakeMlpModel(4, 8, 3, 23);
  absl::StatusOr<rat::v1::Calibration> calibration = CalibrateScores(
      model, at::zeros({0, 1, 2, 2}), at::zeros({0}, at::kLong), {});
  EXPECT_EQ(calibration.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExportTest, BundleLoadsWithCalibratedCard) {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() /
      ("rat_export_test_" + std::to_string(::getpid()));
  TrainOptions options;
  options.dataset = "fashion-mnist";
  options.train_limit = 320;
  options.holdout_fraction = 0.2;
  options.batch_size = 32;
  options.epochs = 1;
  options.threads = 1;
  options.progress = "log";
  options.output_dir = folder.string();
  options.model_name = "fmnist-test";
  options.calibration_limit = 16;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Train().ok());
  absl::StatusOr<std::string> path = (*trainer)->Export();
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, (folder / "model.pt").string());
  absl::StatusOr<double> validation_accuracy =
      (*trainer)->Evaluate((*trainer)->validation_set());
  ASSERT_TRUE(validation_accuracy.ok());

  absl::StatusOr<Bundle> bundle = LoadBundle(*path);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const rat::v1::ModelCard& card = bundle->card;
  EXPECT_EQ(card.name(), "fmnist-test");
  EXPECT_EQ(card.dataset(), "fashion-mnist");
  EXPECT_EQ(card.architecture(), "small_cnn");
  EXPECT_EQ(card.input_shape().channels(), 1);
  EXPECT_EQ(card.input_shape().height(), 28);
  EXPECT_EQ(card.input_shape().width(), 28);
  EXPECT_EQ(card.class_names_size(), 10);
  EXPECT_EQ(card.normalization().mean_size(), 1);
  EXPECT_EQ(card.normalization().std_size(), 1);
  EXPECT_EQ(card.recipe().method(), "rat");
  EXPECT_DOUBLE_EQ(card.recipe().epsilon(), 1e-3);
  EXPECT_EQ(card.recipe().epochs(), 1);
  EXPECT_EQ(card.recipe().batch_size(), 32);
  EXPECT_EQ(card.recipe().optimizer(), "sgd");
  EXPECT_DOUBLE_EQ(card.validation_accuracy(), *validation_accuracy);
  EXPECT_FALSE(card.created_at().empty());
  EXPECT_TRUE(
      InGrid(TemperatureGrid(), card.calibration().rr_fast_temperature()));
  EXPECT_TRUE(InGrid(TemperatureGrid(), card.calibration().odin_temperature()));
  EXPECT_EQ(card.calibration().tuned_on(),
            "fashion-mnist train hold-out (16 images)");
  EXPECT_EQ(card.calibration().reject().score(), "rr_fast");
  EXPECT_DOUBLE_EQ(card.calibration().reject().target(), 0.95);

  // The exported module gives the trained model's logits.
  at::Tensor images = at::rand({2, 1, 28, 28});
  torch::NoGradGuard no_grad;
  (*trainer)->model().eval();
  at::Tensor expected = (*trainer)->model().forward({images}).toTensor();
  at::Tensor actual = bundle->module.forward({images}).toTensor();
  EXPECT_TRUE(at::allclose(actual, expected));
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace rat
