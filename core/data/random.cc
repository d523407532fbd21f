#include "core/data/random.h"

#include <numeric>
#include <utility>

namespace rat {

uint64_t SplitMix64::Next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::Below(uint64_t bound) {
  // Values at or above `limit` would make some residues more likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t value = Next();
  while (value >= limit) value = Next();
  return value % bound;
}

uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c) {
  SplitMix64 mixer(a);
  uint64_t seed = mixer.Next() ^ b;
  mixer = SplitMix64(seed);
  seed = mixer.Next() ^ c;
  mixer = SplitMix64(seed);
  return mixer.Next();
}

std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  SplitMix64 random(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(random.Below(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace rat
