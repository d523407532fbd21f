// PNG/JPEG decoding and encoding, channel conversion and resizing.
#ifndef RAT_CORE_DATA_IMAGE_CODEC_H_
#define RAT_CORE_DATA_IMAGE_CODEC_H_

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rat {

struct DecodeOptions {
  // Output channels: 1 (grayscale, ITU-R 601 luma) or 3 (RGB).
  int64_t channels = 3;
  // Output size in pixels; 0 keeps the decoded size.
  int64_t height = 0;
  int64_t width = 0;
  // true: resize the shorter side to the target, then center crop (the
  // ImageFolder transform); false: resize straight to height x width.
  bool center_crop = false;
};

// Decodes a PNG or JPEG byte string into uint8 C x H x W (CPU).
// INVALID_ARGUMENT naming the problem for data that is not a decodable image.
absl::StatusOr<at::Tensor> DecodeImage(absl::string_view bytes,
                                       const DecodeOptions& options);

// Encodes uint8 C x H x W (C = 1 or 3) as PNG bytes.
absl::StatusOr<std::string> EncodePng(const at::Tensor& uint8_image);

}  // namespace rat

#endif  // RAT_CORE_DATA_IMAGE_CODEC_H_
