// Curves and histograms for reports: ROC points and score histograms.
#ifndef RAT_CORE_METRICS_CURVES_H_
#define RAT_CORE_METRICS_CURVES_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace rat {

// One ROC point of the error detector (errors are positives, -score the
// detector, as for FPR@95TPR).
struct RocPoint {
  double fpr = 0;  // correct samples flagged / correct samples
  double tpr = 0;  // errors flagged / errors
};

// ROC curve from (0, 0) to (1, 1), one point per distinct score (a tie block
// is one point), flagging the lowest scores first. Its area is the AUROC.
// Errors: as ValidateMisdInput. std::nullopt when there are no errors or no
// correct samples, because the rates are then undefined.
absl::StatusOr<std::optional<std::vector<RocPoint>>> RocCurve(
    absl::Span<const double> scores, absl::Span<const bool> correct);

// The same for flags kept in a std::vector<bool>; copies them once.
absl::StatusOr<std::optional<std::vector<RocPoint>>> RocCurve(
    absl::Span<const double> scores, const std::vector<bool>& correct);

// Upper limit on HistogramOptions::bins, so a mistyped count fails with an
// error instead of allocating gigabytes.
inline constexpr int kMaxHistogramBins = 1'000'000;

struct HistogramOptions {
  int bins = 20;
  double low = 0;   // lower edge of the first bin
  double high = 1;  // upper edge of the last bin
};

// Counts of `values` in `options.bins` equal-width bins over [low, high].
// Values below low count in the first bin and values above high in the last,
// so the counts always sum to values.size(). Errors: INVALID_ARGUMENT for
// bins outside [1, kMaxHistogramBins], non-finite or empty [low, high], or a
// NaN/infinite value (naming its index).
absl::StatusOr<std::vector<int64_t>> HistogramCounts(
    absl::Span<const double> values, const HistogramOptions& options);

}  // namespace rat

#endif  // RAT_CORE_METRICS_CURVES_H_
