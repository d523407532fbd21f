#include "client/image_input.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rat::client {
namespace {

constexpr absl::string_view kNpyMagic("\x93NUMPY", 6);
constexpr absl::string_view kPngMagic("\x89PNG", 4);
constexpr absl::string_view kJpegMagic("\xFF\xD8\xFF", 3);

uint32_t LittleEndian(absl::string_view bytes, size_t count) {
  uint32_t value = 0;
  for (size_t i = 0; i < count; ++i) {
    value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return value;
}

// Extracts the value text of `key` from the header dictionary, e.g.
// "'<f4'" for 'descr' or "(1, 28, 28)" for 'shape'.
std::string HeaderField(absl::string_view header, absl::string_view key) {
  const std::string quoted = absl::StrCat("'", key, "':");
  const size_t at = header.find(quoted);
  if (at == absl::string_view::npos) return "";
  absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(header.substr(at + quoted.size()));
  if (rest.empty()) return "";
  const size_t end =
      rest.front() == '(' ? rest.find(')') + 1 : rest.find_first_of(",}");
  return std::string(absl::StripAsciiWhitespace(rest.substr(0, end)));
}

absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text,
                                                absl::string_view name) {
  std::vector<int64_t> dims;
  absl::string_view inner = text;
  if (!absl::ConsumePrefix(&inner, "(") || !absl::ConsumeSuffix(&inner, ")")) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": .npy header has no valid shape, got ", text));
  }
  for (absl::string_view part :
       absl::StrSplit(inner, ',', absl::SkipWhitespace())) {
    int64_t dim = 0;
    if (!absl::SimpleAtoi(part, &dim) || dim <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": .npy shape ", text, " has an invalid dimension"));
    }
    dims.push_back(dim);
  }
  if (dims.size() != 2 && dims.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": expected an image of shape (C, H, W) or (H, W), got ", text));
  }
  return dims;
}

}  // namespace

absl::StatusOr<rat::v1::TensorImage> ParseNpy(absl::string_view bytes,
                                              absl::string_view name) {
  if (!absl::StartsWith(bytes, kNpyMagic) || bytes.size() < 10) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is not a .npy file"));
  }
  const int major = static_cast<uint8_t>(bytes[6]);
  const size_t length_bytes = major == 1 ? 2 : 4;
  if (major < 1 || major > 3 || bytes.size() < 8 + length_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": unsupported .npy format version ", major,
                     "; expected 1, 2 or 3"));
  }
  const size_t header_length = LittleEndian(bytes.substr(8), length_bytes);
  const size_t data_offset = 8 + length_bytes + header_length;
  if (bytes.size() < data_offset) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": truncated .npy header"));
  }
  const absl::string_view header =
      bytes.substr(8 + length_bytes, header_length);

  rat::v1::TensorImage tensor;
  const std::string descr = HeaderField(header, "descr");
  int64_t element_bytes = 0;
  if (descr == "'|u1'" || descr == "'u1'") {
    tensor.set_dtype(rat::v1::DATA_TYPE_UINT8);
    element_bytes = 1;
  } else if (descr == "'<f4'") {
    tensor.set_dtype(rat::v1::DATA_TYPE_FLOAT32);
    element_bytes = 4;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": unsupported .npy dtype ", descr,
        "; expected uint8 ('|u1') or little-endian float32 ('<f4')"));
  }
  if (HeaderField(header, "fortran_order") != "False") {
    return absl::InvalidArgumentError(absl::StrCat(
        name,
        ": .npy data in Fortran order is not supported; save a C-order array"));
  }

  absl::StatusOr<std::vector<int64_t>> dims =
      ParseShape(HeaderField(header, "shape"), name);
  if (!dims.ok()) return dims.status();
  int64_t count = 1;
  for (int64_t dim : *dims) {
    tensor.add_dims(dim);
    count *= dim;
  }
  const absl::string_view data = bytes.substr(data_offset);
  if (static_cast<int64_t>(data.size()) != count * element_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": .npy data has ", data.size(), " bytes, expected ",
                     count * element_bytes, " for its shape and dtype"));
  }
  tensor.set_data(std::string(data));
  return tensor;
}

absl::StatusOr<rat::v1::Image> ReadImageFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open image file ", path));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  std::string bytes = std::move(contents).str();

  rat::v1::Image image;
  if (absl::StartsWith(bytes, kPngMagic) ||
      absl::StartsWith(bytes, kJpegMagic)) {
    image.set_encoded(std::move(bytes));
    return image;
  }
  if (absl::StartsWith(bytes, kNpyMagic)) {
    absl::StatusOr<rat::v1::TensorImage> tensor = ParseNpy(bytes, path);
    if (!tensor.ok()) return tensor.status();
    *image.mutable_tensor() = *std::move(tensor);
    return image;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, " is neither PNG, JPEG nor .npy (checked by its first bytes)"));
}

}  // namespace rat::client
