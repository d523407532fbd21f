#include "trainer/distributed_bucket.h"

namespace rat {

std::vector<std::vector<at::Tensor>> SplitIntoBuckets(
    const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::vector<at::Tensor>> buckets;
  int64_t filled_bytes = 0;
  for (const at::Tensor& tensor : tensors) {
    const int64_t bytes = tensor.numel() * tensor.element_size();
    const bool fits =
        !buckets.empty() && filled_bytes + bytes <= bucket_bytes &&
        buckets.back().front().scalar_type() == tensor.scalar_type() &&
        buckets.back().front().device() == tensor.device();
    if (!fits) {
      buckets.emplace_back();
      filled_bytes = 0;
    }
    buckets.back().push_back(tensor);
    filled_bytes += bytes;
  }
  return buckets;
}

at::Tensor FlattenBucket(const std::vector<at::Tensor>& bucket) {
  TORCH_CHECK(!bucket.empty(), "cannot flatten an empty bucket");
  std::vector<at::Tensor> pieces;
  pieces.reserve(bucket.size());
  for (const at::Tensor& tensor : bucket) pieces.push_back(tensor.reshape(-1));
  return at::cat(pieces);
}

void UnflattenBucket(const at::Tensor& flat,
                     const std::vector<at::Tensor>& bucket) {
  int64_t offset = 0;
  for (const at::Tensor& tensor : bucket) {
    const int64_t count = tensor.numel();
    TORCH_CHECK(offset + count <= flat.numel(), "flat buffer of ", flat.numel(),
                " elements is too small for its bucket");
    // copy_ on the const handle writes into the shared storage in place.
    at::Tensor target = tensor;
    target.copy_(flat.narrow(0, offset, count).view_as(tensor));
    offset += count;
  }
}

}  // namespace rat
