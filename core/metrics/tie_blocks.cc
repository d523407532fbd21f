#include "core/metrics/tie_blocks.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/str_cat.h"
#include "core/metrics/metrics.h"

namespace rat {

absl::Status ValidateMisdInput(absl::Span<const double> scores,
                               absl::Span<const bool> correct) {
  if (scores.empty()) {
    return absl::InvalidArgumentError(
        "MisD metrics need at least one sample, got 0 scores");
  }
  if (scores.size() != correct.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", scores.size(), " scores but ", correct.size(),
                     " correctness flags; expected one flag per score"));
  }
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("score at index ", i, " is ", scores[i],
                       "; expected a finite value"));
    }
  }
  return absl::OkStatus();
}

namespace metrics_internal {
namespace {

// Score and correctness side by side: sorting 16-byte records is about twice
// as fast as sorting indices that point into two arrays.
struct Sample {
  double score;
  bool correct;
};

}  // namespace

absl::StatusOr<TieBlocks> SortIntoTieBlocks(absl::Span<const double> scores,
                                            absl::Span<const bool> correct) {
  if (absl::Status status = ValidateMisdInput(scores, correct); !status.ok()) {
    return status;
  }

  std::vector<Sample> samples(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    samples[i] = {scores[i], correct[i]};
  }
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.score > b.score; });

  // -0.0 == 0.0, so both zeros land in one block, as equal scores must.
  TieBlocks result;
  result.num_samples = static_cast<int64_t>(samples.size());
  for (const Sample& sample : samples) {
    if (result.blocks.empty() || result.blocks.back().score != sample.score) {
      result.blocks.push_back({sample.score, 0, 0});
    }
    TieBlock& block = result.blocks.back();
    ++block.size;
    if (!sample.correct) {
      ++block.errors;
      ++result.num_errors;
    }
  }
  return result;
}

}  // namespace metrics_internal
}  // namespace rat
