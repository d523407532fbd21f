// CIFAR-10 and CIFAR-100 "binary version" files: fixed-size records of label
// bytes followed by 3072 pixel bytes, stored as the red, green and blue
// 32x32 planes (already C x H x W).
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/data/file_io.h"
#include "core/data/readers.h"

namespace rat {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32;  // pixels
constexpr int64_t kPixelBytes = 3 * kSide * kSide;

struct CifarFormat {
  std::string folder_name;  // folder inside the published archive
  std::vector<std::string> train_files;
  std::vector<std::string> test_files;
  std::string class_names_file;
  // Label bytes per record; the label used is the last of them.
  int64_t label_bytes = 1;
  int64_t num_classes = 10;
  // CIFAR-100 only: range of the coarse label, the first byte.
  int64_t num_coarse_classes = 0;
};

const std::vector<std::string>& Cifar100ClassNames() {
  static const auto* names = new std::vector<std::string>{
      "apple",    "aquarium_fish", "baby",       "bear",         "beaver",
      "bed",      "bee",           "beetle",     "bicycle",      "bottle",
      "bowl",     "boy",           "bridge",     "bus",          "butterfly",
      "camel",    "can",           "castle",     "caterpillar",  "cattle",
      "chair",    "chimpanzee",    "clock",      "cloud",        "cockroach",
      "couch",    "crab",          "crocodile",  "cup",          "dinosaur",
      "dolphin",  "elephant",      "flatfish",   "forest",       "fox",
      "girl",     "hamster",       "house",      "kangaroo",     "keyboard",
      "lamp",     "lawn_mower",    "leopard",    "lion",         "lizard",
      "lobster",  "man",           "maple_tree", "motorcycle",   "mountain",
      "mouse",    "mushroom",      "oak_tree",   "orange",       "orchid",
      "otter",    "palm_tree",     "pear",       "pickup_truck", "pine_tree",
      "plain",    "plate",         "poppy",      "porcupine",    "possum",
      "rabbit",   "raccoon",       "ray",        "road",         "rocket",
      "rose",     "sea",           "seal",       "shark",        "shrew",
      "skunk",    "skyscraper",    "snail",      "snake",        "spider",
      "squirrel", "streetcar",     "sunflower",  "sweet_pepper", "table",
      "tank",     "telephone",     "television", "tiger",        "tractor",
      "train",    "trout",         "tulip",      "turtle",       "wardrobe",
      "whale",    "willow_tree",   "wolf",       "woman",        "worm"};
  return *names;
}

// Accepts the extracted folder itself or the folder that contains it.
std::string DataFolder(const std::string& root, const CifarFormat& format) {
  std::error_code error;
  const fs::path nested = fs::path(root) / format.folder_name;
  return fs::is_directory(nested, error) ? nested.string() : root;
}

absl::StatusOr<std::vector<std::string>> ReadClassNames(
    const std::string& folder, const CifarFormat& format,
    const std::vector<std::string>& fallback) {
  std::error_code error;
  const fs::path path = fs::path(folder) / format.class_names_file;
  if (!fs::exists(path, error)) return fallback;
  RAT_ASSIGN_OR_RETURN(std::vector<std::string> names,
                       ReadNonEmptyLines(path.string()));
  if (static_cast<int64_t>(names.size()) != format.num_classes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": lists ", names.size(),
                     " class names, expected ", format.num_classes));
  }
  return names;
}

// Returns the number of records in each file, checking the sizes.
absl::StatusOr<std::vector<int64_t>> CountRecords(
    const std::vector<std::string>& paths, int64_t record_bytes) {
  std::vector<int64_t> counts;
  for (const std::string& path : paths) {
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      return absl::NotFoundError(absl::StrCat(path, ": file not found"));
    }
    const auto size = static_cast<int64_t>(fs::file_size(path, error));
    if (error || size == 0 || size % record_bytes != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": size ", size, " bytes is not a positive multiple of the ",
          record_bytes, "-byte record"));
    }
    counts.push_back(size / record_bytes);
  }
  return counts;
}

// Copies `count` records of `path` into images/labels starting at `first`.
absl::Status ReadRecords(const std::string& path, const CifarFormat& format,
                         int64_t count, int64_t first, at::Tensor& images,
                         at::Tensor& labels) {
  RAT_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  const int64_t record_bytes = format.label_bytes + kPixelBytes;
  if (static_cast<int64_t>(bytes.size()) < count * record_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": truncated while reading: expected ",
                     count * record_bytes, " bytes, got ", bytes.size()));
  }
  uint8_t* pixels = images.data_ptr<uint8_t>() + first * kPixelBytes;
  int64_t* label_out = labels.data_ptr<int64_t>() + first;
  for (int64_t i = 0; i < count; ++i) {
    const auto* record =
        reinterpret_cast<const uint8_t*>(bytes.data()) + i * record_bytes;
    const int64_t label = record[format.label_bytes - 1];
    if (label >= format.num_classes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": label ", label, " at index ", i,
                       " is out of range [0, ", format.num_classes, ")"));
    }
    if (format.num_coarse_classes > 0 &&
        record[0] >= format.num_coarse_classes) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": coarse label ", int{record[0]}, " at index ", i,
          " is out of range [0, ", format.num_coarse_classes, ")"));
    }
    label_out[i] = label;
    std::memcpy(pixels + i * kPixelBytes, record + format.label_bytes,
                kPixelBytes);
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> LoadCifar(const DatasetOptions& options,
                                  const std::string& root,
                                  const CifarFormat& format,
                                  const std::vector<std::string>& names) {
  const std::string folder = DataFolder(root, format);
  std::vector<std::string> paths;
  for (const std::string& file :
       options.split == "train" ? format.train_files : format.test_files) {
    paths.push_back((fs::path(folder) / file).string());
  }
  RAT_ASSIGN_OR_RETURN(std::vector<int64_t> counts,
                       CountRecords(paths, format.label_bytes + kPixelBytes));
  int64_t total = 0;
  for (int64_t count : counts) total += count;
  const int64_t kept = LimitCount(total, options.limit);

  Dataset dataset;
  dataset.name = options.name;
  RAT_ASSIGN_OR_RETURN(dataset.class_names,
                       ReadClassNames(folder, format, names));
  RAT_RETURN_IF_ERROR(CallTorch(folder, [&] {
    dataset.images = at::empty({kept, 3, kSide, kSide}, at::kByte);
    dataset.labels = at::empty({kept}, at::kLong);
  }));
  int64_t first = 0;
  for (size_t i = 0; i < paths.size() && first < kept; ++i) {
    const int64_t count = std::min(counts[i], kept - first);
    RAT_RETURN_IF_ERROR(ReadRecords(paths[i], format, count, first,
                                    dataset.images, dataset.labels));
    first += count;
  }
  return dataset;
}

}  // namespace

const std::vector<std::string>& Cifar10ClassNames() {
  static const auto* names = new std::vector<std::string>{
      "airplane", "automobile", "bird",  "cat",  "deer",
      "dog",      "frog",       "horse", "ship", "truck"};
  return *names;
}

absl::StatusOr<Dataset> LoadCifar10(const DatasetOptions& options,
                                    const std::string& root) {
  CifarFormat format;
  format.folder_name = "cifar-10-batches-bin";
  format.train_files = {"data_batch_1.bin", "data_batch_2.bin",
                        "data_batch_3.bin", "data_batch_4.bin",
                        "data_batch_5.bin"};
  format.test_files = {"test_batch.bin"};
  format.class_names_file = "batches.meta.txt";
  return LoadCifar(options, root, format, Cifar10ClassNames());
}

absl::StatusOr<Dataset> LoadCifar100(const DatasetOptions& options,
                                     const std::string& root) {
  CifarFormat format;
  format.folder_name = "cifar-100-binary";
  format.train_files = {"train.bin"};
  format.test_files = {"test.bin"};
  format.class_names_file = "fine_label_names.txt";
  format.label_bytes = 2;
  format.num_classes = 100;
  format.num_coarse_classes = 20;
  return LoadCifar(options, root, format, Cifar100ClassNames());
}

}  // namespace rat
