#include "core/models/bundle.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <filesystem>
#include <string>

#include "core/models/architectures.h"
#include "tests/models/test_files.h"

namespace rat {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

rat::v1::ModelCard MakeCard(int channels, int height, int width) {
  rat::v1::ModelCard card;
  card.set_name("fmnist");
  card.set_version("3");
  card.mutable_input_shape()->set_channels(channels);
  card.mutable_input_shape()->set_height(height);
  card.mutable_input_shape()->set_width(width);
  for (const char* name : {"t-shirt", "trouser", "pullover", "dress", "coat",
                           "sandal", "shirt", "sneaker", "bag", "boot"}) {
    card.add_class_names(name);
  }
  card.mutable_normalization()->add_mean(0.286f);
  card.mutable_normalization()->add_std(0.353f);
  card.set_architecture("small_cnn");
  card.mutable_recipe()->set_method("rat");
  card.mutable_recipe()->set_epsilon(0.001);
  card.mutable_recipe()->set_seed(18446744073709551615u);
  card.mutable_calibration()->set_rr_fast_temperature(1.5);
  card.mutable_calibration()->mutable_reject()->set_score("rr_fast");
  card.mutable_calibration()->mutable_reject()->set_threshold(0.0025);
  (*card.mutable_calibration()->mutable_aurc())["msr"] = 0.0123;
  card.set_created_at("2026-12-04T20:00:00Z");
  return card;
}

torch::jit::Module MakeSmallCnn() {
  ArchitectureOptions options;
  options.mean = {0.286f};
  options.std = {0.353f};
  options.seed = 7;
  return BuildArchitecture(options).value();
}

class BundleTest : public ::testing::Test {
 protected:
  // Saves a small CNN bundle and returns its path.
  std::string SaveValidBundle() {
    const std::string path = dir_.File("model.pt");
    EXPECT_TRUE(SaveBundle(path, MakeSmallCnn(), MakeCard(1, 28, 28)).ok());
    return path;
  }

  testing::ScopedTempDir dir_;
};

TEST_F(BundleTest, RoundTripKeepsLogitsAndCard) {
  torch::jit::Module module = MakeSmallCnn();
  module.eval();
  const at::Tensor images = at::rand({4, 1, 28, 28});
  const at::Tensor expected = module.forward({images}).toTensor();
  const rat::v1::ModelCard card = MakeCard(1, 28, 28);
  const std::string path = dir_.File("model.pt");

  ASSERT_TRUE(SaveBundle(path, module, card).ok());
  absl::StatusOr<Bundle> bundle = LoadBundle(path);

  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const at::Tensor logits = bundle->module.forward({images}).toTensor();
  EXPECT_TRUE(at::equal(logits, expected));
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(bundle->card, card));
}

TEST_F(BundleTest, RoundTripKeepsResNetLogits) {
  ArchitectureOptions options;
  options.name = "resnet20";
  options.channels = 3;
  options.height = 32;
  options.width = 32;
  options.seed = 11;
  torch::jit::Module module = BuildArchitecture(options).value();
  module.eval();
  const at::Tensor images = at::rand({2, 3, 32, 32});
  const at::Tensor expected = module.forward({images}).toTensor();
  const std::string path = dir_.File("resnet20.pt");

  ASSERT_TRUE(SaveBundle(path, module, MakeCard(3, 32, 32)).ok());
  absl::StatusOr<Bundle> bundle = LoadBundle(path);

  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_TRUE(at::equal(bundle->module.forward({images}).toTensor(), expected));
  EXPECT_EQ(CountParameters(bundle->module), CountParameters(module));
}

TEST_F(BundleTest, LoadPutsModuleInEvalMode) {
  const std::string path = SaveValidBundle();

  absl::StatusOr<Bundle> bundle = LoadBundle(path);

  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_FALSE(bundle->module.is_training());
  for (const torch::jit::Module& child : bundle->module.modules()) {
    EXPECT_FALSE(child.is_training());
  }
}

TEST_F(BundleTest, SaveReplacesFileAndLeavesNoTemporary) {
  const std::string path = dir_.File("model.pt");
  testing::WriteFile(path, "old contents");

  ASSERT_TRUE(SaveBundle(path, MakeSmallCnn(), MakeCard(1, 28, 28)).ok());

  EXPECT_TRUE(LoadBundle(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(BundleTest, SaveRejectsCardWithoutInputShape) {
  rat::v1::ModelCard card = MakeCard(1, 28, 28);
  card.clear_input_shape();
  const std::string path = dir_.File("model.pt");

  const absl::Status status = SaveBundle(path, MakeSmallCnn(), card);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no input_shape"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(BundleTest, SaveToMissingDirectoryIsInternal) {
  const std::string path = dir_.File("missing/model.pt");

  const absl::Status status =
      SaveBundle(path, MakeSmallCnn(), MakeCard(1, 28, 28));

  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), HasSubstr(path + ".tmp"));
}

TEST_F(BundleTest, MissingFileIsNotFound) {
  const std::string path = dir_.File("absent.pt");

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "model bundle \"" + path + "\" not found");
}

TEST_F(BundleTest, DirectoryIsInvalid) {
  const absl::Status status = LoadBundle(dir_.path()).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "model bundle \"" + dir_.path() + "\" is not a regular file");
}

TEST_F(BundleTest, EmptyFileIsInvalid) {
  const std::string path = dir_.File("empty.pt");
  testing::WriteFile(path, "");

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "model bundle \"" + path +
                "\" is empty (0 bytes), expected a TorchScript archive");
}

TEST_F(BundleTest, TruncatedFileIsInvalid) {
  const std::string path = SaveValidBundle();
  const std::string contents = testing::ReadFile(path);
  testing::WriteFile(path, contents.substr(0, contents.size() / 2));

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("model bundle \"" + path +
                         "\" is not a valid TorchScript archive: "));
}

TEST_F(BundleTest, TextFileIsInvalid) {
  const std::string path = dir_.File("notes.txt");
  testing::WriteFile(path, "this is not a model\n");

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("model bundle \"" + path +
                         "\" is not a valid TorchScript archive: "));
}

TEST_F(BundleTest, ZipWithoutTorchScriptIsInvalid) {
  const std::string path = dir_.File("photos.zip");
  testing::WriteZip(path, {{"photos/readme.txt", "holiday pictures"},
                           {"photos/list.csv", "a.jpg,b.jpg\n"}});

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("model bundle \"" + path +
                         "\" is not a valid TorchScript archive: "));
}

TEST_F(BundleTest, ArchiveWithoutCardIsInvalid) {
  const std::string path = dir_.File("plain.pt");
  MakeSmallCnn().save(path);

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("model bundle \"" + path +
                         "\" has no model_card.json extra file"));
}

TEST_F(BundleTest, CardWithInvalidJsonIsInvalid) {
  const std::string path = dir_.File("broken_card.pt");
  MakeSmallCnn().save(path, {{kModelCardFile, "{\"name\": \"fmnist\","}});

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(status.message()),
      StartsWith("model bundle \"" + path + "\": invalid model card JSON: "));
}

TEST_F(BundleTest, CardWithUnknownFieldIsInvalid) {
  const std::string path = dir_.File("unknown_field.pt");
  MakeSmallCnn().save(path, {{kModelCardFile, R"({"nmae": "fmnist"})"}});

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("nmae"));
}

TEST_F(BundleTest, CardWithoutInputShapeIsInvalid) {
  const std::string path = dir_.File("no_shape.pt");
  MakeSmallCnn().save(path, {{kModelCardFile, R"({"name": "fmnist"})"}});

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "model bundle \"" + path +
                "\": model card has no input_shape, expected channels, "
                "height and width");
}

TEST_F(BundleTest, CardWithZeroHeightIsInvalid) {
  const std::string path = dir_.File("zero_height.pt");
  MakeSmallCnn().save(
      path,
      {{kModelCardFile,
        R"({"input_shape": {"channels": 1, "height": 0, "width": 28}})"}});

  const absl::Status status = LoadBundle(path).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "model bundle \"" + path +
                "\": model card input_shape is 1x0x28, expected positive "
                "channels, height and width");
}

TEST_F(BundleTest, InvalidDeviceIsInvalidArgument) {
  const std::string path = SaveValidBundle();

  const absl::Status status = LoadBundle(path, "gpu7").status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "invalid device \"gpu7\", expected e.g. \"cpu\" or \"cuda:0\"");
}

TEST_F(BundleTest, UnavailableCudaDeviceIsFailedPrecondition) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  const std::string path = SaveValidBundle();

  const absl::Status status = LoadBundle(path, "cuda:0").status();

  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "device \"cuda:0\" is not available: 0 CUDA device(s) visible");
}

TEST_F(BundleTest, CheckBundleReturnsNumberOfClasses) {
  Bundle bundle = LoadBundle(SaveValidBundle()).value();

  const absl::StatusOr<int64_t> num_classes = CheckBundle(bundle);

  ASSERT_TRUE(num_classes.ok()) << num_classes.status();
  EXPECT_EQ(*num_classes, 10);
}

TEST_F(BundleTest, CheckBundleRestoresTrainingMode) {
  Bundle bundle{MakeSmallCnn(), MakeCard(1, 28, 28)};
  const at::Tensor running_mean_before = bundle.module.attr("bn1")
                                             .toModule()
                                             .attr("running_mean")
                                             .toTensor()
                                             .clone();

  ASSERT_TRUE(CheckBundle(bundle).ok());

  EXPECT_TRUE(bundle.module.is_training());
  EXPECT_TRUE(at::equal(
      bundle.module.attr("bn1").toModule().attr("running_mean").toTensor(),
      running_mean_before));
}

TEST_F(BundleTest, CheckBundleRejectsClassNameCountMismatch) {
  Bundle bundle{MakeSmallCnn(), MakeCard(1, 28, 28)};
  bundle.card.add_class_names("extra");

  const absl::Status status = CheckBundle(bundle).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "model \"fmnist\" returns 10 logits but its card lists 11 class "
            "names");
}

TEST_F(BundleTest, CheckBundleRejectsWrongInputShape) {
  Bundle bundle{MakeSmallCnn(), MakeCard(3, 32, 32)};

  const absl::Status status = CheckBundle(bundle).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("model \"fmnist\" failed a forward pass of 1x3x32x32 "
                         "zeros (the card's input_shape): "));
}

TEST_F(BundleTest, CheckBundleRejectsOutputThatIsNotLogits) {
  torch::jit::Module module(c10::QualifiedName("__torch__.Flatten"));
  module.register_attribute("training", c10::BoolType::get(), false);
  module.define(R"(
def forward(self, x):
    return torch.flatten(x)
)");
  Bundle bundle{module, MakeCard(1, 28, 28)};

  const absl::Status status = CheckBundle(bundle).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "model \"fmnist\" forward of one image returned logits of shape "
            "784, expected 1 x K with K >= 2");
}

TEST(ModelCardJsonTest, RoundTripKeepsEveryField) {
  const rat::v1::ModelCard card = MakeCard(3, 32, 32);

  const absl::StatusOr<std::string> json = ModelCardToJson(card);
  ASSERT_TRUE(json.ok()) << json.status();
  const absl::StatusOr<rat::v1::ModelCard> parsed = ModelCardFromJson(*json);

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(*parsed, card));
  EXPECT_THAT(*json, HasSubstr("\"class_names\""));
}

TEST(ModelCardJsonTest, AcceptsCamelCaseFieldNames) {
  const absl::StatusOr<rat::v1::ModelCard> card = ModelCardFromJson(
      R"({"inputShape": {"channels": 3, "height": 32, "width": 32}})");

  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->input_shape().channels(), 3);
}

}  // namespace
}  // namespace rat
