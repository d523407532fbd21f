#include "core/data/image_codec.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rat {
namespace {

using ::testing::StartsWith;

// uint8 C x H x W with a distinct value at every position.
at::Tensor PatternImage(int64_t channels, int64_t height, int64_t width) {
  return at::arange(channels * height * width, at::kLong)
      .mul(37)
      .remainder(256)
      .to(at::kByte)
      .reshape({channels, height, width});
}

// 3 x 1 x N image whose pixels are the given RGB triples.
at::Tensor RgbRow(const std::vector<std::vector<int>>& pixels) {
  at::Tensor image =
      at::empty({3, 1, static_cast<int64_t>(pixels.size())}, at::kByte);
  for (size_t x = 0; x < pixels.size(); ++x) {
    for (int c = 0; c < 3; ++c) {
      image[c][0][x] = pixels[x][c];
    }
  }
  return image;
}

TEST(ImageCodecTest, PngRoundTripIsExactForRgb) {
  const at::Tensor image = PatternImage(3, 5, 7);

  absl::StatusOr<std::string> png = EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status();
  absl::StatusOr<at::Tensor> decoded = DecodeImage(*png, DecodeOptions{});

  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->equal(image));
}

TEST(ImageCodecTest, PngRoundTripIsExactForGray) {
  const at::Tensor image = PatternImage(1, 6, 3);
  DecodeOptions options;
  options.channels = 1;

  absl::StatusOr<std::string> png = EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status();
  absl::StatusOr<at::Tensor> decoded = DecodeImage(*png, options);

  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->equal(image));
}

TEST(ImageCodecTest, DecodeToGrayUsesBt601Luma) {
  const at::Tensor image =
      RgbRow({{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {100, 150, 200}});
  DecodeOptions options;
  options.channels = 1;

  absl::StatusOr<std::string> png = EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status();
  absl::StatusOr<at::Tensor> gray = DecodeImage(*png, options);

  ASSERT_TRUE(gray.ok()) << gray.status();
  ASSERT_EQ(gray->sizes(), (std::vector<int64_t>{1, 1, 4}));
  // 0.299 * 255 = 76.2, 0.587 * 255 = 149.7, 0.114 * 255 = 29.1,
  // 0.299 * 100 + 0.587 * 150 + 0.114 * 200 = 140.75.
  EXPECT_EQ((*gray)[0][0][0].item<uint8_t>(), 76);
  EXPECT_EQ((*gray)[0][0][1].item<uint8_t>(), 150);
  EXPECT_EQ((*gray)[0][0][2].item<uint8_t>(), 29);
  EXPECT_EQ((*gray)[0][0][3].item<uint8_t>(), 141);
}

TEST(ImageCodecTest, ToGrayscaleMatchesDecodeToGray) {
  const at::Tensor image = RgbRow({{255, 255, 255}, {100, 150, 200}});

  absl::StatusOr<at::Tensor> gray = ToGrayscale(image);

  ASSERT_TRUE(gray.ok()) << gray.status();
  EXPECT_EQ((*gray)[0][0][0].item<uint8_t>(), 255);
  EXPECT_EQ((*gray)[0][0][1].item<uint8_t>(), 141);
}

TEST(ImageCodecTest, DecodeGrayToRgbRepeatsChannel) {
  const at::Tensor image = PatternImage(1, 2, 2);

  absl::StatusOr<std::string> png = EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status();
  absl::StatusOr<at::Tensor> rgb = DecodeImage(*png, DecodeOptions{});

  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_TRUE(rgb->equal(image.expand({3, 2, 2})));
}

TEST(ImageCodecTest, JpegRoundTripIsClose) {
  const at::Tensor image = at::full({3, 16, 16}, 90, at::kByte);

  absl::StatusOr<std::string> jpeg = EncodeJpeg(image, 95);
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  absl::StatusOr<at::Tensor> decoded = DecodeImage(*jpeg, DecodeOptions{});

  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->sizes(), image.sizes());
  const int64_t error = (decoded->to(at::kInt) - 90).abs().max().item<int>();
  EXPECT_LE(error, 2);
}

TEST(ImageCodecTest, DecodeResizesToRequestedSize) {
  absl::StatusOr<std::string> png = EncodePng(PatternImage(3, 10, 20));
  ASSERT_TRUE(png.ok()) << png.status();
  DecodeOptions options;
  options.height = 5;
  options.width = 7;

  absl::StatusOr<at::Tensor> decoded = DecodeImage(*png, options);

  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->sizes(), (std::vector<int64_t>{3, 5, 7}));
}

TEST(ImageCodecTest, ResizeKeepsConstantImage) {
  const at::Tensor image = at::full({3, 12, 9}, 128, at::kByte);

  absl::StatusOr<at::Tensor> resized = ResizeImage(image, 30, 4);

  ASSERT_TRUE(resized.ok()) << resized.status();
  EXPECT_EQ(resized->sizes(), (std::vector<int64_t>{3, 30, 4}));
  EXPECT_TRUE(resized->eq(128).all().item<bool>());
}

TEST(ImageCodecTest, DecodeCenterCropDropsTheSides) {
  // 20 x 40 image: a 200-valued band over columns 4..35, black outside.
  at::Tensor image = at::zeros({1, 20, 40}, at::kByte);
  image.narrow(2, 4, 32).fill_(200);
  absl::StatusOr<std::string> png = EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status();
  DecodeOptions options;
  options.channels = 1;
  options.height = 10;
  options.width = 10;

  options.center_crop = true;
  absl::StatusOr<at::Tensor> cropped = DecodeImage(*png, options);
  options.center_crop = false;
  absl::StatusOr<at::Tensor> squeezed = DecodeImage(*png, options);

  // Shorter side 20 -> 10 scales the image to 10 x 20; the centered 10 x 10
  // window covers source columns 10..29, inside the band.
  ASSERT_TRUE(cropped.ok()) << cropped.status();
  EXPECT_EQ(cropped->sizes(), (std::vector<int64_t>{1, 10, 10}));
  EXPECT_TRUE(cropped->eq(200).all().item<bool>()) << *cropped;
  ASSERT_TRUE(squeezed.ok()) << squeezed.status();
  EXPECT_LT(squeezed->min().item<uint8_t>(), 200);
}

TEST(ImageCodecTest, DecodeCenterCropHandlesExtremeAspect) {
  // A 2 x 4000 strip: scaling its short side to 256 first would need a
  // 256 x 512000 intermediate image.
  at::Tensor strip = at::full({1, 2, 4000}, 70, at::kByte);
  absl::StatusOr<std::string> png = EncodePng(strip);
  ASSERT_TRUE(png.ok()) << png.status();
  DecodeOptions options;
  options.channels = 1;
  options.height = 256;
  options.width = 256;
  options.center_crop = true;

  absl::StatusOr<at::Tensor> decoded = DecodeImage(*png, options);

  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->sizes(), (std::vector<int64_t>{1, 256, 256}));
  EXPECT_TRUE(decoded->eq(70).all().item<bool>());
}

TEST(ImageCodecTest, CenterCropTakesMiddleWindow) {
  const at::Tensor image =
      at::arange(20, at::kLong).to(at::kByte).reshape({1, 4, 5});

  absl::StatusOr<at::Tensor> cropped = CenterCrop(image, 2, 3);

  ASSERT_TRUE(cropped.ok()) << cropped.status();
  const at::Tensor expected =
      at::tensor({6, 7, 8, 11, 12, 13}, at::kByte).reshape({1, 2, 3});
  EXPECT_TRUE(cropped->equal(expected));
}

TEST(ImageCodecTest, CenterCropRejectsLargerWindow) {
  absl::Status status = CenterCrop(PatternImage(1, 4, 5), 5, 5).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "CenterCrop: window 5x5 must be positive and fit the 4x5 image");
}

TEST(ImageCodecTest, DecodeRejectsEmptyData) {
  absl::Status status = DecodeImage("", DecodeOptions{}).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "image data is empty");
}

TEST(ImageCodecTest, DecodeRejectsGarbage) {
  absl::Status status = DecodeImage("hello", DecodeOptions{}).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("image data (5 bytes) is not a decodable PNG or "
                         "JPEG: "));
}

TEST(ImageCodecTest, DecodeRejectsTruncatedPng) {
  absl::StatusOr<std::string> png = EncodePng(PatternImage(3, 32, 32));
  ASSERT_TRUE(png.ok()) << png.status();

  absl::Status status =
      DecodeImage(png->substr(0, png->size() / 2), DecodeOptions{}).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(ImageCodecTest, DecodeRejectsBadChannels) {
  DecodeOptions options;
  options.channels = 2;

  absl::Status status = DecodeImage("x", options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "decode channels must be 1 or 3, got 2");
}

TEST(ImageCodecTest, DecodeRejectsHalfGivenSize) {
  DecodeOptions options;
  options.height = 8;

  absl::Status status = DecodeImage("x", options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "decode size must be 0x0 (keep) or positive, got 8x0");
}

TEST(ImageCodecTest, DecodeRejectsTooManyPixels) {
  absl::StatusOr<std::string> png = EncodePng(PatternImage(3, 4, 4));
  ASSERT_TRUE(png.ok()) << png.status();
  DecodeOptions options;
  options.max_pixels = 10;

  absl::Status status = DecodeImage(*png, options).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "image of 4x4 pixels exceeds the limit of 10 pixels");
}

TEST(ImageCodecTest, EncodeRejectsFloatImage) {
  absl::Status status = EncodePng(at::zeros({3, 4, 4})).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "EncodePng: expected a uint8 C x H x W image, got Float 3x4x4");
}

TEST(ImageCodecTest, EncodeRejectsFourChannels) {
  absl::Status status = EncodePng(PatternImage(4, 2, 2)).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "EncodePng: expected 1 or 3 channels, got 4");
}

TEST(ImageCodecTest, EncodeJpegRejectsBadQuality) {
  absl::Status status = EncodeJpeg(PatternImage(3, 2, 2), 0).status();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "EncodeJpeg: quality must be in [1, 100], got 0");
}

}  // namespace
}  // namespace rat
