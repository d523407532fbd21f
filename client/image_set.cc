#include "client/image_set.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"

namespace rat::client {

absl::StatusOr<ImageSet> ToImageSet(const Dataset& dataset) {
  if (!dataset.images.defined() || dataset.images.dim() != 4 ||
      dataset.images.scalar_type() != at::kByte) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set \"", dataset.name,
                     "\" must hold uint8 N x C x H x W images"));
  }
  if (!dataset.labels.defined() || dataset.labels.dim() != 1 ||
      dataset.labels.size(0) != dataset.images.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data set \"", dataset.name, "\" must hold one label per image, got ",
        dataset.labels.defined() ? dataset.labels.numel() : 0, " labels for ",
        dataset.images.size(0), " images"));
  }

  return CallTorch(
      absl::StrCat("copying data set \"", dataset.name, "\""), [&dataset] {
        ImageSet set;
        set.name = dataset.name;
        set.channels = dataset.images.size(1);
        set.height = dataset.images.size(2);
        set.width = dataset.images.size(3);
        set.class_names = dataset.class_names;

        const at::Tensor images = dataset.images.contiguous();
        set.pixels.resize(images.numel());
        std::memcpy(set.pixels.data(), images.data_ptr<uint8_t>(),
                    set.pixels.size());

        const at::Tensor labels = dataset.labels.to(at::kLong).contiguous();
        const int64_t* first = labels.data_ptr<int64_t>();
        set.labels.assign(first, first + labels.numel());
        return set;
      });
}

absl::StatusOr<ImageSet> LoadImageSet(const DatasetOptions& options) {
  RAT_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(options));
  return ToImageSet(dataset);
}

void FillTensorImage(const ImageSet& images, int64_t index,
                     rat::v1::Image& image) {
  rat::v1::TensorImage* tensor = image.mutable_tensor();
  tensor->set_dtype(rat::v1::DATA_TYPE_UINT8);
  tensor->clear_dims();
  tensor->add_dims(images.channels);
  tensor->add_dims(images.height);
  tensor->add_dims(images.width);
  const int64_t bytes = images.image_bytes();
  tensor->set_data(images.pixels.data() + index * bytes, bytes);
}

}  // namespace rat::client
