// ImageFolder layout: root/<split>/<class>/<image>.png|jpg|jpeg, or
// root/<class>/... when root has no split folders. Classes are the folder
// names sorted by byte order; label i is the i-th class.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/data/file_io.h"
#include "core/data/image_codec.h"
#include "core/data/readers.h"

namespace rat {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxImageSize = 4096;  // pixels per side
constexpr int64_t kMaxDecodeThreads = 8;
// Below this many files per thread, starting a thread likely costs more
// than it saves (an estimate, not measured).
constexpr int64_t kMinFilesPerThread = 64;

struct LabelledFile {
  std::string path;
  int64_t label = 0;
};

bool IsImageFile(const fs::directory_entry& entry) {
  std::error_code error;
  if (!entry.is_regular_file(error)) return false;
  const std::string extension =
      absl::AsciiStrToLower(entry.path().extension().string());
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

// Sorted names of the non-hidden subfolders of `folder`.
absl::StatusOr<std::vector<std::string>> SubfolderNames(
    const fs::path& folder) {
  std::error_code error;
  std::vector<std::string> names;
  for (fs::directory_iterator it(folder, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_error;
    if (it->is_directory(type_error)) names.push_back(name);
  }
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(
        folder.string(), ": cannot list the folder: ", error.message()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The folder whose subfolders are the classes.
absl::StatusOr<fs::path> ClassesFolder(const std::string& root,
                                       const std::string& split) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(absl::StrCat(root, ": folder not found"));
  }
  const fs::path split_folder = fs::path(root) / split;
  if (fs::is_directory(split_folder, error)) return split_folder;

  // A root that has other split folders but not this one is a mistake, not
  // a folder of classes named "train" and "test".
  for (const char* known : {"train", "test", "val"}) {
    if (fs::is_directory(fs::path(root) / known, error)) {
      return absl::NotFoundError(
          absl::StrCat(split_folder.string(), ": split folder not found"));
    }
  }
  return fs::path(root);
}

absl::StatusOr<std::vector<LabelledFile>> ListImages(
    const fs::path& folder, const std::vector<std::string>& classes) {
  std::vector<LabelledFile> files;
  for (size_t label = 0; label < classes.size(); ++label) {
    const fs::path class_folder = folder / classes[label];
    std::vector<std::string> paths;
    std::error_code error;
    for (fs::directory_iterator it(class_folder, error), end;
         !error && it != end; it.increment(error)) {
      if (IsImageFile(*it)) paths.push_back(it->path().string());
    }
    if (paths.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          class_folder.string(),
          ": class folder contains no .png, .jpg or .jpeg images"));
    }
    std::sort(paths.begin(), paths.end());
    for (std::string& path : paths) {
      files.push_back({std::move(path), static_cast<int64_t>(label)});
    }
  }
  return files;
}

// Decodes files [begin, end) into their rows of dataset.images; returns the
// first error in file order.
absl::Status DecodeRange(const std::vector<LabelledFile>& files, int64_t begin,
                         int64_t end, const DecodeOptions& decode,
                         Dataset& dataset) {
  for (int64_t i = begin; i < end; ++i) {
    const LabelledFile& file = files[i];
    RAT_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(file.path));
    absl::StatusOr<at::Tensor> image = DecodeImage(bytes, decode);
    if (!image.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path, ": ", image.status().message()));
    }
    RAT_RETURN_IF_ERROR(
        CallTorch(file.path, [&] { dataset.images[i].copy_(*image); }));
    dataset.labels.data_ptr<int64_t>()[i] = file.label;
  }
  return absl::OkStatus();
}

// Decodes the first `count` files on up to kMaxDecodeThreads threads, each
// filling its own contiguous range of rows, so no locking is needed.
absl::Status DecodeAll(const std::vector<LabelledFile>& files, int64_t count,
                       const DecodeOptions& decode, Dataset& dataset) {
  const int64_t hardware = std::max(1u, std::thread::hardware_concurrency());
  const int64_t threads = std::clamp<int64_t>(
      count / kMinFilesPerThread, 1, std::min(hardware, kMaxDecodeThreads));
  std::vector<absl::Status> results(threads);
  std::vector<std::thread> workers;
  for (int64_t t = 0; t < threads; ++t) {
    const int64_t begin = count * t / threads;
    const int64_t end = count * (t + 1) / threads;
    workers.emplace_back([&, t, begin, end] {
      results[t] = DecodeRange(files, begin, end, decode, dataset);
    });
  }
  for (std::thread& worker : workers) worker.join();

  for (const absl::Status& result : results) {
    RAT_RETURN_IF_ERROR(result);
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const DatasetOptions& options) {
  if (options.channels != 1 && options.channels != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "imagefolder channels must be 1 or 3, got ", options.channels));
  }
  if (options.image_size <= 0 || options.image_size > kMaxImageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder image_size must be in [1, ", kMaxImageSize,
                     "] pixels, got ", options.image_size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Dataset> LoadImageFolder(const DatasetOptions& options,
                                        const std::string& root) {
  RAT_RETURN_IF_ERROR(CheckOptions(options));
  RAT_ASSIGN_OR_RETURN(fs::path folder, ClassesFolder(root, options.split));
  RAT_ASSIGN_OR_RETURN(std::vector<std::string> classes,
                       SubfolderNames(folder));
  if (classes.empty()) {
    return absl::NotFoundError(
        absl::StrCat(folder.string(), ": no class folders found"));
  }
  RAT_ASSIGN_OR_RETURN(std::vector<LabelledFile> files,
                       ListImages(folder, classes));
  const int64_t count = LimitCount(files.size(), options.limit);

  Dataset dataset;
  dataset.name = options.name;
  dataset.class_names = classes;
  const int64_t size = options.image_size;
  RAT_RETURN_IF_ERROR(CallTorch(folder.string(), [&] {
    dataset.images =
        at::empty({count, options.channels, size, size}, at::kByte);
    dataset.labels = at::empty({count}, at::kLong);
  }));

  DecodeOptions decode;
  decode.channels = options.channels;
  decode.height = size;
  decode.width = size;
  decode.center_crop = true;
  RAT_RETURN_IF_ERROR(DecodeAll(files, count, decode, dataset));
  return dataset;
}

}  // namespace rat
