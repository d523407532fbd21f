// MisD metrics computed from tie blocks (see tie_blocks.h). Each *FromBlocks
// helper is one linear pass, so ComputeMisdMetrics costs one sort in total.
#include "core/metrics/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/metrics/tie_blocks.h"

namespace rat {
namespace {

using metrics_internal::SortIntoTieBlocks;
using metrics_internal::TieBlock;
using metrics_internal::TieBlocks;

// Within a block of m tied samples holding e errors, position j (1-based) of
// the block has j * e / m expected errors before it under a random order.
double AurcFromBlocks(const TieBlocks& tie) {
  double risk_sum = 0;
  int64_t accepted_before = 0;
  int64_t errors_before = 0;
  for (const TieBlock& block : tie.blocks) {
    for (int64_t j = 1; j <= block.size; ++j) {
      // j * errors is an exact integer, so a perfect ranking reproduces the
      // terms of OptimalAurc bit for bit and its E-AURC is exactly 0.
      const double expected_errors =
          static_cast<double>(errors_before) +
          static_cast<double>(j * block.errors) / block.size;
      risk_sum += expected_errors / static_cast<double>(accepted_before + j);
    }
    accepted_before += block.size;
    errors_before += block.errors;
  }
  return risk_sum / static_cast<double>(tie.num_samples);
}

// Counts (correct, error) pairs ordered correctly, with ties as one half.
// Twice the count is an integer, which keeps the sum exact up to 2^63.
std::optional<double> AurocFromBlocks(const TieBlocks& tie) {
  if (tie.num_errors == 0 || tie.num_correct() == 0) return std::nullopt;

  int64_t errors_below = tie.num_errors;
  int64_t twice_concordant = 0;
  for (const TieBlock& block : tie.blocks) {
    errors_below -= block.errors;
    const int64_t correct_in_block = block.size - block.errors;
    twice_concordant +=
        2 * correct_in_block * errors_below + correct_in_block * block.errors;
  }
  const double pairs = static_cast<double>(tie.num_correct()) *
                       static_cast<double>(tie.num_errors);
  return static_cast<double>(twice_concordant) / (2 * pairs);
}

// Flags the lowest scores first, one whole tie block at a time, because a
// threshold cannot split samples with equal scores.
std::optional<double> FprAtTprFromBlocks(const TieBlocks& tie, double tpr) {
  if (tie.num_errors == 0 || tie.num_correct() == 0) return std::nullopt;

  // The 1e-9 absorbs rounding in tpr * errors, e.g. 0.95 * 20 = 19 exactly.
  const double errors_needed =
      std::ceil(tpr * static_cast<double>(tie.num_errors) - 1e-9);
  int64_t flagged_errors = 0;
  int64_t flagged_correct = 0;
  for (auto it = tie.blocks.rbegin(); it != tie.blocks.rend(); ++it) {
    flagged_errors += it->errors;
    flagged_correct += it->size - it->errors;
    if (static_cast<double>(flagged_errors) >= errors_needed) break;
  }
  return static_cast<double>(flagged_correct) /
         static_cast<double>(tie.num_correct());
}

// Average precision: sum over thresholds of (recall gain) x precision, with
// each tie block as one threshold.
template <typename BlockIterator>
double AveragePrecision(BlockIterator begin, BlockIterator end,
                        bool errors_are_positive, int64_t num_positive) {
  double average_precision = 0;
  int64_t flagged = 0;
  int64_t true_positives = 0;
  for (BlockIterator it = begin; it != end; ++it) {
    const int64_t positives =
        errors_are_positive ? it->errors : it->size - it->errors;
    flagged += it->size;
    true_positives += positives;
    average_precision += static_cast<double>(positives) / num_positive *
                         static_cast<double>(true_positives) / flagged;
  }
  return average_precision;
}

std::optional<double> AuprErrorFromBlocks(const TieBlocks& tie) {
  if (tie.num_errors == 0 || tie.num_correct() == 0) return std::nullopt;
  return AveragePrecision(tie.blocks.rbegin(), tie.blocks.rend(),
                          /*errors_are_positive=*/true, tie.num_errors);
}

std::optional<double> AuprSuccessFromBlocks(const TieBlocks& tie) {
  if (tie.num_errors == 0 || tie.num_correct() == 0) return std::nullopt;
  return AveragePrecision(tie.blocks.begin(), tie.blocks.end(),
                          /*errors_are_positive=*/false, tie.num_correct());
}

absl::Status ValidateTpr(double tpr) {
  if (!(tpr > 0 && tpr <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("true positive rate ", tpr, " must be in (0, 1]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<RiskCoveragePoint>> RiskCoverageCurve(
    absl::Span<const double> scores, absl::Span<const bool> correct) {
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();

  std::vector<RiskCoveragePoint> curve;
  curve.reserve(tie->blocks.size());
  int64_t accepted = 0;
  int64_t errors = 0;
  for (const TieBlock& block : tie->blocks) {
    accepted += block.size;
    errors += block.errors;
    curve.push_back({block.score,
                     static_cast<double>(accepted) / tie->num_samples,
                     static_cast<double>(errors) / accepted});
  }
  return curve;
}

absl::StatusOr<double> Aurc(absl::Span<const double> scores,
                            absl::Span<const bool> correct) {
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();
  return AurcFromBlocks(*tie);
}

absl::StatusOr<double> Eaurc(absl::Span<const double> scores,
                             absl::Span<const bool> correct) {
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();
  return AurcFromBlocks(*tie) - OptimalAurc(tie->num_samples, tie->num_errors);
}

double OptimalAurc(int64_t num_samples, int64_t num_errors) {
  if (num_samples <= 0 || num_errors <= 0) return 0;
  if (num_errors > num_samples) num_errors = num_samples;

  const int64_t num_correct = num_samples - num_errors;
  double risk_sum = 0;
  for (int64_t k = num_correct + 1; k <= num_samples; ++k) {
    risk_sum += static_cast<double>(k - num_correct) / static_cast<double>(k);
  }
  return risk_sum / static_cast<double>(num_samples);
}

absl::StatusOr<std::optional<double>> Auroc(absl::Span<const double> scores,
                                            absl::Span<const bool> correct) {
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();
  return AurocFromBlocks(*tie);
}

absl::StatusOr<std::optional<double>> FprAtTpr(absl::Span<const double> scores,
                                               absl::Span<const bool> correct,
                                               double tpr) {
  if (absl::Status status = ValidateTpr(tpr); !status.ok()) return status;
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();
  return FprAtTprFromBlocks(*tie, tpr);
}

absl::StatusOr<std::optional<double>> AuprError(
    absl::Span<const double> scores, absl::Span<const bool> correct) {
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();
  return AuprErrorFromBlocks(*tie);
}

absl::StatusOr<std::optional<double>> AuprSuccess(
    absl::Span<const double> scores, absl::Span<const bool> correct) {
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();
  return AuprSuccessFromBlocks(*tie);
}

absl::StatusOr<double> Accuracy(absl::Span<const bool> correct) {
  if (correct.empty()) {
    return absl::InvalidArgumentError(
        "accuracy needs at least one sample, got 0 correctness flags");
  }
  int64_t num_correct = 0;
  for (bool is_correct : correct) num_correct += is_correct ? 1 : 0;
  return static_cast<double>(num_correct) / static_cast<double>(correct.size());
}

absl::StatusOr<MisdMetrics> ComputeMisdMetrics(absl::Span<const double> scores,
                                               absl::Span<const bool> correct) {
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();

  MisdMetrics metrics;
  metrics.num_samples = tie->num_samples;
  metrics.num_errors = tie->num_errors;
  metrics.accuracy = static_cast<double>(tie->num_correct()) /
                     static_cast<double>(tie->num_samples);
  metrics.aurc = AurcFromBlocks(*tie);
  metrics.eaurc = metrics.aurc - OptimalAurc(tie->num_samples, tie->num_errors);
  metrics.auroc = AurocFromBlocks(*tie);
  metrics.fpr_at_95_tpr = FprAtTprFromBlocks(*tie, 0.95);
  metrics.aupr_error = AuprErrorFromBlocks(*tie);
  metrics.aupr_success = AuprSuccessFromBlocks(*tie);
  return metrics;
}

}  // namespace rat
