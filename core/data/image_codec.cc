#include "core/data/image_codec.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"

namespace rat {
namespace {

// Interleaved height x width x channels pixels, the layout stb works in.
struct PixelBuffer {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  std::vector<uint8_t> data;
};

std::string ShapeText(const at::Tensor& tensor) {
  std::string text;
  for (int64_t i = 0; i < tensor.dim(); ++i) {
    absl::StrAppend(&text, i == 0 ? "" : "x", tensor.size(i));
  }
  return text.empty() ? "a scalar" : text;
}

absl::Status CheckUint8Image(const at::Tensor& image, const char* function) {
  if (!image.defined()) {
    return absl::InvalidArgumentError(
        absl::StrCat(function, ": image tensor is undefined"));
  }
  if (image.scalar_type() != at::kByte || image.dim() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(function, ": expected a uint8 C x H x W image, got ",
                     std::string(c10::toString(image.scalar_type())), " ",
                     ShapeText(image)));
  }
  if (image.size(1) == 0 || image.size(2) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        function, ": image has no pixels (", ShapeText(image), ")"));
  }
  return absl::OkStatus();
}

PixelBuffer ToPixels(const at::Tensor& uint8_image) {
  at::Tensor hwc = uint8_image.cpu().permute({1, 2, 0}).contiguous();
  PixelBuffer pixels;
  pixels.height = hwc.size(0);
  pixels.width = hwc.size(1);
  pixels.channels = hwc.size(2);
  const uint8_t* begin = hwc.data_ptr<uint8_t>();
  pixels.data.assign(begin, begin + hwc.numel());
  return pixels;
}

at::Tensor ToTensor(PixelBuffer& pixels) {
  at::Tensor hwc =
      at::from_blob(pixels.data.data(),
                    {pixels.height, pixels.width, pixels.channels}, at::kByte);
  // clone() always copies, so the result never borrows the buffer (for one
  // channel, contiguous() would return the borrowing view itself).
  return hwc.permute({2, 0, 1}).clone(at::MemoryFormat::Contiguous);
}

// Integer form of Y = 0.299 R + 0.587 G + 0.114 B with round half up.
PixelBuffer RgbToLuma(const PixelBuffer& rgb) {
  PixelBuffer gray{rgb.height, rgb.width, 1, {}};
  const int64_t count = rgb.height * rgb.width;
  gray.data.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* p = &rgb.data[i * 3];
    gray.data[i] = static_cast<uint8_t>(
        (299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
  }
  return gray;
}

absl::StatusOr<PixelBuffer> Resize(const PixelBuffer& input, int64_t height,
                                   int64_t width) {
  if (input.height == height && input.width == width) return input;
  PixelBuffer output{height, width, input.channels, {}};
  output.data.resize(height * width * input.channels);
  const int ok =
      stbir_resize_uint8(input.data.data(), static_cast<int>(input.width),
                         static_cast<int>(input.height), 0, output.data.data(),
                         static_cast<int>(width), static_cast<int>(height), 0,
                         static_cast<int>(input.channels));
  if (ok == 0) {
    return absl::InternalError(absl::StrCat("resizing ", input.height, "x",
                                            input.width, " to ", height, "x",
                                            width, " failed"));
  }
  return output;
}

PixelBuffer Crop(const PixelBuffer& input, int64_t top, int64_t left,
                 int64_t height, int64_t width) {
  PixelBuffer output{height, width, input.channels, {}};
  output.data.resize(height * width * input.channels);
  const int64_t row_bytes = width * input.channels;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* source =
        &input.data[((top + y) * input.width + left) * input.channels];
    std::copy(source, source + row_bytes, &output.data[y * row_bytes]);
  }
  return output;
}

// Equivalent to scaling so that both sides cover the target (the shorter
// side relative to the target matches it) and taking the centered window,
// but crops in source pixels first. So an extreme aspect ratio never needs
// a huge intermediate image, and less is resized.
absl::StatusOr<PixelBuffer> ResizeAndCenterCrop(const PixelBuffer& input,
                                                int64_t height, int64_t width) {
  const double scale = std::max(static_cast<double>(height) / input.height,
                                static_cast<double>(width) / input.width);
  const int64_t crop_height =
      std::clamp<int64_t>(std::lround(height / scale), 1, input.height);
  const int64_t crop_width =
      std::clamp<int64_t>(std::lround(width / scale), 1, input.width);
  const PixelBuffer window =
      Crop(input, (input.height - crop_height) / 2,
           (input.width - crop_width) / 2, crop_height, crop_width);
  return Resize(window, height, width);
}

absl::Status CheckDecodeOptions(const DecodeOptions& options) {
  if (options.channels != 1 && options.channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("decode channels must be 1 or 3, got ", options.channels));
  }
  const bool keep_size = options.height == 0 && options.width == 0;
  if (!keep_size && (options.height <= 0 || options.width <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("decode size must be 0x0 (keep) or positive, got ",
                     options.height, "x", options.width));
  }
  return absl::OkStatus();
}

absl::StatusOr<PixelBuffer> DecodePixels(absl::string_view bytes,
                                         const DecodeOptions& options) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError("image data is empty");
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("image data of ", bytes.size(), " bytes exceeds the ",
                     INT_MAX, "-byte limit"));
  }
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = static_cast<int>(bytes.size());

  int width = 0, height = 0, file_channels = 0;
  if (stbi_info_from_memory(data, length, &width, &height, &file_channels) ==
      0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image data (", bytes.size(),
        " bytes) is not a decodable PNG or JPEG: ", stbi_failure_reason()));
  }
  if (int64_t{width} * height > options.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image of ", height, "x", width, " pixels exceeds the limit of ",
        options.max_pixels, " pixels"));
  }

  // Gray sources decode straight to one channel; color sources go through
  // RGB so the luma weights below apply instead of stb's approximation.
  // Alpha is dropped without compositing.
  const int decode_channels =
      (options.channels == 1 && file_channels <= 2) ? 1 : 3;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(data, length, &width, &height, &file_channels,
                            decode_channels),
      stbi_image_free);
  if (decoded == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("image data (", bytes.size(), " bytes, ", height, "x",
                     width, ") failed to decode: ", stbi_failure_reason()));
  }
  PixelBuffer pixels{height, width, decode_channels, {}};
  pixels.data.assign(decoded.get(),
                     decoded.get() + int64_t{height} * width * decode_channels);
  if (options.channels == 1 && decode_channels == 3) pixels = RgbToLuma(pixels);
  return pixels;
}

absl::StatusOr<std::string> Encode(const at::Tensor& uint8_image,
                                   const char* function, int quality) {
  RAT_RETURN_IF_ERROR(CheckUint8Image(uint8_image, function));
  const int64_t channels = uint8_image.size(0);
  if (channels != 1 && channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(function, ": expected 1 or 3 channels, got ", channels));
  }
  RAT_ASSIGN_OR_RETURN(PixelBuffer pixels, CallTorch(function, [&] {
                         return ToPixels(uint8_image);
                       }));

  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<char*>(data), size);
  };
  const int width = static_cast<int>(pixels.width);
  const int height = static_cast<int>(pixels.height);
  const int comp = static_cast<int>(channels);
  const int ok =
      quality == 0
          ? stbi_write_png_to_func(append, &encoded, width, height, comp,
                                   pixels.data.data(), width * comp)
          : stbi_write_jpg_to_func(append, &encoded, width, height, comp,
                                   pixels.data.data(), quality);
  if (ok == 0) {
    return absl::InternalError(absl::StrCat(function, ": encoding ",
                                            ShapeText(uint8_image), " failed"));
  }
  return encoded;
}

}  // namespace

absl::StatusOr<at::Tensor> DecodeImage(absl::string_view bytes,
                                       const DecodeOptions& options) {
  RAT_RETURN_IF_ERROR(CheckDecodeOptions(options));
  RAT_ASSIGN_OR_RETURN(PixelBuffer pixels, DecodePixels(bytes, options));

  if (options.height > 0) {
    if (options.center_crop) {
      RAT_ASSIGN_OR_RETURN(
          pixels, ResizeAndCenterCrop(pixels, options.height, options.width));
    } else {
      RAT_ASSIGN_OR_RETURN(pixels,
                           Resize(pixels, options.height, options.width));
    }
  }
  return CallTorch("DecodeImage", [&] { return ToTensor(pixels); });
}

absl::StatusOr<std::string> EncodePng(const at::Tensor& uint8_image) {
  return Encode(uint8_image, "EncodePng", /*quality=*/0);
}

absl::StatusOr<std::string> EncodeJpeg(const at::Tensor& uint8_image,
                                       int quality) {
  if (quality < 1 || quality > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("EncodeJpeg: quality must be in [1, 100], got ", quality));
  }
  return Encode(uint8_image, "EncodeJpeg", quality);
}

absl::StatusOr<at::Tensor> ToGrayscale(const at::Tensor& uint8_rgb) {
  RAT_RETURN_IF_ERROR(CheckUint8Image(uint8_rgb, "ToGrayscale"));
  if (uint8_rgb.size(0) != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ToGrayscale: expected 3 channels, got ", uint8_rgb.size(0)));
  }
  return CallTorch("ToGrayscale", [&] {
    PixelBuffer gray = RgbToLuma(ToPixels(uint8_rgb));
    return ToTensor(gray);
  });
}

absl::StatusOr<at::Tensor> ResizeImage(const at::Tensor& uint8_image,
                                       int64_t height, int64_t width) {
  RAT_RETURN_IF_ERROR(CheckUint8Image(uint8_image, "ResizeImage"));
  if (height <= 0 || width <= 0 || height > INT_MAX || width > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ResizeImage: target size must be positive, got ", height, "x", width));
  }
  RAT_ASSIGN_OR_RETURN(PixelBuffer pixels, CallTorch("ResizeImage", [&] {
                         return ToPixels(uint8_image);
                       }));
  RAT_ASSIGN_OR_RETURN(PixelBuffer resized, Resize(pixels, height, width));
  return CallTorch("ResizeImage", [&] { return ToTensor(resized); });
}

absl::StatusOr<at::Tensor> CenterCrop(const at::Tensor& image, int64_t height,
                                      int64_t width) {
  if (!image.defined() || image.dim() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("CenterCrop: expected a C x H x W image, got ",
                     image.defined() ? ShapeText(image) : "undefined"));
  }
  if (height <= 0 || width <= 0 || height > image.size(1) ||
      width > image.size(2)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CenterCrop: window ", height, "x", width, " must be positive and fit ",
        "the ", image.size(1), "x", image.size(2), " image"));
  }
  const int64_t top = (image.size(1) - height) / 2;
  const int64_t left = (image.size(2) - width) / 2;
  return CallTorch("CenterCrop", [&] {
    return image.narrow(1, top, height).narrow(2, left, width).contiguous();
  });
}

}  // namespace rat
