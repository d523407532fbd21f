// Slow reference implementations written straight from the metric
// definitions, used to check the O(n log n) versions on small inputs.
#ifndef RAT_TESTS_METRICS_BRUTE_FORCE_H_
#define RAT_TESTS_METRICS_BRUTE_FORCE_H_

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

#include "absl/types/span.h"

namespace rat::testing {

// Contiguous bool storage: absl::Span<const bool> cannot view the packed
// bits of a std::vector<bool>.
class BoolArray {
 public:
  explicit BoolArray(size_t size) : data_(new bool[size]()), size_(size) {}
  BoolArray(std::initializer_list<int> values) : BoolArray(values.size()) {
    size_t i = 0;
    for (int value : values) data_[i++] = value != 0;
  }

  bool& operator[](size_t i) { return data_[i]; }
  absl::Span<const bool> span() const {
    return absl::MakeConstSpan(data_.get(), size_);
  }

 private:
  std::unique_ptr<bool[]> data_;
  size_t size_;
};

struct Samples {
  std::vector<double> scores;
  std::vector<bool> correct_vector;
  BoolArray correct = BoolArray(0);
};

// Scores drawn from four levels so that ties are common; about 60% correct.
inline Samples RandomSamples(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> level(0, 3);
  std::bernoulli_distribution is_correct(0.6);
  Samples samples;
  samples.scores.resize(n);
  samples.correct_vector.resize(n);
  samples.correct = BoolArray(n);
  for (int i = 0; i < n; ++i) {
    samples.scores[i] = 0.25 * level(rng);
    samples.correct[i] = is_correct(rng);
    samples.correct_vector[i] = samples.correct[i];
  }
  return samples;
}

// Plain AURC of one fixed order (no tie handling).
inline double AurcOfOrder(const std::vector<int>& order,
                          const std::vector<bool>& correct) {
  double risk_sum = 0;
  int errors = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    if (!correct[order[k]]) ++errors;
    risk_sum += static_cast<double>(errors) / static_cast<double>(k + 1);
  }
  return risk_sum / static_cast<double>(order.size());
}

// Average AURC over every order that sorts the scores descending, which
// is the expectation under a uniformly random order inside each tie block.
inline double AurcOverAllTieOrders(const std::vector<double>& scores,
                                   const std::vector<bool>& correct) {
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  double total = 0;
  int64_t orders = 0;
  do {
    bool descending = true;
    for (size_t k = 1; k < order.size(); ++k) {
      if (scores[order[k - 1]] < scores[order[k]]) descending = false;
    }
    if (!descending) continue;
    total += AurcOfOrder(order, correct);
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  return total / static_cast<double>(orders);
}

inline std::optional<double> AurocByPairs(const std::vector<double>& scores,
                                          const std::vector<bool>& correct) {
  double concordant = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!correct[i]) continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (correct[j]) continue;
      ++pairs;
      if (scores[i] > scores[j]) concordant += 1;
      if (scores[i] == scores[j]) concordant += 0.5;
    }
  }
  if (pairs == 0) return std::nullopt;
  return concordant / static_cast<double>(pairs);
}

// Sweeps thresholds t from low to high, flagging scores <= t.
inline std::optional<double> FprAt95TprBySweep(
    const std::vector<double>& scores, const std::vector<bool>& correct) {
  const auto errors = std::count(correct.begin(), correct.end(), false);
  const auto num_correct = static_cast<int64_t>(correct.size()) - errors;
  if (errors == 0 || num_correct == 0) return std::nullopt;

  std::vector<double> thresholds = scores;
  std::sort(thresholds.begin(), thresholds.end());
  for (double t : thresholds) {
    int64_t flagged_errors = 0;
    int64_t flagged_correct = 0;
    for (size_t i = 0; i < scores.size(); ++i) {
      if (scores[i] > t) continue;
      if (correct[i]) {
        ++flagged_correct;
      } else {
        ++flagged_errors;
      }
    }
    if (flagged_errors * 100 >= errors * 95) {
      return static_cast<double>(flagged_correct) / num_correct;
    }
  }
  return 1.0;
}

// Average precision sum_t (R_t - R_{t-1}) P_t over distinct thresholds.
// Positives are errors flagged by score <= t, or correct samples accepted by
// score >= t when `errors_positive` is false.
inline std::optional<double> AveragePrecisionBySweep(
    const std::vector<double>& scores, const std::vector<bool>& correct,
    bool errors_positive) {
  std::vector<double> thresholds = scores;
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()),
                   thresholds.end());
  if (!errors_positive) std::reverse(thresholds.begin(), thresholds.end());

  int64_t positives = 0;
  for (bool c : correct) positives += (c != errors_positive) ? 1 : 0;
  if (positives == 0 || positives == static_cast<int64_t>(correct.size())) {
    return std::nullopt;
  }
  double average_precision = 0;
  double previous_recall = 0;
  for (double t : thresholds) {
    int64_t flagged = 0;
    int64_t true_positives = 0;
    for (size_t i = 0; i < scores.size(); ++i) {
      const bool selected = errors_positive ? scores[i] <= t : scores[i] >= t;
      if (!selected) continue;
      ++flagged;
      if (correct[i] != errors_positive) ++true_positives;
    }
    const double recall = static_cast<double>(true_positives) / positives;
    const double precision = static_cast<double>(true_positives) / flagged;
    average_precision += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return average_precision;
}

}  // namespace rat::testing

#endif  // RAT_TESTS_METRICS_BRUTE_FORCE_H_
