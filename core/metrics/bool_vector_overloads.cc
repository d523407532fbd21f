// The std::vector<bool> overloads of metrics.h. std::vector<bool> stores
// packed bits, so the flags are copied into a bool array once per call.
#include <algorithm>
#include <memory>

#include "core/metrics/metrics.h"

namespace rat {
namespace {

class FlagArray {
 public:
  explicit FlagArray(const std::vector<bool>& correct)
      : flags_(new bool[correct.size()]), size_(correct.size()) {
    std::copy(correct.begin(), correct.end(), flags_.get());
  }

  absl::Span<const bool> span() const {
    return absl::MakeConstSpan(flags_.get(), size_);
  }

 private:
  std::unique_ptr<bool[]> flags_;
  size_t size_;
};

}  // namespace

absl::Status ValidateMisdInput(absl::Span<const double> scores,
                               const std::vector<bool>& correct) {
  return ValidateMisdInput(scores, FlagArray(correct).span());
}

absl::StatusOr<std::vector<RiskCoveragePoint>> RiskCoverageCurve(
    absl::Span<const double> scores, const std::vector<bool>& correct) {
  return RiskCoverageCurve(scores, FlagArray(correct).span());
}

absl::StatusOr<double> Aurc(absl::Span<const double> scores,
                            const std::vector<bool>& correct) {
  return Aurc(scores, FlagArray(correct).span());
}

absl::StatusOr<double> Eaurc(absl::Span<const double> scores,
                             const std::vector<bool>& correct) {
  return Eaurc(scores, FlagArray(correct).span());
}

absl::StatusOr<std::optional<double>> Auroc(absl::Span<const double> scores,
                                            const std::vector<bool>& correct) {
  return Auroc(scores, FlagArray(correct).span());
}

absl::StatusOr<std::optional<double>> FprAtTpr(absl::Span<const double> scores,
                                               const std::vector<bool>& correct,
                                               double tpr) {
  return FprAtTpr(scores, FlagArray(correct).span(), tpr);
}

absl::StatusOr<std::optional<double>> AuprError(
    absl::Span<const double> scores, const std::vector<bool>& correct) {
  return AuprError(scores, FlagArray(correct).span());
}

absl::StatusOr<std::optional<double>> AuprSuccess(
    absl::Span<const double> scores, const std::vector<bool>& correct) {
  return AuprSuccess(scores, FlagArray(correct).span());
}

absl::StatusOr<double> Accuracy(const std::vector<bool>& correct) {
  return Accuracy(FlagArray(correct).span());
}

absl::StatusOr<MisdMetrics> ComputeMisdMetrics(
    absl::Span<const double> scores, const std::vector<bool>& correct) {
  return ComputeMisdMetrics(scores, FlagArray(correct).span());
}

absl::StatusOr<ThresholdChoice> SelectiveRiskAtCoverage(
    absl::Span<const double> scores, const std::vector<bool>& correct,
    double coverage) {
  return SelectiveRiskAtCoverage(scores, FlagArray(correct).span(), coverage);
}

absl::StatusOr<ThresholdChoice> CoverageAtRisk(absl::Span<const double> scores,
                                               const std::vector<bool>& correct,
                                               double risk) {
  return CoverageAtRisk(scores, FlagArray(correct).span(), risk);
}

absl::StatusOr<ThresholdChoice> GuaranteedRiskThreshold(
    absl::Span<const double> scores, const std::vector<bool>& correct,
    double target_risk, double delta) {
  return GuaranteedRiskThreshold(scores, FlagArray(correct).span(), target_risk,
                                 delta);
}

}  // namespace rat
