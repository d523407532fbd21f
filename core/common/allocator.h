// Process-wide memory allocator settings for LibTorch workloads.
#ifndef RAT_CORE_COMMON_ALLOCATOR_H_
#define RAT_CORE_COMMON_ALLOCATOR_H_

namespace rat {

// Makes glibc keep freed tensor buffers of up to 32 MiB in the heap for
// reuse. By default glibc serves large blocks with fresh mmap calls and gives
// freed memory back at once. Every pass then pays page faults on each
// activation buffer again, which doubled the time of a batch-128 forward pass
// of the small CNN on a two-core machine. The cost: resident memory stays
// near its peak instead of shrinking between batches.
//
// Call once at start-up, before other threads exist. Does nothing when the
// environment already sets MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_
// (the user's choice wins) or when the C library is not glibc. Returns true
// when the settings were applied.
bool KeepTensorBuffersInHeap();

}  // namespace rat

#endif  // RAT_CORE_COMMON_ALLOCATOR_H_
