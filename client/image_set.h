// Labelled images in plain memory, the form the benchmark sends them in.
#ifndef RAT_CLIENT_IMAGE_SET_H_
#define RAT_CLIENT_IMAGE_SET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "rat/v1/inference.pb.h"

namespace rat::client {

// uint8 images of one shape, pixel values 0..255.
struct ImageSet {
  std::string name;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  // size() * channels * height * width bytes, image after image, each in
  // C x H x W row-major order.
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  std::vector<std::string> class_names;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
};

// Copies a loaded data set; INVALID_ARGUMENT when its tensors do not have
// the documented types and shapes.
absl::StatusOr<ImageSet> ToImageSet(const Dataset& dataset);

// Loads a data set through LoadDataset and copies it.
absl::StatusOr<ImageSet> LoadImageSet(const DatasetOptions& options);

// Writes image `index` into `image` as a uint8 tensor [C, H, W].
void FillTensorImage(const ImageSet& images, int64_t index,
                     rat::v1::Image& image);

}  // namespace rat::client

#endif  // RAT_CLIENT_IMAGE_SET_H_
