// Reject thresholds: by coverage, by empirical risk, and with a risk
// guarantee (selection with guaranteed risk, Geifman and El-Yaniv, 2017).
#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/metrics/incomplete_beta.h"
#include "core/metrics/metrics.h"
#include "core/metrics/tie_blocks.h"

namespace rat {
namespace {

using metrics_internal::SortIntoTieBlocks;
using metrics_internal::TieBlock;
using metrics_internal::TieBlocks;

// Accepted samples and errors when accepting blocks [0, i], for each i.
struct CumulativeCounts {
  std::vector<int64_t> accepted;
  std::vector<int64_t> errors;
};

CumulativeCounts Accumulate(const TieBlocks& tie) {
  CumulativeCounts counts;
  counts.accepted.reserve(tie.blocks.size());
  counts.errors.reserve(tie.blocks.size());
  int64_t accepted = 0;
  int64_t errors = 0;
  for (const TieBlock& block : tie.blocks) {
    accepted += block.size;
    errors += block.errors;
    counts.accepted.push_back(accepted);
    counts.errors.push_back(errors);
  }
  return counts;
}

ThresholdChoice ChoiceAtBlock(const TieBlocks& tie,
                              const CumulativeCounts& counts, size_t i) {
  ThresholdChoice choice;
  choice.threshold = tie.blocks[i].score;
  choice.coverage = static_cast<double>(counts.accepted[i]) / tie.num_samples;
  choice.risk = static_cast<double>(counts.errors[i]) / counts.accepted[i];
  return choice;
}

// ceil(log2 n), at least 1: how many thresholds the bisection may test.
int NumBisectionTests(int64_t num_samples) {
  int tests = 0;
  while ((int64_t{1} << tests) < num_samples) ++tests;
  return tests < 1 ? 1 : tests;
}

}  // namespace

absl::StatusOr<ThresholdChoice> SelectiveRiskAtCoverage(
    absl::Span<const double> scores, absl::Span<const bool> correct,
    double coverage) {
  if (!(coverage > 0 && coverage <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("coverage ", coverage, " must be in (0, 1]"));
  }
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();

  // The smallest accepted set that reaches the coverage; a tie block is
  // accepted whole, so the reached coverage can exceed the target. The 1e-9
  // absorbs rounding, e.g. 0.3 * 10 samples must need 3, not 4.
  const CumulativeCounts counts = Accumulate(*tie);
  const double needed =
      std::ceil(coverage * static_cast<double>(tie->num_samples) - 1e-9);
  size_t i = 0;
  while (static_cast<double>(counts.accepted[i]) < needed) ++i;
  return ChoiceAtBlock(*tie, counts, i);
}

absl::StatusOr<ThresholdChoice> CoverageAtRisk(absl::Span<const double> scores,
                                               absl::Span<const bool> correct,
                                               double risk) {
  if (!(risk >= 0 && risk <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("selective risk ", risk, " must be in [0, 1]"));
  }
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();

  // Risk is not monotone in coverage, so every threshold is checked.
  const CumulativeCounts counts = Accumulate(*tie);
  std::optional<size_t> best;
  for (size_t i = 0; i < tie->blocks.size(); ++i) {
    const double block_risk =
        static_cast<double>(counts.errors[i]) / counts.accepted[i];
    if (block_risk <= risk) best = i;
  }
  if (!best.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no threshold reaches a selective risk of at most ", risk,
        "; the lowest risk on these ", tie->num_samples, " samples is ",
        static_cast<double>(counts.errors[0]) / counts.accepted[0],
        " at the highest threshold"));
  }
  return ChoiceAtBlock(*tie, counts, *best);
}

absl::StatusOr<ThresholdChoice> GuaranteedRiskThreshold(
    absl::Span<const double> scores, absl::Span<const bool> correct,
    double target_risk, double delta) {
  if (!(target_risk > 0 && target_risk < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target risk ", target_risk, " must be in (0, 1)"));
  }
  if (!(delta > 0 && delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("delta ", delta, " must be in (0, 1)"));
  }
  absl::StatusOr<TieBlocks> tie = SortIntoTieBlocks(scores, correct);
  if (!tie.ok()) return tie.status();

  // Bisection over block indices, assuming the bound grows with coverage:
  // `passed` is the last index whose bound met the target, `failed` the
  // first that did not. Each test spends delta / tests of the error budget,
  // so at most `tests` thresholds may be tested.
  // NOTE: when the number of distinct scores is a power of two equal to n,
  // the search can stop one step short of resolving the last index.
  const CumulativeCounts counts = Accumulate(*tie);
  const int tests = NumBisectionTests(tie->num_samples);
  const double delta_per_test = delta / tests;
  int64_t passed = -1;
  int64_t failed = static_cast<int64_t>(tie->blocks.size());
  double passed_bound = 1;
  double lowest_bound = 1;
  for (int t = 0; t < tests && failed - passed > 1; ++t) {
    const int64_t middle = passed + (failed - passed) / 2;
    const double bound = ClopperPearsonUpper(
        counts.errors[middle], counts.accepted[middle], delta_per_test);
    lowest_bound = std::min(lowest_bound, bound);
    if (bound <= target_risk) {
      passed = middle;
      passed_bound = bound;
    } else {
      failed = middle;
    }
  }

  if (passed < 0) {
    return absl::NotFoundError(absl::StrCat(
        "no threshold guarantees a selective risk of ", target_risk,
        " with probability ", 1 - delta, " on ", tie->num_samples,
        " samples; the lowest upper bound among the tested thresholds is ",
        lowest_bound, ". Raise the target risk or delta, or add samples"));
  }
  ThresholdChoice choice = ChoiceAtBlock(*tie, counts, passed);
  choice.risk_upper_bound = passed_bound;
  return choice;
}

double ClopperPearsonUpper(int64_t errors, int64_t trials, double delta) {
  if (errors < 0 || trials < 0 || errors > trials || !(delta > 0) ||
      !(delta < 1)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (trials == 0 || errors == trials) return 1;
  const double n = static_cast<double>(trials);
  if (errors == 0) return 1 - std::pow(delta, 1 / n);

  // The bound p solves P(Binomial(n, p) <= errors) = delta, that is
  // I_p(errors + 1, n - errors) = 1 - delta, and I_p grows with p.
  const double a = static_cast<double>(errors) + 1;
  const double b = n - static_cast<double>(errors);
  double low = 0;
  double high = 1;
  for (int step = 0; step < 200 && high - low > 1e-15; ++step) {
    const double middle = 0.5 * (low + high);
    if (RegularizedIncompleteBeta(a, b, middle) < 1 - delta) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return high;
}

}  // namespace rat
