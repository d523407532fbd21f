#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/data/dataset.h"
#include "gtest/gtest.h"
#include "tests/data/test_files.h"

namespace rat {
namespace {

using ::rat::testing::ScratchFolder;
using ::rat::testing::WriteFile;

constexpr int64_t kImageBytes = 32 * 32 * 3;

struct NpySpec {
  std::string descr = "|u1";
  std::vector<int64_t> shape;
  bool fortran_order = false;
  int major_version = 1;
};

// A .npy file as NumPy writes it: header padded with spaces to a multiple
// of 64 bytes and ended by a newline.
std::string NpyFile(const NpySpec& spec, const std::string& data) {
  std::string shape = absl::StrJoin(spec.shape, ", ");
  if (spec.shape.size() == 1) shape += ",";
  std::string dict = absl::StrCat(
      "{'descr': '", spec.descr,
      "', 'fortran_order': ", spec.fortran_order ? "True" : "False",
      ", 'shape': (", shape, "), }");
  const size_t prefix = spec.major_version == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict.push_back(' ');
  dict.push_back('\n');

  std::string bytes = "\x93NUMPY";
  bytes.push_back(static_cast<char>(spec.major_version));
  bytes.push_back(0);
  const size_t length = dict.size();
  bytes.push_back(static_cast<char>(length & 0xff));
  bytes.push_back(static_cast<char>(length >> 8));
  if (spec.major_version > 1) bytes.append(2, '\0');
  return bytes + dict + data;
}

// Image i has value (i * 7 + offset) % 256 at byte `offset` of its
// 32 x 32 x 3 (H x W x C) block.
std::string ImageBytes(int64_t count) {
  std::string data(count * kImageBytes, '\0');
  for (int64_t i = 0; i < count; ++i) {
    for (int64_t p = 0; p < kImageBytes; ++p) {
      data[i * kImageBytes + p] = static_cast<char>((i * 7 + p) % 256);
    }
  }
  return data;
}

std::string Int64Labels(int64_t count) {
  std::string data;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t label = i % 10;
    data.append(reinterpret_cast<const char*>(&label), sizeof(label));
  }
  return data;
}

NpySpec ImagesSpec(int64_t count) {
  NpySpec spec;
  spec.shape = {count, 32, 32, 3};
  return spec;
}

NpySpec LabelsSpec(int64_t count, const std::string& descr = "<i8") {
  NpySpec spec;
  spec.descr = descr;
  spec.shape = {count};
  return spec;
}

DatasetOptions CorruptedOptions(const std::string& root, int severity = 0) {
  DatasetOptions options;
  options.name = "cifar10c";
  options.root = root;
  options.corruption = "fog";
  options.severity = severity;
  return options;
}

// Writes fog.npy with `count` images and labels.npy with int64 labels.
void WriteSmallSet(const ScratchFolder& folder, int64_t count) {
  WriteFile(folder.Join("fog.npy"),
            NpyFile(ImagesSpec(count), ImageBytes(count)));
  WriteFile(folder.Join("labels.npy"),
            NpyFile(LabelsSpec(count), Int64Labels(count)));
}

TEST(CorruptedCifarReaderTest, ConvertsHwcToChw) {
  ScratchFolder folder;
  WriteSmallSet(folder, 4);

  absl::StatusOr<Dataset> dataset =
      LoadDataset(CorruptedOptions(folder.path()));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->images.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  // Channel c of pixel (y, x) is byte (y * 32 + x) * 3 + c.
  const int64_t offset = (5 * 32 + 6) * 3 + 2;
  EXPECT_EQ(dataset->images[3][2][5][6].item<uint8_t>(),
            (3 * 7 + offset) % 256);
  EXPECT_EQ(dataset->labels[3].item<int64_t>(), 3);
  EXPECT_EQ(dataset->class_names[0], "airplane");
}

TEST(CorruptedCifarReaderTest, AcceptsParentOfArchiveFolder) {
  ScratchFolder folder;
  WriteFile(folder.Join("CIFAR-10-C/fog.npy"),
            NpyFile(ImagesSpec(2), ImageBytes(2)));
  WriteFile(folder.Join("CIFAR-10-C/labels.npy"),
            NpyFile(LabelsSpec(2), Int64Labels(2)));

  absl::StatusOr<Dataset> dataset =
      LoadDataset(CorruptedOptions(folder.path()));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 2);
}

TEST(CorruptedCifarReaderTest, AcceptsUint8LabelsAndVersion2Header) {
  ScratchFolder folder;
  NpySpec images = ImagesSpec(2);
  images.major_version = 2;
  WriteFile(folder.Join("fog.npy"), NpyFile(images, ImageBytes(2)));
  WriteFile(folder.Join("labels.npy"),
            NpyFile(LabelsSpec(2, "|u1"), std::string("\x05\x09", 2)));

  absl::StatusOr<Dataset> dataset =
      LoadDataset(CorruptedOptions(folder.path()));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->labels[0].item<int64_t>(), 5);
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 9);
}

// Two severities of 10000 images each (61 MB), written once.
class CorruptedCifarSeverityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = new ScratchFolder();
    WriteSmallSet(*folder_, 20000);
  }
  static void TearDownTestSuite() {
    delete folder_;
    folder_ = nullptr;
  }

  static ScratchFolder* folder_;
};

ScratchFolder* CorruptedCifarSeverityTest::folder_ = nullptr;

TEST_F(CorruptedCifarSeverityTest, AllSeveritiesKeepsEveryImage) {
  absl::StatusOr<Dataset> dataset =
      LoadDataset(CorruptedOptions(folder_->path(), 0));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 20000);
  EXPECT_EQ(dataset->images.size(0), 20000);
}

TEST_F(CorruptedCifarSeverityTest, SeveritySelectsItsSlice) {
  absl::StatusOr<Dataset> dataset =
      LoadDataset(CorruptedOptions(folder_->path(), 2));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 10000);
  // The first image of severity 2 is image 10000 of the file.
  EXPECT_EQ(dataset->images[0][0][0][0].item<uint8_t>(), (10000 * 7) % 256);
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 10001 % 10);
}

TEST_F(CorruptedCifarSeverityTest, LimitAppliesWithinSeverity) {
  DatasetOptions options = CorruptedOptions(folder_->path(), 2);
  options.limit = 5;

  absl::StatusOr<Dataset> dataset = LoadDataset(options);

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 5);
  EXPECT_EQ(dataset->images.size(0), 5);
  EXPECT_EQ(dataset->images[4][0][0][0].item<uint8_t>(), (10004 * 7) % 256);
}

TEST_F(CorruptedCifarSeverityTest, RejectsMissingSeverity) {
  absl::Status status =
      LoadDataset(CorruptedOptions(folder_->path(), 3)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      status.message(),
      folder_->Join("fog.npy") +
          ": contains 20000 images, images [20000, 30000) were requested");
}

TEST(CorruptedCifarReaderTest, RejectsBadMagic) {
  ScratchFolder folder;
  WriteSmallSet(folder, 2);
  WriteFile(folder.Join("fog.npy"), "PK\x03\x04 not numpy at all");

  absl::Status status = LoadDataset(CorruptedOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            folder.Join("fog.npy") + ": bad magic, expected a NumPy .npy file");
}

TEST(CorruptedCifarReaderTest, RejectsFloatImages) {
  ScratchFolder folder;
  WriteSmallSet(folder, 1);
  NpySpec spec = ImagesSpec(1);
  spec.descr = "<f4";
  WriteFile(folder.Join("fog.npy"), NpyFile(spec, ImageBytes(4)));

  absl::Status status = LoadDataset(CorruptedOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), folder.Join("fog.npy") +
                                  ": dtype '<f4' is unsupported, expected "
                                  "'|u1'");
}

TEST(CorruptedCifarReaderTest, RejectsWrongImageShape) {
  ScratchFolder folder;
  WriteSmallSet(folder, 2);
  NpySpec spec;
  spec.shape = {2, 32, 32, 1};
  WriteFile(folder.Join("fog.npy"), NpyFile(spec, std::string(2048, 'x')));

  absl::Status status = LoadDataset(CorruptedOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            folder.Join("fog.npy") +
                ": shape (2, 32, 32, 1) is invalid, expected (N, 32, 32, 3)");
}

TEST(CorruptedCifarReaderTest, RejectsFortranOrder) {
  ScratchFolder folder;
  WriteSmallSet(folder, 1);
  NpySpec spec = ImagesSpec(1);
  spec.fortran_order = true;
  WriteFile(folder.Join("fog.npy"), NpyFile(spec, ImageBytes(1)));

  absl::Status status = LoadDataset(CorruptedOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            folder.Join("fog.npy") +
                ": fortran_order is True, expected C order (False)");
}

TEST(CorruptedCifarReaderTest, RejectsTruncatedImages) {
  ScratchFolder folder;
  WriteSmallSet(folder, 2);
  const std::string file = NpyFile(ImagesSpec(2), ImageBytes(1));
  WriteFile(folder.Join("fog.npy"), file);

  absl::Status status = LoadDataset(CorruptedOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            absl::StrCat(folder.Join("fog.npy"),
                         ": truncated: shape (2, 32, 32, 3) needs ",
                         file.size() + kImageBytes, " bytes, the file has ",
                         file.size()));
}

TEST(CorruptedCifarReaderTest, RejectsLabelCountMismatch) {
  ScratchFolder folder;
  WriteSmallSet(folder, 4);
  WriteFile(folder.Join("labels.npy"), NpyFile(LabelsSpec(3), Int64Labels(3)));

  absl::Status status = LoadDataset(CorruptedOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), folder.Join("labels.npy") +
                                  ": shape (3,) does not match the 4 images");
}

TEST(CorruptedCifarReaderTest, RejectsLabelOutOfRange) {
  ScratchFolder folder;
  WriteSmallSet(folder, 3);
  WriteFile(folder.Join("labels.npy"),
            NpyFile(LabelsSpec(3, "|u1"), std::string("\x01\x02\x0a", 3)));

  absl::Status status = LoadDataset(CorruptedOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), folder.Join("labels.npy") +
                                  ": label 10 at index 2 is out of range "
                                  "[0, 10)");
}

TEST(CorruptedCifarReaderTest, MissingCorruptionIsNotFound) {
  ScratchFolder folder;
  WriteSmallSet(folder, 1);
  DatasetOptions options = CorruptedOptions(folder.path());
  options.corruption = "snow";

  absl::Status status = LoadDataset(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), folder.Join("snow.npy") + ": file not found");
}

TEST(CorruptedCifarReaderTest, RejectsPathAsCorruption) {
  DatasetOptions options = CorruptedOptions("/nonexistent");
  options.corruption = "../fog";

  absl::Status status = LoadDataset(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "corruption \"../fog\" is invalid, expected a name such as "
            "gaussian_noise (lowercase letters, digits and _)");
}

TEST(CorruptedCifarReaderTest, RejectsSeveritySix) {
  absl::Status status =
      LoadDataset(CorruptedOptions("/nonexistent", 6)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "severity must be 1 to 5, or 0 for all five, got 6");
}

}  // namespace
}  // namespace rat
