#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/data/dataset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/data/test_files.h"

namespace rat {
namespace {

using ::rat::testing::AppendBigEndian32;
using ::rat::testing::ScratchFolder;
using ::rat::testing::WriteFile;
using ::rat::testing::WriteGzipFile;

constexpr int64_t kRows = 4;
constexpr int64_t kColumns = 5;

uint8_t PixelValue(int64_t image, int64_t offset) {
  return static_cast<uint8_t>((image * 31 + offset * 7) % 256);
}

std::string ImagesFile(int64_t count, uint32_t magic = 0x00000803,
                       uint32_t rows = kRows) {
  std::string bytes;
  AppendBigEndian32(bytes, magic);
  AppendBigEndian32(bytes, static_cast<uint32_t>(count));
  AppendBigEndian32(bytes, rows);
  AppendBigEndian32(bytes, kColumns);
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t p = 0; p < kRows * kColumns; ++p) {
      bytes.push_back(static_cast<char>(PixelValue(i, p)));
    }
  }
  return bytes;
}

std::string LabelsFile(const std::vector<uint8_t>& labels,
                       uint32_t magic = 0x00000801) {
  std::string bytes;
  AppendBigEndian32(bytes, magic);
  AppendBigEndian32(bytes, static_cast<uint32_t>(labels.size()));
  for (uint8_t label : labels) bytes.push_back(static_cast<char>(label));
  return bytes;
}

DatasetOptions IdxOptions(const std::string& root, const std::string& name,
                          const std::string& split) {
  DatasetOptions options;
  options.name = name;
  options.split = split;
  options.root = root;
  return options;
}

TEST(IdxReaderTest, LoadsPlainFiles) {
  ScratchFolder folder;
  WriteFile(folder.Join("t10k-images-idx3-ubyte"), ImagesFile(3));
  WriteFile(folder.Join("t10k-labels-idx1-ubyte"), LabelsFile({7, 0, 9}));

  absl::StatusOr<Dataset> dataset =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test"));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->name, "mnist");
  EXPECT_EQ(dataset->images.sizes(),
            (std::vector<int64_t>{3, 1, kRows, kColumns}));
  EXPECT_EQ(dataset->images.scalar_type(), at::kByte);
  EXPECT_EQ(dataset->labels.scalar_type(), at::kLong);
  EXPECT_EQ(dataset->labels[0].item<int64_t>(), 7);
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 0);
  EXPECT_EQ(dataset->labels[2].item<int64_t>(), 9);
  EXPECT_EQ(dataset->class_names.front(), "0");
  EXPECT_EQ(dataset->class_names.back(), "9");
  const at::Tensor flat = dataset->images.reshape({3, kRows * kColumns});
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t p = 0; p < kRows * kColumns; ++p) {
      ASSERT_EQ(flat[i][p].item<uint8_t>(), PixelValue(i, p))
          << "image " << i << " pixel " << p;
    }
  }
}

TEST(IdxReaderTest, LoadsGzipFilesWithFashionNames) {
  ScratchFolder folder;
  WriteGzipFile(folder.Join("train-images-idx3-ubyte.gz"), ImagesFile(4));
  WriteGzipFile(folder.Join("train-labels-idx1-ubyte.gz"),
                LabelsFile({1, 2, 3, 4}));

  absl::StatusOr<Dataset> dataset =
      LoadDataset(IdxOptions(folder.path(), "fashion-mnist", "train"));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 4);
  EXPECT_EQ(dataset->labels[3].item<int64_t>(), 4);
  EXPECT_EQ(dataset->images[3][0][3][4].item<uint8_t>(), PixelValue(3, 19));
  EXPECT_EQ(dataset->class_names,
            (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover",
                                      "Dress", "Coat", "Sandal", "Shirt",
                                      "Sneaker", "Bag", "Ankle boot"}));
}

TEST(IdxReaderTest, LimitKeepsFirstImages) {
  ScratchFolder folder;
  WriteFile(folder.Join("t10k-images-idx3-ubyte"), ImagesFile(5));
  WriteFile(folder.Join("t10k-labels-idx1-ubyte"), LabelsFile({5, 6, 7, 8, 9}));
  DatasetOptions options = IdxOptions(folder.path(), "mnist", "test");
  options.limit = 2;

  absl::StatusOr<Dataset> dataset = LoadDataset(options);

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->images.size(0), 2);
  EXPECT_EQ(dataset->labels.size(0), 2);
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 6);
}

TEST(IdxReaderTest, RejectsBadImagesMagic) {
  ScratchFolder folder;
  const std::string images = folder.Join("t10k-images-idx3-ubyte");
  WriteFile(images, ImagesFile(2, 0x00000802));
  WriteFile(folder.Join("t10k-labels-idx1-ubyte"), LabelsFile({0, 1}));

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            images + ": bad magic number 0x00000802, expected 0x00000803");
}

TEST(IdxReaderTest, RejectsBadLabelsMagic) {
  ScratchFolder folder;
  const std::string labels = folder.Join("t10k-labels-idx1-ubyte");
  WriteFile(folder.Join("t10k-images-idx3-ubyte"), ImagesFile(2));
  WriteFile(labels, LabelsFile({0, 1}, 0x00000803));

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            labels + ": bad magic number 0x00000803, expected 0x00000801");
}

TEST(IdxReaderTest, RejectsLabelOutOfRange) {
  ScratchFolder folder;
  const std::string labels = folder.Join("train-labels-idx1-ubyte.gz");
  WriteGzipFile(folder.Join("train-images-idx3-ubyte.gz"), ImagesFile(6));
  WriteGzipFile(labels, LabelsFile({0, 1, 2, 3, 4, 12}));

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "train")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            labels + ": label 12 at index 5 is out of range [0, 10)");
}

TEST(IdxReaderTest, RejectsZeroRows) {
  ScratchFolder folder;
  const std::string images = folder.Join("t10k-images-idx3-ubyte");
  WriteFile(images, ImagesFile(1, 0x00000803, 0));
  WriteFile(folder.Join("t10k-labels-idx1-ubyte"), LabelsFile({0}));

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            images +
                ": image size 0x5 is invalid, expected 1 to 16384 "
                "pixels per side");
}

TEST(IdxReaderTest, RejectsCountMismatch) {
  ScratchFolder folder;
  const std::string images = folder.Join("t10k-images-idx3-ubyte");
  const std::string labels = folder.Join("t10k-labels-idx1-ubyte");
  WriteFile(images, ImagesFile(3));
  WriteFile(labels, LabelsFile({0, 1}));

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), labels + ": contains 2 labels but " + images +
                                  " contains 3 images");
}

TEST(IdxReaderTest, RejectsTruncatedPlainImages) {
  ScratchFolder folder;
  const std::string images = folder.Join("t10k-images-idx3-ubyte");
  std::string bytes = ImagesFile(3);
  bytes.resize(bytes.size() - 10);
  WriteFile(images, bytes);
  WriteFile(folder.Join("t10k-labels-idx1-ubyte"), LabelsFile({0, 1, 2}));

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            images + ": truncated: expected 60 bytes of pixels, got 50");
}

TEST(IdxReaderTest, RejectsTruncatedGzipImages) {
  ScratchFolder folder;
  const std::string images = folder.Join("t10k-images-idx3-ubyte.gz");
  WriteGzipFile(images, ImagesFile(50));
  WriteGzipFile(folder.Join("t10k-labels-idx1-ubyte.gz"),
                LabelsFile(std::vector<uint8_t>(50, 1)));
  std::filesystem::resize_file(images, std::filesystem::file_size(images) / 2);

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              ::testing::StartsWith(
                  images + ": truncated: expected 1000 bytes of pixels, got "))
      << status;
}

TEST(IdxReaderTest, MissingFilesAreNotFound) {
  ScratchFolder folder;

  absl::Status status =
      LoadDataset(IdxOptions(folder.path(), "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), folder.path() +
                                  ": none of t10k-images-idx3-ubyte.gz, "
                                  "t10k-images-idx3-ubyte found");
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_value_ = old != nullptr;
    if (had_value_) old_value_ = old;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, /*overwrite=*/1);
    }
  }
  ~ScopedEnvironment() {
    if (had_value_) {
      setenv(name_, old_value_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_value_ = false;
  std::string old_value_;
};

TEST(DatasetTest, EmptyRootUsesDatasetRootDir) {
  ScratchFolder folder;
  WriteFile(folder.Join("t10k-images-idx3-ubyte"), ImagesFile(2));
  WriteFile(folder.Join("t10k-labels-idx1-ubyte"), LabelsFile({3, 4}));
  ScopedEnvironment environment("DATASET_ROOT_DIR", folder.path().c_str());

  absl::StatusOr<Dataset> dataset =
      LoadDataset(IdxOptions("", "mnist", "test"));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 4);
}

TEST(DatasetTest, MnistWithoutRootIsInvalid) {
  ScopedEnvironment environment("DATASET_ROOT_DIR", nullptr);

  absl::Status status = LoadDataset(IdxOptions("", "mnist", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "data set \"mnist\" has no default folder: set the root option "
            "or DATASET_ROOT_DIR");
}

TEST(DatasetTest, RejectsUnknownName) {
  absl::Status status =
      LoadDataset(IdxOptions("/tmp", "svhn", "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "unknown data set \"svhn\", expected one of fashion-mnist, mnist, "
            "cifar10, cifar100, imagefolder, cifar10c");
}

TEST(DatasetTest, RejectsUnknownSplit) {
  absl::Status status =
      LoadDataset(IdxOptions("/tmp", "mnist", "validation")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "split \"validation\" is invalid, expected train or test");
}

TEST(DatasetTest, RejectsNegativeLimit) {
  DatasetOptions options = IdxOptions("/tmp", "mnist", "test");
  options.limit = -1;

  absl::Status status = LoadDataset(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "limit must be 0 (all) or positive, got -1");
}

TEST(DatasetTest, ToFloatImagesScalesToUnitRange) {
  const at::Tensor images =
      at::tensor({0, 51, 255}, at::kByte).reshape({1, 1, 1, 3});

  const at::Tensor floats = ToFloatImages(images);

  EXPECT_EQ(floats.scalar_type(), at::kFloat);
  EXPECT_EQ(floats.sizes(), images.sizes());
  EXPECT_FLOAT_EQ(floats[0][0][0][0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(floats[0][0][0][1].item<float>(), 0.2f);
  EXPECT_FLOAT_EQ(floats[0][0][0][2].item<float>(), 1.0f);
}

TEST(FashionMnistTest, LoadsPackagedTestSet) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed under " << root;
  }
  ScopedEnvironment environment("DATASET_ROOT_DIR", nullptr);
  DatasetOptions options;  // fashion-mnist test split, default root

  absl::StatusOr<Dataset> dataset = LoadDataset(options);

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_EQ(dataset->labels.min().item<int64_t>(), 0);
  EXPECT_EQ(dataset->labels.max().item<int64_t>(), 9);
  // The published test split has 1000 images of each class.
  const at::Tensor per_class = at::bincount(dataset->labels);
  EXPECT_TRUE(per_class.eq(1000).all().item<bool>());
}

TEST(FashionMnistTest, LoadsPackagedTrainSet) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed under " << root;
  }
  DatasetOptions options;
  options.split = "train";
  options.root = root;

  absl::StatusOr<Dataset> dataset = LoadDataset(options);

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  // The published training split has 6000 images of each class.
  const at::Tensor per_class = at::bincount(dataset->labels);
  EXPECT_TRUE(per_class.eq(6000).all().item<bool>());
}

}  // namespace
}  // namespace rat
