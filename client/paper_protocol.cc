#include "client/paper_protocol.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/score_names.h"
#include "core/common/status_macros.h"

namespace rat::client {
namespace {

using rat::v1::ScoreType;

// A pass over images: ODIN at (temperature, epsilon), and for epsilon 0 the
// temperature-only scores at the same temperature.
using PassKey = std::pair<double, double>;

struct Candidate {
  PassKey pass;
  std::string parameters;
};

// SplitMix64 (Steele, Lea and Flood, 2014): fixed output for a seed on every
// platform, unlike the distributions of <random>.
uint64_t NextRandom(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Uniform in [0, bound) by rejection, so no value is favoured.
uint64_t UniformBelow(uint64_t bound, uint64_t& state) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t value = NextRandom(state);
  while (value >= limit) value = NextRandom(state);
  return value % bound;
}

bool IsTemperatureOnly(ScoreType type) {
  return type == rat::v1::SCORE_TYPE_RR_FAST ||
         type == rat::v1::SCORE_TYPE_DOCTOR ||
         type == rat::v1::SCORE_TYPE_ENERGY;
}

std::vector<Candidate> CandidatesFor(ScoreType type,
                                     const ProtocolOptions& options) {
  std::vector<Candidate> candidates;
  if (type == rat::v1::SCORE_TYPE_ODIN && options.staged_odin_search) {
    // First stage only: T at eps = 0; the eps stage follows per repeat.
    for (double t : options.temperatures) {
      candidates.push_back({{t, 0.0}, absl::StrFormat("T=%g eps=0", t)});
    }
  } else if (type == rat::v1::SCORE_TYPE_ODIN) {
    for (double t : options.temperatures) {
      for (double eps : options.odin_epsilons) {
        candidates.push_back(
            {{t, eps}, absl::StrFormat("T=%g eps=%g", t, eps)});
      }
    }
  } else if (IsTemperatureOnly(type) ||
             (type == rat::v1::SCORE_TYPE_RR_BS && options.tune_rr_bs)) {
    for (double t : options.temperatures) {
      candidates.push_back({{t, 0.0}, absl::StrFormat("T=%g", t)});
    }
  } else if (type == rat::v1::SCORE_TYPE_RR_BS) {
    candidates.push_back({{1.0, 0.0}, "T=1"});
  } else {
    // MSR and the logit scores have no parameter to tune.
    candidates.push_back({{1.0, 0.0}, "-"});
  }
  return candidates;
}

rat::v1::ScoreOptions OptionsFor(const PassKey& pass) {
  rat::v1::ScoreOptions options;
  options.set_odin_temperature(pass.first);
  options.set_odin_epsilon(pass.second);
  options.set_rr_fast_temperature(pass.first);
  options.set_rr_bs_temperature(pass.first);
  options.set_doctor_temperature(pass.first);
  options.set_energy_temperature(pass.first);
  return options;
}

// Score values per pass and image, computed on demand and kept for reuse
// across repeats. Not thread-safe.
class PassCache {
 public:
  PassCache(InferenceClient& client, const ImageSet& images,
            const ProtocolOptions& options, ProtocolResult& totals)
      : client_(client),
        images_(images),
        options_(options),
        totals_(totals),
        predictions_(images.size(), -1) {}

  void AddScore(const PassKey& pass, ScoreType type) {
    Entry& entry = entries_[pass];
    if (std::find(entry.scores.begin(), entry.scores.end(), type) !=
        entry.scores.end()) {
      return;
    }
    entry.scores.push_back(type);
  }

  const std::map<PassKey, std::vector<ScoreType>> Passes() const {
    std::map<PassKey, std::vector<ScoreType>> passes;
    for (const auto& [key, entry] : entries_) passes[key] = entry.scores;
    return passes;
  }

  // Images of `indices` this pass has not computed yet.
  std::vector<int64_t> Missing(const PassKey& pass,
                               const std::vector<int64_t>& indices) const {
    const Entry& entry = entries_.at(pass);
    std::vector<int64_t> missing;
    for (int64_t index : indices) {
      if (entry.computed.empty() || !entry.computed[index])
        missing.push_back(index);
    }
    return missing;
  }

  absl::Status Compute(const PassKey& pass, const std::vector<int64_t>& indices,
                       const std::function<void(int64_t)>& on_images_done);

  // NaN when the image failed or the pass does not compute `type`.
  double Value(const PassKey& pass, ScoreType type, int64_t index) const;
  int64_t Prediction(int64_t index) const { return predictions_[index]; }

 private:
  struct Entry {
    std::vector<ScoreType> scores;
    std::vector<std::vector<double>> values;  // [score][image]
    std::vector<char> computed;               // [image]
  };

  InferenceClient& client_;
  const ImageSet& images_;
  const ProtocolOptions& options_;
  ProtocolResult& totals_;
  std::vector<int64_t> predictions_;
  std::map<PassKey, Entry> entries_;
};

absl::Status PassCache::Compute(
    const PassKey& pass, const std::vector<int64_t>& indices,
    const std::function<void(int64_t)>& on_images_done) {
  Entry& entry = entries_.at(pass);
  const std::vector<int64_t> missing = Missing(pass, indices);
  if (missing.empty()) return absl::OkStatus();
  if (entry.computed.empty()) {
    entry.computed.assign(images_.size(), 0);
    entry.values.assign(entry.scores.size(),
                        std::vector<double>(images_.size(), std::nan("")));
  }

  RunOptions run = options_.run;
  run.scores = entry.scores;
  run.score_options = OptionsFor(pass);
  run.on_progress = [&on_images_done](int64_t done, int64_t) {
    if (on_images_done) on_images_done(done);
  };
  RAT_ASSIGN_OR_RETURN(RunResult result,
                       RunPredictions(client_, images_, missing, run));

  for (size_t k = 0; k < missing.size(); ++k) {
    const int64_t index = missing[k];
    entry.computed[index] = 1;
    if (result.predictions[k] < 0) continue;
    predictions_[index] = result.predictions[k];
    for (size_t s = 0; s < entry.scores.size(); ++s) {
      entry.values[s][index] = result.scores[s][k];
    }
  }

  ++totals_.passes;
  totals_.requests_ok += result.requests_ok;
  totals_.requests_failed += result.requests_failed;
  totals_.images_failed += result.images_failed;
  if (totals_.first_error.empty()) totals_.first_error = result.first_error;
  return absl::OkStatus();
}

double PassCache::Value(const PassKey& pass, ScoreType type,
                        int64_t index) const {
  const Entry& entry = entries_.at(pass);
  const auto found = std::find(entry.scores.begin(), entry.scores.end(), type);
  if (found == entry.scores.end() || entry.computed.empty())
    return std::nan("");
  return entry.values[found - entry.scores.begin()][index];
}

// Gathers finite values and correctness flags of `indices` for one score.
void Gather(const PassCache& cache, const PassKey& pass, ScoreType type,
            const ImageSet& images, const std::vector<int64_t>& indices,
            std::vector<double>& values, std::vector<bool>& correct) {
  values.clear();
  correct.clear();
  for (int64_t index : indices) {
    const double value = cache.Value(pass, type, index);
    const int64_t prediction = cache.Prediction(index);
    if (prediction < 0 || !std::isfinite(value)) continue;
    values.push_back(value);
    correct.push_back(prediction == images.labels[index]);
  }
}

absl::Status ValidateOptions(const ProtocolOptions& options) {
  if (options.repeats < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("repeats must be at least 1, got ", options.repeats));
  }
  if (options.run.scores.empty()) {
    return absl::InvalidArgumentError(
        "the paper protocol needs an explicit score list, e.g. --scores "
        "msr,odin,rr_fast");
  }
  if (options.temperatures.empty() || options.odin_epsilons.empty()) {
    return absl::InvalidArgumentError("the tuning grids must not be empty");
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

struct Choice {
  PassKey pass;
  std::string parameters;
};

// Picks the candidate with the lowest AURC on `validation`; the earlier grid
// point wins a tie.
absl::StatusOr<Choice> TuneScore(const PassCache& cache, ScoreType type,
                                 const std::vector<Candidate>& candidates,
                                 const ImageSet& images,
                                 const std::vector<int64_t>& validation) {
  std::optional<Choice> best;
  double best_aurc = 0;
  std::vector<double> values;
  std::vector<bool> correct;
  for (const Candidate& candidate : candidates) {
    Gather(cache, candidate.pass, type, images, validation, values, correct);
    if (values.empty()) continue;
    RAT_ASSIGN_OR_RETURN(const double aurc, Aurc(values, correct));
    if (!best.has_value() || aurc < best_aurc) {
      best = Choice{candidate.pass, candidate.parameters};
      best_aurc = aurc;
    }
  }
  if (!best.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no validation image could be scored with ",
                     ScoreTypeName(type), "; every request failed"));
  }
  return *best;
}

// Runs every pass of `needed` on its images, reporting progress as one
// stage.
absl::Status ComputeStage(PassCache& cache, const std::string& stage,
                          const std::map<PassKey, std::vector<int64_t>>& needed,
                          const ProtocolOptions& options) {
  int64_t total = 0;
  for (const auto& [pass, indices] : needed) {
    total += static_cast<int64_t>(cache.Missing(pass, indices).size());
  }

  int64_t finished = 0;
  for (const auto& [pass, indices] : needed) {
    const int64_t count =
        static_cast<int64_t>(cache.Missing(pass, indices).size());
    RAT_RETURN_IF_ERROR(cache.Compute(pass, indices, [&](int64_t done) {
      if (options.on_progress)
        options.on_progress(stage, finished + done, total);
    }));
    finished += count;
  }
  return absl::OkStatus();
}

// Metrics of one repeat on the test images that every score has a value for.
absl::Status EvaluateRepeat(const PassCache& cache, const ImageSet& images,
                            const std::vector<int64_t>& test,
                            const std::vector<ScoreType>& types,
                            const std::vector<Choice>& choices, bool first,
                            ProtocolResult& result) {
  std::vector<int64_t> usable;
  for (int64_t index : test) {
    bool ok = cache.Prediction(index) >= 0;
    for (size_t s = 0; s < types.size() && ok; ++s) {
      ok = std::isfinite(cache.Value(choices[s].pass, types[s], index));
    }
    if (ok) usable.push_back(index);
  }
  if (usable.empty()) {
    return absl::FailedPreconditionError(
        "no test image has every score; every request failed");
  }

  std::vector<bool> correct;
  for (int64_t index : usable) {
    correct.push_back(cache.Prediction(index) == images.labels[index]);
  }
  RAT_ASSIGN_OR_RETURN(const double accuracy, Accuracy(correct));
  result.accuracy.push_back(accuracy);

  for (size_t s = 0; s < types.size(); ++s) {
    std::vector<double> values;
    for (int64_t index : usable) {
      values.push_back(cache.Value(choices[s].pass, types[s], index));
    }
    RAT_ASSIGN_OR_RETURN(MisdMetrics metrics,
                         ComputeMisdMetrics(values, correct));
    ScoreOutcome& outcome = result.scores[s];
    outcome.tuned_parameters.push_back(choices[s].parameters);
    outcome.test_metrics.push_back(metrics);
    if (first) outcome.first_repeat_values = std::move(values);
  }

  if (first) {
    result.first_test_indices = usable;
    for (int64_t index : usable) {
      result.first_test_predictions.push_back(cache.Prediction(index));
    }
  }
  return absl::OkStatus();
}

// Second stage of the staged ODIN search: every eps at the temperature the
// first stage chose, on one repeat's validation part.
absl::StatusOr<Choice> TuneOdinEpsilon(PassCache& cache, double temperature,
                                       const ImageSet& images,
                                       const std::vector<int64_t>& validation,
                                       const ProtocolOptions& options) {
  std::vector<Candidate> candidates;
  std::map<PassKey, std::vector<int64_t>> needed;
  for (double eps : options.odin_epsilons) {
    const PassKey pass{temperature, eps};
    candidates.push_back(
        {pass, absl::StrFormat("T=%g eps=%g", temperature, eps)});
    cache.AddScore(pass, rat::v1::SCORE_TYPE_ODIN);
    needed[pass] = validation;
  }
  RAT_RETURN_IF_ERROR(ComputeStage(cache, "tuning eps", needed, options));
  return TuneScore(cache, rat::v1::SCORE_TYPE_ODIN, candidates, images,
                   validation);
}

}  // namespace

const std::vector<double>& PaperTemperatureGrid() {
  static const auto* const kGrid = new std::vector<double>{
      0.2, 0.4, 0.6, 0.8, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 2, 2.5, 3, 100, 1000};
  return *kGrid;
}

const std::vector<double>& PaperOdinEpsilonGrid() {
  static const auto* const kGrid =
      new std::vector<double>{0,    5e-5,   1e-4, 1.5e-4, 2e-4, 2.5e-4,
                              3e-4, 3.5e-4, 4e-4, 6e-4,   8e-4, 1e-3};
  return *kGrid;
}

absl::StatusOr<SplitIndices> RandomSplit(int64_t num_images,
                                         double validation_fraction,
                                         uint64_t seed, int repeat) {
  if (!(validation_fraction > 0 && validation_fraction < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "validation fraction must be in (0, 1), got ", validation_fraction));
  }
  const int64_t validation_size =
      std::llround(validation_fraction * static_cast<double>(num_images));
  if (validation_size < 1 || validation_size >= num_images) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a validation fraction of ", validation_fraction, " of ", num_images,
        " images leaves an empty validation or test part; use more images"));
  }

  std::vector<int64_t> order(num_images);
  for (int64_t i = 0; i < num_images; ++i) order[i] = i;
  uint64_t state =
      seed ^ (0xD1B54A32D192ED03ULL * static_cast<uint64_t>(repeat + 1));
  for (int64_t i = num_images - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(UniformBelow(i + 1, state));
    std::swap(order[i], order[j]);
  }

  SplitIndices split;
  split.validation.assign(order.begin(), order.begin() + validation_size);
  split.test.assign(order.begin() + validation_size, order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

absl::StatusOr<ProtocolResult> RunPaperProtocol(
    InferenceClient& client, const ImageSet& images,
    const ProtocolOptions& options) {
  RAT_RETURN_IF_ERROR(ValidateOptions(options));
  std::vector<SplitIndices> splits;
  std::set<int64_t> all_validation;
  for (int r = 0; r < options.repeats; ++r) {
    RAT_ASSIGN_OR_RETURN(SplitIndices split,
                         RandomSplit(images.size(), options.validation_fraction,
                                     options.seed, r));
    all_validation.insert(split.validation.begin(), split.validation.end());
    splits.push_back(std::move(split));
  }

  ProtocolResult result;
  PassCache cache(client, images, options, result);
  const std::vector<ScoreType>& types = options.run.scores;
  std::vector<std::vector<Candidate>> candidates;
  for (ScoreType type : types) {
    candidates.push_back(CandidatesFor(type, options));
    for (const Candidate& c : candidates.back()) cache.AddScore(c.pass, type);
    result.scores.push_back(ScoreOutcome{ScoreTypeName(type), {}, {}, {}});
  }

  // Tuning: every pass over the union of the validation parts at once.
  const std::vector<int64_t> validation(all_validation.begin(),
                                        all_validation.end());
  std::map<PassKey, std::vector<int64_t>> needed;
  for (const auto& entry : cache.Passes()) needed[entry.first] = validation;
  RAT_RETURN_IF_ERROR(ComputeStage(cache, "tuning", needed, options));

  std::vector<std::vector<Choice>> choices(options.repeats);
  std::map<PassKey, std::set<int64_t>> test_needed;
  for (int r = 0; r < options.repeats; ++r) {
    for (size_t s = 0; s < types.size(); ++s) {
      RAT_ASSIGN_OR_RETURN(Choice choice,
                           TuneScore(cache, types[s], candidates[s], images,
                                     splits[r].validation));
      if (types[s] == rat::v1::SCORE_TYPE_ODIN && options.staged_odin_search) {
        RAT_ASSIGN_OR_RETURN(choice,
                             TuneOdinEpsilon(cache, choice.pass.first, images,
                                             splits[r].validation, options));
      }
      test_needed[choice.pass].insert(splits[r].test.begin(),
                                      splits[r].test.end());
      choices[r].push_back(std::move(choice));
    }
  }

  needed.clear();
  for (const auto& [pass, indices] : test_needed) {
    needed[pass].assign(indices.begin(), indices.end());
  }
  RAT_RETURN_IF_ERROR(ComputeStage(cache, "test", needed, options));

  for (int r = 0; r < options.repeats; ++r) {
    RAT_RETURN_IF_ERROR(EvaluateRepeat(cache, images, splits[r].test, types,
                                       choices[r], r == 0, result));
  }
  return result;
}

MeanStd Summarize(const std::vector<double>& values) {
  MeanStd summary;
  if (values.empty()) return summary;
  double sum = 0;
  for (double v : values) sum += v;
  summary.mean = sum / static_cast<double>(values.size());
  double squares = 0;
  for (double v : values) squares += (v - summary.mean) * (v - summary.mean);
  summary.std = std::sqrt(squares / static_cast<double>(values.size()));
  return summary;
}

}  // namespace rat::client
