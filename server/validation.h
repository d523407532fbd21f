// Checks the images of a PredictRequest against a model's input shape and
// converts them into the float32 batch the model takes.
#ifndef RAT_SERVER_VALIDATION_H_
#define RAT_SERVER_VALIDATION_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rat/v1/inference.pb.h"

namespace rat::server {

// C x H x W of one model input image (pixels).
struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;

  int64_t NumElements() const { return channels * height * width; }
};

// One validated image, not yet converted. `bytes` points into the request
// message, so the request must outlive the ImageSource.
struct ImageSource {
  enum class Kind { kFloat32, kUint8, kDecoded };
  Kind kind = Kind::kFloat32;
  // kFloat32 and kUint8: C*H*W little-endian elements.
  absl::string_view bytes;
  // kDecoded: uint8 C x H x W on the CPU, already at the model's shape.
  at::Tensor decoded;
};

struct ValidationLimits {
  int max_images_per_request = 256;
};

// Validates every image of `request` for a model with input `shape`:
// a non-empty batch within the limit, dims [C, H, W] (or [H, W] when C = 1),
// byte length = number of elements x element size, float32 values finite
// and in [0, 1], and decodable PNG/JPEG (converted to C channels and resized
// to H x W). Returns INVALID_ARGUMENT naming the field, e.g.
// `images[3].tensor.data`, the expected and the received value.
absl::StatusOr<std::vector<ImageSource>> ValidateImages(
    const rat::v1::PredictRequest& request, const InputShape& shape,
    const ValidationLimits& limits);

// Writes image `source` as float32 in [0, 1] into `destination`, which has
// room for shape.NumElements() values. This is the only conversion of the
// request bytes (uint8 values are divided by 255).
void ConvertImage(const ImageSource& source, const InputShape& shape,
                  float* destination);

}  // namespace rat::server

#endif  // RAT_SERVER_VALIDATION_H_
