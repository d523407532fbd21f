// Misclassification-detection (MisD) metrics. Every function runs in
// O(n log n). Inputs: per-sample confidence `scores` (larger = more likely
// correct) and `correct` flags of the same length.
//
// Errors: INVALID_ARGUMENT for n = 0, a length mismatch, or a NaN/infinite
// score (naming its index and value). Metrics that are undefined for the data
// (AUROC, FPR@95TPR and AUPR with no errors or no correct samples) are
// returned as std::nullopt, never as NaN. Every function is thread-safe and
// keeps no state between calls.
#ifndef RAT_CORE_METRICS_METRICS_H_
#define RAT_CORE_METRICS_METRICS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace rat {

// One point of the risk-coverage curve, at a distinct threshold: accepting
// every sample with score >= threshold gives this coverage and risk.
struct RiskCoveragePoint {
  double threshold = 0;
  double coverage = 0;  // accepted / n
  double risk = 0;      // errors among accepted / accepted
};

// All MisD metrics of one score.
struct MisdMetrics {
  int64_t num_samples = 0;
  int64_t num_errors = 0;
  double accuracy = 0;
  double aurc = 0;  // not scaled; multiply by 1000 for reports
  double eaurc = 0;
  std::optional<double> auroc;
  std::optional<double> fpr_at_95_tpr;  // fraction in [0, 1]
  std::optional<double> aupr_error;
  std::optional<double> aupr_success;
};

// Checks the common preconditions above.
absl::Status ValidateMisdInput(absl::Span<const double> scores,
                               absl::Span<const bool> correct);

// Risk-coverage curve, one point per distinct score, highest threshold first.
absl::StatusOr<std::vector<RiskCoveragePoint>> RiskCoverageCurve(
    absl::Span<const double> scores, absl::Span<const bool> correct);

// Area under the risk-coverage curve, tie-aware: inside a block of tied
// scores the errors are spread evenly over the block's positions.
absl::StatusOr<double> Aurc(absl::Span<const double> scores,
                            absl::Span<const bool> correct);

// AURC minus the AURC of a perfect ranking with the same errors (discrete
// formula, exact for small n).
absl::StatusOr<double> Eaurc(absl::Span<const double> scores,
                             absl::Span<const bool> correct);

// AURC of a perfect ranking: (1/n) * sum_k max(0, k - n_correct) / k.
// Returns 0 when num_samples <= 0 or num_errors <= 0; num_errors above
// num_samples counts as num_samples.
double OptimalAurc(int64_t num_samples, int64_t num_errors);

// P(score of a random correct sample > score of a random error), ties 1/2.
absl::StatusOr<std::optional<double>> Auroc(absl::Span<const double> scores,
                                            absl::Span<const bool> correct);

// Errors are positives, -score the detector: the highest threshold that flags
// at least 95% of errors; returns the fraction of correct samples flagged.
// A tie block is flagged whole. INVALID_ARGUMENT when tpr is not in (0, 1].
absl::StatusOr<std::optional<double>> FprAtTpr(absl::Span<const double> scores,
                                               absl::Span<const bool> correct,
                                               double tpr = 0.95);

// Average precision with errors as positives and -score as the detector.
absl::StatusOr<std::optional<double>> AuprError(absl::Span<const double> scores,
                                                absl::Span<const bool> correct);

// Average precision with correct samples as positives and score.
absl::StatusOr<std::optional<double>> AuprSuccess(
    absl::Span<const double> scores, absl::Span<const bool> correct);

// Fraction of correct samples. INVALID_ARGUMENT when `correct` is empty.
absl::StatusOr<double> Accuracy(absl::Span<const bool> correct);

// Every metric above in one pass over one sort.
absl::StatusOr<MisdMetrics> ComputeMisdMetrics(absl::Span<const double> scores,
                                               absl::Span<const bool> correct);

// Reject thresholds. Each one accepts whole tie blocks, because a threshold
// cannot separate samples with equal scores.

struct ThresholdChoice {
  double threshold = 0;  // accept score >= threshold
  double coverage = 0;   // reached on the given data
  double risk = 0;       // selective risk on the given data
  // Guaranteed-risk selection only: the Clopper-Pearson upper bound.
  double risk_upper_bound = 0;
};

// Selective risk when accepting the top `coverage` fraction (0, 1]: the
// highest threshold whose coverage reaches `coverage` (a tie block can carry
// it past the target). INVALID_ARGUMENT for coverage outside (0, 1].
absl::StatusOr<ThresholdChoice> SelectiveRiskAtCoverage(
    absl::Span<const double> scores, absl::Span<const bool> correct,
    double coverage);

// Largest coverage whose empirical selective risk is <= `risk`; NOT_FOUND
// when no threshold reaches it. INVALID_ARGUMENT for risk outside [0, 1].
absl::StatusOr<ThresholdChoice> CoverageAtRisk(absl::Span<const double> scores,
                                               absl::Span<const bool> correct,
                                               double risk);

// Selection with guaranteed risk (Geifman and El-Yaniv, 2017): the largest
// coverage whose Clopper-Pearson upper bound on the selective risk, at
// confidence 1 - delta / ceil(log2 n) (the correction for testing several
// thresholds by bisection), is <= target_risk. NOT_FOUND when none qualifies.
// At most max(1, ceil(log2 n)) thresholds are tested, assuming the bound
// grows with coverage. INVALID_ARGUMENT unless target_risk and delta are in
// (0, 1).
absl::StatusOr<ThresholdChoice> GuaranteedRiskThreshold(
    absl::Span<const double> scores, absl::Span<const bool> correct,
    double target_risk, double delta);

// One-sided Clopper-Pearson upper bound on a binomial proportion with
// `errors` of `trials` at confidence 1 - delta: the p at which
// P(Binomial(trials, p) <= errors) = delta, found by bisection on
// RegularizedIncompleteBeta (so the tail at p matches delta to that
// function's accuracy). Returns 1 when trials == 0 or errors == trials, and
// NaN unless 0 <= errors <= trials and delta is in (0, 1).
double ClopperPearsonUpper(int64_t errors, int64_t trials, double delta);

// Overloads for correctness flags kept in a std::vector<bool>, which a span
// cannot view. Each copies the flags once (n bytes) and then behaves exactly
// like the span version above.
absl::Status ValidateMisdInput(absl::Span<const double> scores,
                               const std::vector<bool>& correct);
absl::StatusOr<std::vector<RiskCoveragePoint>> RiskCoverageCurve(
    absl::Span<const double> scores, const std::vector<bool>& correct);
absl::StatusOr<double> Aurc(absl::Span<const double> scores,
                            const std::vector<bool>& correct);
absl::StatusOr<double> Eaurc(absl::Span<const double> scores,
                             const std::vector<bool>& correct);
absl::StatusOr<std::optional<double>> Auroc(absl::Span<const double> scores,
                                            const std::vector<bool>& correct);
absl::StatusOr<std::optional<double>> FprAtTpr(absl::Span<const double> scores,
                                               const std::vector<bool>& correct,
                                               double tpr = 0.95);
absl::StatusOr<std::optional<double>> AuprError(
    absl::Span<const double> scores, const std::vector<bool>& correct);
absl::StatusOr<std::optional<double>> AuprSuccess(
    absl::Span<const double> scores, const std::vector<bool>& correct);
absl::StatusOr<double> Accuracy(const std::vector<bool>& correct);
absl::StatusOr<MisdMetrics> ComputeMisdMetrics(
    absl::Span<const double> scores, const std::vector<bool>& correct);
absl::StatusOr<ThresholdChoice> SelectiveRiskAtCoverage(
    absl::Span<const double> scores, const std::vector<bool>& correct,
    double coverage);
absl::StatusOr<ThresholdChoice> CoverageAtRisk(absl::Span<const double> scores,
                                               const std::vector<bool>& correct,
                                               double risk);
absl::StatusOr<ThresholdChoice> GuaranteedRiskThreshold(
    absl::Span<const double> scores, const std::vector<bool>& correct,
    double target_risk, double delta);

}  // namespace rat

#endif  // RAT_CORE_METRICS_METRICS_H_
