#include "server/validation.h"

#include <cmath>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/data/image_codec.h"

namespace rat::server {
namespace {

// The wire format is little-endian; the conversion below copies bytes as
// they are, so it is only correct on little-endian hosts.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "TensorImage decoding assumes a little-endian host");

std::string ShapeText(const InputShape& shape) {
  return absl::StrCat(shape.channels, "x", shape.height, "x", shape.width);
}

absl::Status CheckDims(const rat::v1::TensorImage& tensor,
                       const InputShape& shape, const std::string& field) {
  const auto& dims = tensor.dims();
  const bool full = dims.size() == 3 && dims[0] == shape.channels &&
                    dims[1] == shape.height && dims[2] == shape.width;
  const bool gray = shape.channels == 1 && dims.size() == 2 &&
                    dims[0] == shape.height && dims[1] == shape.width;
  if (full || gray) return absl::OkStatus();
  std::string expected = absl::StrCat("[", shape.channels, ", ", shape.height,
                                      ", ", shape.width, "]");
  if (shape.channels == 1) {
    absl::StrAppend(&expected, " or [", shape.height, ", ", shape.width, "]");
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ".dims: expected ", expected, ", got [",
                   absl::StrJoin(dims, ", "), "]"));
}

// Rejects NaN, infinities and values outside [0, 1], naming the first one.
absl::Status CheckFloatRange(absl::string_view bytes,
                             const std::string& field) {
  const size_t count = bytes.size() / sizeof(float);
  for (size_t i = 0; i < count; ++i) {
    float value;
    std::memcpy(&value, bytes.data() + i * sizeof(float), sizeof(float));
    if (!(value >= 0.0f && value <= 1.0f)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".data: expected float32 values in [0, 1], got ",
                       value, " at element ", i));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageSource> ValidateTensor(const rat::v1::TensorImage& tensor,
                                           const InputShape& shape,
                                           const std::string& field) {
  ImageSource source;
  size_t element_bytes = 0;
  if (tensor.dtype() == rat::v1::DATA_TYPE_FLOAT32) {
    source.kind = ImageSource::Kind::kFloat32;
    element_bytes = sizeof(float);
  } else if (tensor.dtype() == rat::v1::DATA_TYPE_UINT8) {
    source.kind = ImageSource::Kind::kUint8;
    element_bytes = 1;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".dtype: expected DATA_TYPE_UINT8 or DATA_TYPE_FLOAT32, got ",
        rat::v1::DataType_Name(tensor.dtype())));
  }

  absl::Status dims = CheckDims(tensor, shape, field);
  if (!dims.ok()) return dims;

  const size_t expected_bytes = shape.NumElements() * element_bytes;
  if (tensor.data().size() != expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".data: expected ", expected_bytes, " bytes (", ShapeText(shape),
        " ", element_bytes == 1 ? "uint8" : "float32", "), got ",
        tensor.data().size()));
  }
  source.bytes = tensor.data();
  if (source.kind == ImageSource::Kind::kFloat32) {
    absl::Status range = CheckFloatRange(source.bytes, field);
    if (!range.ok()) return range;
  }
  return source;
}

absl::StatusOr<ImageSource> ValidateEncoded(const std::string& encoded,
                                            const InputShape& shape,
                                            const std::string& field) {
  if (encoded.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected PNG or JPEG bytes, got 0 bytes"));
  }
  DecodeOptions options;
  options.channels = shape.channels;
  options.height = shape.height;
  options.width = shape.width;
  absl::StatusOr<at::Tensor> decoded = DecodeImage(encoded, options);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", decoded.status().message()));
  }
  ImageSource source;
  source.kind = ImageSource::Kind::kDecoded;
  source.decoded = decoded->contiguous();
  return source;
}

}  // namespace

absl::StatusOr<std::vector<ImageSource>> ValidateImages(
    const rat::v1::PredictRequest& request, const InputShape& shape,
    const ValidationLimits& limits) {
  const int count = request.images_size();
  if (count == 0 || count > limits.max_images_per_request) {
    return absl::InvalidArgumentError(
        absl::StrCat("images: expected 1 to ", limits.max_images_per_request,
                     " images, got ", count));
  }

  std::vector<ImageSource> sources;
  sources.reserve(count);
  for (int i = 0; i < count; ++i) {
    const rat::v1::Image& image = request.images(i);
    const std::string field = absl::StrCat("images[", i, "]");
    absl::StatusOr<ImageSource> source;
    if (image.has_tensor()) {
      source = ValidateTensor(image.tensor(), shape, field + ".tensor");
    } else if (image.content_case() == rat::v1::Image::kEncoded) {
      source = ValidateEncoded(image.encoded(), shape, field + ".encoded");
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": expected a tensor or encoded image, got neither"));
    }
    if (!source.ok()) return source.status();
    sources.push_back(*std::move(source));
  }
  return sources;
}

void ConvertImage(const ImageSource& source, const InputShape& shape,
                  float* destination) {
  const int64_t count = shape.NumElements();
  if (source.kind == ImageSource::Kind::kFloat32) {
    std::memcpy(destination, source.bytes.data(), count * sizeof(float));
    return;
  }

  const uint8_t* pixels =
      source.kind == ImageSource::Kind::kUint8
          ? reinterpret_cast<const uint8_t*>(source.bytes.data())
          : source.decoded.data_ptr<uint8_t>();
  for (int64_t i = 0; i < count; ++i) {
    destination[i] = static_cast<float>(pixels[i]) / 255.0f;
  }
}

}  // namespace rat::server
