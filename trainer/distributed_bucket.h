// Packing of many tensors into few flat buffers, so that a collective runs
// once per bucket instead of once per tensor.
#ifndef RAT_TRAINER_DISTRIBUTED_BUCKET_H_
#define RAT_TRAINER_DISTRIBUTED_BUCKET_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace rat {

// Groups `tensors` in their order into buckets whose tensors share dtype and
// device and together hold at most `bucket_bytes`. A tensor larger than that
// gets a bucket of its own. Buckets share storage with the input tensors.
std::vector<std::vector<at::Tensor>> SplitIntoBuckets(
    const std::vector<at::Tensor>& tensors, int64_t bucket_bytes);

// Returns one 1-D tensor with the bucket's elements in order (a copy, on the
// bucket's device). Throws c10::Error for an empty bucket.
at::Tensor FlattenBucket(const std::vector<at::Tensor>& bucket);

// Copies `flat` (as made by FlattenBucket, on any device) back into the
// bucket's tensors in place.
void UnflattenBucket(const at::Tensor& flat,
                     const std::vector<at::Tensor>& bucket);

}  // namespace rat

#endif  // RAT_TRAINER_DISTRIBUTED_BUCKET_H_
