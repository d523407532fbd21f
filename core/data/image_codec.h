// PNG/JPEG decoding and encoding, channel conversion and resizing.
#ifndef RAT_CORE_DATA_IMAGE_CODEC_H_
#define RAT_CORE_DATA_IMAGE_CODEC_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

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
  // Largest accepted decoded size (height x width, pixels); larger images are
  // rejected before their pixels are allocated.
  int64_t max_pixels = int64_t{1} << 26;
};

// Decodes a PNG or JPEG byte string into uint8 C x H x W (CPU). Other
// formats stb_image reads (BMP, GIF, TGA, PNM) decode too. An alpha channel
// is dropped, not composited. INVALID_ARGUMENT naming the problem for data
// that is not a decodable image or is larger than options.max_pixels.
// Thread safe.
absl::StatusOr<at::Tensor> DecodeImage(absl::string_view bytes,
                                       const DecodeOptions& options);

// Encodes uint8 C x H x W (C = 1 or 3) as PNG bytes (lossless).
// INVALID_ARGUMENT for another dtype, rank or channel count.
absl::StatusOr<std::string> EncodePng(const at::Tensor& uint8_image);

// Encodes uint8 C x H x W (C = 1 or 3) as baseline JPEG bytes; `quality` in
// [1, 100].
absl::StatusOr<std::string> EncodeJpeg(const at::Tensor& uint8_image,
                                       int quality = 90);

// Converts uint8 3 x H x W RGB to 1 x H x W with the ITU-R BT.601 luma
// weights, Y = 0.299 R + 0.587 G + 0.114 B, rounded to the nearest integer.
absl::StatusOr<at::Tensor> ToGrayscale(const at::Tensor& uint8_rgb);

// Resizes uint8 C x H x W to C x height x width (stb_image_resize's default
// filters: Catmull-Rom when enlarging, Mitchell when shrinking).
absl::StatusOr<at::Tensor> ResizeImage(const at::Tensor& uint8_image,
                                       int64_t height, int64_t width);

// Returns the centered height x width window of C x H x W (any dtype). Its
// top-left corner is ((H - height) / 2, (W - width) / 2), rounded down.
// INVALID_ARGUMENT when the window is larger than the image.
absl::StatusOr<at::Tensor> CenterCrop(const at::Tensor& image, int64_t height,
                                      int64_t width);

}  // namespace rat

#endif  // RAT_CORE_DATA_IMAGE_CODEC_H_
