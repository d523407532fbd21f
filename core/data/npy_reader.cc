// Corrupted CIFAR-10 (CIFAR-10-C layout): one NumPy .npy file per corruption
// holding uint8 N x 32 x 32 x 3 images, five severities of 10000 images each
// stored one after another, and labels.npy with the N labels.
//
// A .npy file starts with "\x93NUMPY", a version (major, minor), the header
// length (2 bytes little-endian in version 1, 4 bytes in versions 2 and 3),
// then a Python dict literal such as
//   {'descr': '|u1', 'fortran_order': False, 'shape': (50000, 32, 32, 3), }
// followed by the raw array in C order.
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "core/data/readers.h"

namespace rat {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32;  // pixels
constexpr int64_t kImageBytes = kSide * kSide * 3;
constexpr int64_t kImagesPerSeverity = 10000;
constexpr int64_t kNumClasses = 10;
constexpr uint32_t kMaxHeaderBytes = 1 << 20;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;  // bytes from the start of the file
};

absl::Status Invalid(const std::string& path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

// Returns the text after `'key':` in the header dict, or an error.
absl::StatusOr<absl::string_view> ValueOf(const std::string& path,
                                          absl::string_view dict,
                                          absl::string_view key) {
  const std::string quoted = absl::StrCat("'", key, "':");
  const size_t at = dict.find(quoted);
  if (at == absl::string_view::npos) {
    return Invalid(
        path, absl::StrCat(".npy header has no '", key, "' entry: ", dict));
  }
  return absl::StripLeadingAsciiWhitespace(dict.substr(at + quoted.size()));
}

absl::Status ParseDict(const std::string& path, absl::string_view dict,
                       NpyHeader& header) {
  RAT_ASSIGN_OR_RETURN(absl::string_view descr, ValueOf(path, dict, "descr"));
  const size_t descr_end = descr.find('\'', 1);
  if (descr.empty() || descr[0] != '\'' ||
      descr_end == absl::string_view::npos) {
    return Invalid(path,
                   absl::StrCat(".npy header 'descr' is not a string: ", dict));
  }
  header.descr = std::string(descr.substr(1, descr_end - 1));

  RAT_ASSIGN_OR_RETURN(absl::string_view order,
                       ValueOf(path, dict, "fortran_order"));
  header.fortran_order = absl::StartsWith(order, "True");

  RAT_ASSIGN_OR_RETURN(absl::string_view shape, ValueOf(path, dict, "shape"));
  const size_t shape_end = shape.find(')');
  if (shape.empty() || shape[0] != '(' ||
      shape_end == absl::string_view::npos) {
    return Invalid(path,
                   absl::StrCat(".npy header 'shape' is not a tuple: ", dict));
  }
  for (absl::string_view item : absl::StrSplit(shape.substr(1, shape_end - 1),
                                               ',', absl::SkipWhitespace())) {
    int64_t size = 0;
    if (!absl::SimpleAtoi(item, &size) || size < 0) {
      return Invalid(
          path, absl::StrCat(".npy shape entry \"", item, "\" is not a size"));
    }
    header.shape.push_back(size);
  }
  return absl::OkStatus();
}

absl::StatusOr<NpyHeader> ReadNpyHeader(const std::string& path,
                                        std::ifstream& stream) {
  unsigned char prefix[12] = {};
  stream.read(reinterpret_cast<char*>(prefix), 10);
  if (stream.gcount() < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0) {
    return Invalid(path, "bad magic, expected a NumPy .npy file");
  }
  const int major = prefix[6];
  if (major < 1 || major > 3) {
    return Invalid(path,
                   absl::StrCat(".npy version ", major, ".", int{prefix[7]},
                                " is unsupported, expected 1, 2 or 3"));
  }
  uint32_t header_bytes = prefix[8] | (uint32_t{prefix[9]} << 8);
  NpyHeader header;
  header.data_offset = 10;
  if (major >= 2) {
    stream.read(reinterpret_cast<char*>(prefix + 10), 2);
    header_bytes |= (uint32_t{prefix[10]} << 16) | (uint32_t{prefix[11]} << 24);
    header.data_offset = 12;
  }
  if (!stream || header_bytes > kMaxHeaderBytes) {
    return Invalid(path, "truncated or oversized .npy header");
  }

  std::string dict(header_bytes, '\0');
  stream.read(dict.data(), header_bytes);
  if (static_cast<uint32_t>(stream.gcount()) != header_bytes) {
    return Invalid(path, absl::StrCat("truncated: .npy header of ",
                                      header_bytes, " bytes ends early"));
  }
  header.data_offset += header_bytes;
  RAT_RETURN_IF_ERROR(ParseDict(path, dict, header));
  if (header.fortran_order) {
    return Invalid(path, "fortran_order is True, expected C order (False)");
  }
  return header;
}

// Formats a shape as Python prints the tuple: (3,) or (4, 32, 32, 3).
std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "),
                      shape.size() == 1 ? ",)" : ")");
}

// Opens `path` and reads its header; checks that the file contains all its
// data.
absl::StatusOr<NpyHeader> OpenNpy(const std::string& path, int64_t item_bytes,
                                  std::ifstream& stream) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat(path, ": file not found"));
  }
  stream.open(path, std::ios::binary);
  if (!stream) return Invalid(path, "cannot be opened for reading");
  RAT_ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(path, stream));

  int64_t items = 1;
  for (int64_t size : header.shape) items *= size;
  const auto file_bytes = static_cast<int64_t>(fs::file_size(path, error));
  const int64_t expected = header.data_offset + items * item_bytes;
  if (file_bytes < expected) {
    return Invalid(
        path,
        absl::StrCat("truncated: shape ", ShapeText(header.shape), " needs ",
                     expected, " bytes, the file has ", file_bytes));
  }
  return header;
}

absl::Status ReadAt(const std::string& path, std::ifstream& stream,
                    int64_t offset, void* destination, int64_t bytes) {
  stream.seekg(offset);
  stream.read(static_cast<char*>(destination), bytes);
  if (stream.gcount() != bytes) {
    return Invalid(path, absl::StrCat("read of ", bytes, " bytes at offset ",
                                      offset, " failed"));
  }
  return absl::OkStatus();
}

// Reads images [first, first + span) of `path`, or [0, N) for span = 0,
// keeping at most `limit` of them (0 = all); stores N in `total`.
absl::StatusOr<at::Tensor> ReadImages(const std::string& path, int64_t first,
                                      int64_t span, int64_t limit,
                                      int64_t* total) {
  std::ifstream stream;
  RAT_ASSIGN_OR_RETURN(NpyHeader header, OpenNpy(path, 1, stream));
  if (header.descr != "|u1") {
    return Invalid(path, absl::StrCat("dtype '", header.descr,
                                      "' is unsupported, expected '|u1'"));
  }
  const std::vector<int64_t>& shape = header.shape;
  if (shape.size() != 4 || shape[1] != kSide || shape[2] != kSide ||
      shape[3] != 3) {
    return Invalid(path, absl::StrCat("shape ", ShapeText(shape),
                                      " is invalid, expected (N, 32, 32, 3)"));
  }
  *total = shape[0];
  if (span == 0) span = shape[0];
  if (first + span > shape[0]) {
    return Invalid(
        path, absl::StrCat("contains ", shape[0], " images, images [", first,
                           ", ", first + span, ") were requested"));
  }
  const int64_t count = LimitCount(span, limit);

  RAT_ASSIGN_OR_RETURN(at::Tensor hwc, CallTorch(path, [&] {
                         return at::empty({count, kSide, kSide, 3}, at::kByte);
                       }));
  RAT_RETURN_IF_ERROR(ReadAt(path, stream,
                             header.data_offset + first * kImageBytes,
                             hwc.data_ptr<uint8_t>(), count * kImageBytes));
  return CallTorch(path, [&] {
    return hwc.permute({0, 3, 1, 2}).contiguous();
  });
}

absl::StatusOr<at::Tensor> ReadLabels(const std::string& path,
                                      int64_t expected_count, int64_t first,
                                      int64_t count) {
  std::ifstream stream;
  RAT_ASSIGN_OR_RETURN(NpyHeader header, OpenNpy(path, 1, stream));
  const bool is_int64 = header.descr == "<i8";
  if (!is_int64 && header.descr != "|u1") {
    return Invalid(path, absl::StrCat("dtype '", header.descr,
                                      "' is unsupported, expected '<i8' or "
                                      "'|u1'"));
  }
  if (header.shape.size() != 1 || header.shape[0] != expected_count) {
    return Invalid(
        path, absl::StrCat("shape ", ShapeText(header.shape),
                           " does not match the ", expected_count, " images"));
  }
  if (is_int64) {
    // The item size was unknown when OpenNpy checked the file length.
    std::error_code error;
    const auto file_bytes = static_cast<int64_t>(fs::file_size(path, error));
    if (file_bytes < header.data_offset + expected_count * 8) {
      return Invalid(path, absl::StrCat("truncated: ", expected_count,
                                        " int64 labels need ",
                                        header.data_offset + expected_count * 8,
                                        " bytes, the file has ", file_bytes));
    }
  }

  const int64_t item_bytes = is_int64 ? 8 : 1;
  RAT_ASSIGN_OR_RETURN(at::Tensor raw, CallTorch(path, [&] {
                         return at::empty({count},
                                          is_int64 ? at::kLong : at::kByte);
                       }));
  RAT_RETURN_IF_ERROR(ReadAt(path, stream,
                             header.data_offset + first * item_bytes,
                             raw.data_ptr(), count * item_bytes));
  RAT_ASSIGN_OR_RETURN(at::Tensor labels,
                       CallTorch(path, [&] { return raw.to(at::kLong); }));

  const int64_t* values = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    if (values[i] < 0 || values[i] >= kNumClasses) {
      return Invalid(path,
                     absl::StrCat("label ", values[i], " at index ", first + i,
                                  " is out of range [0, ", kNumClasses, ")"));
    }
  }
  return labels;
}

absl::Status CheckCorruptionName(const std::string& name) {
  bool plain = !name.empty() && name != "labels";
  for (char c : name) {
    plain = plain && (std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  }
  if (plain) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "corruption \"", name,
      "\" is invalid, expected a name such as gaussian_noise (lowercase "
      "letters, digits and _)"));
}

}  // namespace

absl::StatusOr<Dataset> LoadCifar10Corrupted(const DatasetOptions& options,
                                             const std::string& root) {
  RAT_RETURN_IF_ERROR(CheckCorruptionName(options.corruption));
  if (options.severity < 0 || options.severity > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "severity must be 1 to 5, or 0 for all five, got ", options.severity));
  }
  std::error_code error;
  const fs::path nested = fs::path(root) / "CIFAR-10-C";
  const fs::path folder =
      fs::is_directory(nested, error) ? nested : fs::path(root);
  const std::string images_path =
      (folder / (options.corruption + ".npy")).string();
  const std::string labels_path = (folder / "labels.npy").string();

  // Severity s is images [(s - 1) * 10000, s * 10000).
  const int64_t first =
      options.severity > 0 ? (options.severity - 1) * kImagesPerSeverity : 0;
  const int64_t span = options.severity > 0 ? kImagesPerSeverity : 0;

  Dataset dataset;
  dataset.name = options.name;
  dataset.class_names = Cifar10ClassNames();
  int64_t total = 0;
  RAT_ASSIGN_OR_RETURN(dataset.images, ReadImages(images_path, first, span,
                                                  options.limit, &total));
  RAT_ASSIGN_OR_RETURN(dataset.labels, ReadLabels(labels_path, total, first,
                                                  dataset.images.size(0)));
  return dataset;
}

}  // namespace rat
