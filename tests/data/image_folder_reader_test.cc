#include <stb_image_write.h>

#include <cstdint>
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

using ::rat::testing::ScratchFolder;
using ::rat::testing::WriteFile;
using ::testing::StartsWith;

// Writes a height x width RGB image filled with one color, as PNG or JPEG
// depending on the extension of `path`.
void WriteSolidImage(const std::string& path, int height, int width,
                     std::vector<uint8_t> rgb) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::vector<uint8_t> pixels;
  for (int i = 0; i < height * width; ++i) {
    pixels.insert(pixels.end(), rgb.begin(), rgb.end());
  }
  const bool png =
      path.size() >= 4 && (path.substr(path.size() - 4) == ".png" ||
                           path.substr(path.size() - 4) == ".PNG");
  const int ok =
      png ? stbi_write_png(path.c_str(), width, height, 3, pixels.data(),
                           width * 3)
          : stbi_write_jpg(path.c_str(), width, height, 3, pixels.data(), 95);
  ASSERT_NE(ok, 0) << path;
}

DatasetOptions FolderOptions(const std::string& root, int64_t image_size = 8,
                             int64_t channels = 3) {
  DatasetOptions options;
  options.name = "imagefolder";
  options.root = root;
  options.split = "train";
  options.image_size = image_size;
  options.channels = channels;
  return options;
}

// root/train/cat: two PNGs; root/train/dog: one JPEG and one PNG.
void WriteTrainSplit(const ScratchFolder& folder) {
  WriteSolidImage(folder.Join("train/cat/b.png"), 16, 16, {10, 20, 30});
  WriteSolidImage(folder.Join("train/cat/a.PNG"), 12, 20, {40, 50, 60});
  WriteSolidImage(folder.Join("train/dog/x.jpeg"), 16, 16, {128, 128, 128});
  WriteSolidImage(folder.Join("train/dog/y.png"), 9, 9, {0, 255, 0});
  WriteFile(folder.Join("train/dog/notes.txt"), "not an image");
}

TEST(ImageFolderReaderTest, LoadsPngAndJpegWithSortedClasses) {
  ScratchFolder folder;
  WriteTrainSplit(folder);

  absl::StatusOr<Dataset> dataset = LoadDataset(FolderOptions(folder.path()));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(dataset->images.sizes(), (std::vector<int64_t>{4, 3, 8, 8}));
  const std::vector<int64_t> labels = {0, 0, 1, 1};
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(dataset->labels[i].item<int64_t>(), labels[i]);
  }
  // Files are sorted by path, so a.PNG (40, 50, 60) comes first.
  EXPECT_TRUE(dataset->images[0][0].eq(40).all().item<bool>());
  EXPECT_TRUE(dataset->images[0][2].eq(60).all().item<bool>());
  EXPECT_TRUE(dataset->images[1][1].eq(20).all().item<bool>());
  const int64_t jpeg_error =
      (dataset->images[2].to(at::kInt) - 128).abs().max().item<int>();
  EXPECT_LE(jpeg_error, 2);
  EXPECT_TRUE(dataset->images[3][1].eq(255).all().item<bool>());
}

TEST(ImageFolderReaderTest, AcceptsClassFoldersWithoutSplit) {
  ScratchFolder folder;
  WriteSolidImage(folder.Join("ant/1.png"), 8, 8, {1, 2, 3});
  WriteSolidImage(folder.Join("bee/1.png"), 8, 8, {4, 5, 6});

  absl::StatusOr<Dataset> dataset = LoadDataset(FolderOptions(folder.path()));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->class_names, (std::vector<std::string>{"ant", "bee"}));
  EXPECT_EQ(dataset->labels[1].item<int64_t>(), 1);
}

TEST(ImageFolderReaderTest, ConvertsToGrayscale) {
  ScratchFolder folder;
  WriteSolidImage(folder.Join("train/red/1.png"), 8, 8, {255, 0, 0});

  absl::StatusOr<Dataset> dataset =
      LoadDataset(FolderOptions(folder.path(), 4, 1));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->images.sizes(), (std::vector<int64_t>{1, 1, 4, 4}));
  // 0.299 * 255 = 76.2
  EXPECT_TRUE(dataset->images.eq(76).all().item<bool>());
}

TEST(ImageFolderReaderTest, LimitKeepsFirstFiles) {
  ScratchFolder folder;
  WriteTrainSplit(folder);
  DatasetOptions options = FolderOptions(folder.path());
  options.limit = 3;

  absl::StatusOr<Dataset> dataset = LoadDataset(options);

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->size(), 3);
  EXPECT_EQ(dataset->labels[2].item<int64_t>(), 1);
}

TEST(ImageFolderReaderTest, RejectsEmptyClassFolder) {
  ScratchFolder folder;
  WriteSolidImage(folder.Join("train/cat/1.png"), 8, 8, {1, 2, 3});
  WriteFile(folder.Join("train/dog/readme.txt"), "no images here");

  absl::Status status = LoadDataset(FolderOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            folder.Join("train/dog") +
                ": class folder contains no .png, .jpg or .jpeg images");
}

TEST(ImageFolderReaderTest, RejectsUndecodableImage) {
  ScratchFolder folder;
  WriteSolidImage(folder.Join("train/cat/1.png"), 8, 8, {1, 2, 3});
  WriteFile(folder.Join("train/cat/2.jpg"), "this is not a JPEG");

  absl::Status status = LoadDataset(FolderOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith(folder.Join("train/cat/2.jpg") +
                         ": image data (18 bytes) is not a decodable PNG or "
                         "JPEG"));
}

TEST(ImageFolderReaderTest, MissingSplitIsNotFound) {
  ScratchFolder folder;
  WriteSolidImage(folder.Join("train/cat/1.png"), 8, 8, {1, 2, 3});
  DatasetOptions options = FolderOptions(folder.path());
  options.split = "test";

  absl::Status status = LoadDataset(options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), folder.Join("test") + ": split folder not found");
}

TEST(ImageFolderReaderTest, MissingRootIsNotFound) {
  ScratchFolder folder;

  absl::Status status =
      LoadDataset(FolderOptions(folder.Join("absent"))).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), folder.Join("absent") + ": folder not found");
}

TEST(ImageFolderReaderTest, NoClassFoldersIsNotFound) {
  ScratchFolder folder;
  WriteFile(folder.Join("train/loose.png"), "x");

  absl::Status status = LoadDataset(FolderOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(),
            folder.Join("train") + ": no class folders found");
}

TEST(ImageFolderReaderTest, ManyFilesKeepFileOrder) {
  // Enough files for several decode threads; image k has value k.
  ScratchFolder folder;
  const int count = 300;
  for (int k = 0; k < count; ++k) {
    const std::string name = (k < 150 ? "train/a/" : "train/b/") +
                             std::string(k < 10    ? "00"
                                         : k < 100 ? "0"
                                                   : "") +
                             std::to_string(k) + ".png";
    const auto value = static_cast<uint8_t>(k % 256);
    WriteSolidImage(folder.Join(name), 4, 4, {value, value, value});
  }

  absl::StatusOr<Dataset> dataset =
      LoadDataset(FolderOptions(folder.path(), 4, 1));

  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->size(), count);
  for (int k = 0; k < count; ++k) {
    EXPECT_EQ(dataset->images[k][0][0][0].item<uint8_t>(), k % 256)
        << "image " << k;
    EXPECT_EQ(dataset->labels[k].item<int64_t>(), k < 150 ? 0 : 1)
        << "image " << k;
  }
}

TEST(ImageFolderReaderTest, ReportsFirstBadFileInOrder) {
  ScratchFolder folder;
  for (int k = 0; k < 200; ++k) {
    WriteSolidImage(folder.Join("train/a/" + std::to_string(1000 + k) + ".png"),
                    4, 4, {1, 2, 3});
  }
  WriteFile(folder.Join("train/a/1050.png"), "broken");
  WriteFile(folder.Join("train/a/1190.png"), "broken too");

  absl::Status status = LoadDataset(FolderOptions(folder.path())).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith(folder.Join("train/a/1050.png") + ": "));
}

TEST(ImageFolderReaderTest, RejectsBadChannels) {
  absl::Status status =
      LoadDataset(FolderOptions("/nonexistent", 8, 4)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "imagefolder channels must be 1 or 3, got 4");
}

TEST(ImageFolderReaderTest, RejectsZeroImageSize) {
  absl::Status status = LoadDataset(FolderOptions("/nonexistent", 0)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "imagefolder image_size must be in [1, 4096] pixels, got 0");
}

}  // namespace
}  // namespace rat
