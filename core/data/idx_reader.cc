// IDX files as published for MNIST and Fashion-MNIST: a big-endian header
// (magic 0x00000803 for images, 0x00000801 for labels, then the dimensions)
// followed by one unsigned byte per pixel or label.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/data/file_io.h"
#include "core/data/readers.h"

namespace rat {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int64_t kNumClasses = 10;
// Guards against a corrupt header asking for an absurd allocation.
constexpr uint32_t kMaxSide = 1 << 14;    // pixels
constexpr uint32_t kMaxCount = 1u << 28;  // images

const std::vector<std::string>& FashionMnistClassNames() {
  static const auto* names = new std::vector<std::string>{
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return *names;
}

const std::vector<std::string>& DigitClassNames() {
  static const auto* names = new std::vector<std::string>{
      "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return *names;
}

absl::Status CheckMagic(const GzipReader& file, uint32_t magic,
                        uint32_t expected) {
  if (magic == expected) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      file.path(), ": bad magic number 0x", absl::Hex(magic, absl::kZeroPad8),
      ", expected 0x", absl::Hex(expected, absl::kZeroPad8)));
}

// Reads the label file header; returns the label count.
absl::StatusOr<uint32_t> ReadLabelsHeader(GzipReader& file) {
  unsigned char header[8];
  RAT_RETURN_IF_ERROR(file.ReadExact(header, sizeof(header), "header"));
  RAT_RETURN_IF_ERROR(CheckMagic(file, ReadBigEndian32(header), kLabelsMagic));
  return ReadBigEndian32(header + 4);
}

struct ImagesHeader {
  uint32_t count = 0;
  uint32_t rows = 0;
  uint32_t columns = 0;
};

absl::StatusOr<ImagesHeader> ReadImagesHeader(GzipReader& file) {
  unsigned char bytes[16];
  RAT_RETURN_IF_ERROR(file.ReadExact(bytes, sizeof(bytes), "header"));
  RAT_RETURN_IF_ERROR(CheckMagic(file, ReadBigEndian32(bytes), kImagesMagic));
  ImagesHeader header{ReadBigEndian32(bytes + 4), ReadBigEndian32(bytes + 8),
                      ReadBigEndian32(bytes + 12)};
  if (header.rows == 0 || header.columns == 0 || header.rows > kMaxSide ||
      header.columns > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.path(), ": image size ", header.rows, "x", header.columns,
        " is invalid, expected 1 to ", kMaxSide, " pixels per side"));
  }
  if (header.count > kMaxCount) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.path(), ": image count ", header.count,
                     " exceeds the limit of ", kMaxCount));
  }
  return header;
}

absl::StatusOr<at::Tensor> ReadLabels(GzipReader& file, int64_t count) {
  RAT_ASSIGN_OR_RETURN(at::Tensor bytes, CallTorch(file.path(), [&] {
                         return at::empty({count}, at::kByte);
                       }));
  RAT_RETURN_IF_ERROR(
      file.ReadExact(bytes.data_ptr<uint8_t>(), count, "labels"));
  const uint8_t* labels = bytes.data_ptr<uint8_t>();
  for (int64_t i = 0; i < count; ++i) {
    if (labels[i] >= kNumClasses) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path(), ": label ", int{labels[i]}, " at index ", i,
                       " is out of range [0, ", kNumClasses, ")"));
    }
  }
  return CallTorch(file.path(), [&] { return bytes.to(at::kLong); });
}

}  // namespace

absl::StatusOr<Dataset> LoadIdxDataset(const DatasetOptions& options,
                                       const std::string& root) {
  const std::string prefix = options.split == "train" ? "train" : "t10k";
  const std::string images_name = prefix + "-images-idx3-ubyte";
  const std::string labels_name = prefix + "-labels-idx1-ubyte";
  RAT_ASSIGN_OR_RETURN(std::string images_path,
                       FindFile(root, {images_name + ".gz", images_name}));
  RAT_ASSIGN_OR_RETURN(std::string labels_path,
                       FindFile(root, {labels_name + ".gz", labels_name}));

  // Headers first, so a count mismatch is reported before 47 MB of pixels
  // are decompressed.
  RAT_ASSIGN_OR_RETURN(auto labels_file, GzipReader::Open(labels_path));
  RAT_ASSIGN_OR_RETURN(auto images_file, GzipReader::Open(images_path));
  RAT_ASSIGN_OR_RETURN(uint32_t label_count, ReadLabelsHeader(*labels_file));
  RAT_ASSIGN_OR_RETURN(ImagesHeader header, ReadImagesHeader(*images_file));
  if (label_count != header.count) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels_path, ": contains ", label_count, " labels but ",
                     images_path, " contains ", header.count, " images"));
  }

  const int64_t count = LimitCount(header.count, options.limit);
  Dataset dataset;
  dataset.name = options.name;
  dataset.class_names = options.name == "fashion-mnist"
                            ? FashionMnistClassNames()
                            : DigitClassNames();
  RAT_ASSIGN_OR_RETURN(dataset.labels, ReadLabels(*labels_file, count));
  RAT_ASSIGN_OR_RETURN(dataset.images, CallTorch(images_path, [&] {
                         return at::empty({count, 1, int64_t{header.rows},
                                           int64_t{header.columns}},
                                          at::kByte);
                       }));
  RAT_RETURN_IF_ERROR(images_file->ReadExact(dataset.images.data_ptr<uint8_t>(),
                                             dataset.images.numel(), "pixels"));
  return dataset;
}

}  // namespace rat
