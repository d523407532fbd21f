// Internal to rat_metrics: samples sorted by score and grouped into blocks
// of equal scores. Every metric is a single pass over these blocks, so the
// one O(n log n) sort is the only superlinear step.
#ifndef RAT_CORE_METRICS_TIE_BLOCKS_H_
#define RAT_CORE_METRICS_TIE_BLOCKS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace rat::metrics_internal {

// Samples that share one score.
struct TieBlock {
  double score = 0;
  int64_t size = 0;
  int64_t errors = 0;
};

// Blocks in descending score order plus the totals over all samples.
struct TieBlocks {
  std::vector<TieBlock> blocks;
  int64_t num_samples = 0;
  int64_t num_errors = 0;

  int64_t num_correct() const { return num_samples - num_errors; }
};

// Validates the input (see ValidateMisdInput) and groups it into blocks.
absl::StatusOr<TieBlocks> SortIntoTieBlocks(absl::Span<const double> scores,
                                            absl::Span<const bool> correct);

}  // namespace rat::metrics_internal

#endif  // RAT_CORE_METRICS_TIE_BLOCKS_H_
