#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/data/dataset.h"
#include "gtest/gtest.h"
#include "tests/data/test_files.h"

namespace rat {
namespace {

using ::rat::testing::ScratchFolder;
using ::rat::testing::WriteFile;

constexpr int64_t kPixelBytes = 3072;

uint8_t PixelValue(int64_t image, int64_t offset) {
  return static_cast<uint8_t>((image * 13 + offset) % 251);
}

// One record per entry of `labels`; each entry lists the label bytes
// (1 for CIFAR-10, coarse and fine for CIFAR-100). Image numbers start at
// `first_image` so every image in a data set differs.
std::string Records(const std::vector<std::vector<uint8_t>>& labels,
                    int64_t first_image = 0) {
  std::string bytes;
  for (size_t i = 0; i < labels.size(); ++i) {
    for (uint8_t label : labels[i]) bytes.push_back(static_cast<char>(label));
    for (int64_t p = 0; p < kPixelBytes; ++p) {
      bytes.push_back(static_cast<char>(PixelValue(first_image + i, p)));
    }
  }
  return bytes;
}

DatasetOptions CifarOptions(const std::string& name, const std::string& root,
                            const std::string& split) {
  DatasetOptions options;
  options.name = name;
  options.root = root;
  options.split = split;
  return options;
}

// Writes data_batch_1..5 with two images each, labels 0..9 in order.
std::string WriteCifar10Train(const ScratchFolder& folder) {
  const std::string data = folder.Join("cifar-10-batches-bin");
  for (int b = 0; b < 5; ++b) {
    const auto label = static_cast<uint8_t>(2 * b);
    WriteFile(data + "/data_batch_" + std::to_string(b + 1) + ".bin",
              Records({{label}, {static_cast<uint8_t>(label + 1)}}, 2 * b));
  }
  return data;
}

TEST(Cifar10ReaderTest, LoadsTrainBatchesInOrder) {
  ScratchFolder folder;
  WriteCifar10Train(folder);

  absl::StatusOr<Dataset> dataset =
      LoadDataset(CifarOptions("cifar10", folder.path(), "train"));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->images.sizes(), (std::vector<int64_t>{10, 3, 32, 32}));
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(dataset->labels[i].item<int64_t>(), i);
  }
  // Record bytes are the red, green and blue planes in row-major order.
  EXPECT_EQ(dataset->images[7][0][0][0].item<uint8_t>(), PixelValue(7, 0));
  EXPECT_EQ(dataset->images[7][1][2][3].item<uint8_t>(),
            PixelValue(7, 1024 + 2 * 32 + 3));
  EXPECT_EQ(dataset->images[9][2][31][31].item<uint8_t>(), PixelValue(9, 3071));
  EXPECT_EQ(dataset->class_names.front(), "airplane");
  EXPECT_EQ(dataset->class_names.back(), "truck");
}

TEST(Cifar10ReaderTest, LimitStopsAcrossBatchFiles) {
  ScratchFolder folder;
  WriteCifar10Train(folder);
  DatasetOptions options = CifarOptions("cifar10", folder.path(), "train");
  options.limit = 3;

  absl::StatusOr<Dataset> dataset = LoadDataset(options);

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 3);
  EXPECT_EQ(dataset->labels[2].item<int64_t>(), 2);
}

TEST(Cifar10ReaderTest, AcceptsDataFolderAsRootWithMetaNames) {
  ScratchFolder folder;
  WriteFile(folder.Join("test_batch.bin"), Records({{4}, {9}}));
  WriteFile(folder.Join("batches.meta.txt"),
            "a0\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n");

  absl::StatusOr<Dataset> dataset =
      LoadDataset(CifarOptions("cifar10", folder.path(), "test"));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 2);
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 9);
  EXPECT_EQ(dataset->class_names[9], "a9");
}

TEST(Cifar10ReaderTest, RejectsMetaWithWrongCount) {
  ScratchFolder folder;
  WriteFile(folder.Join("test_batch.bin"), Records({{4}}));
  WriteFile(folder.Join("batches.meta.txt"), "cat\ndog\nfrog\n");

  absl::Status status =
      LoadDataset(CifarOptions("cifar10", folder.path(), "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), folder.Join("batches.meta.txt") +
                                  ": lists 3 class names, expected 10");
}

TEST(Cifar10ReaderTest, RejectsPartialRecord) {
  ScratchFolder folder;
  WriteFile(folder.Join("test_batch.bin"), Records({{1}, {2}}) + "extra");

  absl::Status status =
      LoadDataset(CifarOptions("cifar10", folder.path(), "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            folder.Join("test_batch.bin") +
                ": size 6151 bytes is not a positive multiple of the "
                "3073-byte record");
}

TEST(Cifar10ReaderTest, RejectsLabelOutOfRange) {
  ScratchFolder folder;
  WriteFile(folder.Join("test_batch.bin"), Records({{1}, {10}}));

  absl::Status status =
      LoadDataset(CifarOptions("cifar10", folder.path(), "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), folder.Join("test_batch.bin") +
                                  ": label 10 at index 1 is out of range "
                                  "[0, 10)");
}

TEST(Cifar10ReaderTest, MissingBatchIsNotFound) {
  ScratchFolder folder;
  WriteFile(folder.Join("data_batch_1.bin"), Records({{1}}));

  absl::Status status =
      LoadDataset(CifarOptions("cifar10", folder.path(), "train")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            folder.Join("data_batch_2.bin") + ": file not found");
}

TEST(Cifar100ReaderTest, UsesFineLabels) {
  ScratchFolder folder;
  const std::string data = folder.Join("cifar-100-binary");
  WriteFile(data + "/train.bin", Records({{3, 0}, {19, 99}, {0, 42}}));

  absl::StatusOr<Dataset> dataset =
      LoadDataset(CifarOptions("cifar100", folder.path(), "train"));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 3);
  EXPECT_EQ(dataset->labels[0].item<int64_t>(), 0);
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 99);
  EXPECT_EQ(dataset->labels[2].item<int64_t>(), 42);
  EXPECT_EQ(dataset->images[2][0][0][5].item<uint8_t>(), PixelValue(2, 5));
  ASSERT_EQ(dataset->class_names.size(), 100u);
  EXPECT_EQ(dataset->class_names.front(), "apple");
  EXPECT_EQ(dataset->class_names.back(), "worm");
}

TEST(Cifar100ReaderTest, ReadsFineLabelNamesFile) {
  ScratchFolder folder;
  WriteFile(folder.Join("test.bin"), Records({{1, 7}}));
  std::string names;
  for (int i = 0; i < 100; ++i) names += "class_" + std::to_string(i) + "\n";
  WriteFile(folder.Join("fine_label_names.txt"), names);

  absl::StatusOr<Dataset> dataset =
      LoadDataset(CifarOptions("cifar100", folder.path(), "test"));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->class_names[7], "class_7");
}

TEST(Cifar100ReaderTest, RejectsFineLabelOutOfRange) {
  ScratchFolder folder;
  WriteFile(folder.Join("test.bin"), Records({{1, 100}}));

  absl::Status status =
      LoadDataset(CifarOptions("cifar100", folder.path(), "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), folder.Join("test.bin") +
                                  ": label 100 at index 0 is out of range "
                                  "[0, 100)");
}

TEST(Cifar100ReaderTest, RejectsCoarseLabelOutOfRange) {
  ScratchFolder folder;
  WriteFile(folder.Join("test.bin"), Records({{1, 1}, {20, 5}}));

  absl::Status status =
      LoadDataset(CifarOptions("cifar100", folder.path(), "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), folder.Join("test.bin") +
                                  ": coarse label 20 at index 1 is out of "
                                  "range [0, 20)");
}

TEST(Cifar100ReaderTest, RejectsCifar10SizedRecords) {
  ScratchFolder folder;
  WriteFile(folder.Join("test.bin"), Records({{1}, {2}}));

  absl::Status status =
      LoadDataset(CifarOptions("cifar100", folder.path(), "test")).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            folder.Join("test.bin") +
                ": size 6146 bytes is not a positive multiple of the "
                "3074-byte record");
}

}  // namespace
}  // namespace rat
