#include "core/metrics/curves.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/metrics/tie_blocks.h"

namespace rat {

absl::StatusOr<std::optional<std::vector<RocPoint>>> RocCurve(
    absl::Span<const double> scores, absl::Span<const bool> correct) {
  absl::StatusOr<metrics_internal::TieBlocks> tie =
      metrics_internal::SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();
  if (tie->num_errors == 0 || tie->num_correct() == 0) return std::nullopt;

  std::vector<RocPoint> curve;
  curve.reserve(tie->blocks.size() + 1);
  curve.push_back({0, 0});
  int64_t flagged_errors = 0;
  int64_t flagged_correct = 0;
  for (auto it = tie->blocks.rbegin(); it != tie->blocks.rend(); ++it) {
    flagged_errors += it->errors;
    flagged_correct += it->size - it->errors;
    curve.push_back({static_cast<double>(flagged_correct) / tie->num_correct(),
                     static_cast<double>(flagged_errors) / tie->num_errors});
  }
  return curve;
}

absl::StatusOr<std::optional<std::vector<RocPoint>>> RocCurve(
    absl::Span<const double> scores, const std::vector<bool>& correct) {
  std::unique_ptr<bool[]> flags(new bool[correct.size()]);
  std::copy(correct.begin(), correct.end(), flags.get());
  return RocCurve(scores, absl::MakeConstSpan(flags.get(), correct.size()));
}

absl::StatusOr<std::vector<int64_t>> HistogramCounts(
    absl::Span<const double> values, const HistogramOptions& options) {
  if (options.bins < 1 || options.bins > kMaxHistogramBins) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram bins ", options.bins, " must be in [1, ",
                     kMaxHistogramBins, "]"));
  }
  if (!std::isfinite(options.low) || !std::isfinite(options.high) ||
      !(options.low < options.high)) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram range [", options.low, ", ", options.high,
                     "] must be finite with low < high"));
  }

  std::vector<int64_t> counts(options.bins, 0);
  const double bin_width = (options.high - options.low) / options.bins;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("value at index ", i, " is ", values[i],
                       "; expected a finite value"));
    }
    // Clamping in double first keeps huge values from overflowing the cast.
    const double position = std::clamp((values[i] - options.low) / bin_width,
                                       0.0, options.bins - 1.0);
    ++counts[static_cast<int>(position)];
  }
  return counts;
}

}  // namespace rat
