// Seeded pseudo-random numbers whose sequences are fixed by this code alone
// (not by the standard library's distributions), so shuffles and
// augmentations repeat exactly across platforms and runs.
#ifndef RAT_CORE_DATA_RANDOM_H_
#define RAT_CORE_DATA_RANDOM_H_

#include <cstdint>
#include <vector>

namespace rat {

// SplitMix64 (Steele, Lea and Flood 2014): a 64-bit state advanced by a
// constant and scrambled on output. Not thread safe.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next();
  // Uniform integer in [0, bound); `bound` must be positive. Uses rejection
  // sampling, so there is no modulo bias.
  uint64_t Below(uint64_t bound);

 private:
  uint64_t state_;
};

// Combines several values into one well-mixed seed; different inputs give
// unrelated streams.
uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c = 0);

// Fisher-Yates permutation of 0..n-1 drawn from `seed`.
std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed);

}  // namespace rat

#endif  // RAT_CORE_DATA_RANDOM_H_
