// The paper's evaluation protocol: per repeat a seeded random split of the
// labelled images into validation and test parts, score parameters tuned on
// validation by lowest AURC over fixed grids, metrics on test.
#ifndef RAT_CLIENT_PAPER_PROTOCOL_H_
#define RAT_CLIENT_PAPER_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/bench_runner.h"
#include "client/image_set.h"
#include "client/inference_client.h"
#include "client/report/report.h"
#include "core/metrics/metrics.h"

namespace rat::client {

// Temperatures tried for ODIN, RR-Fast, RR-BS, DOCTOR and energy:
// {0.2, 0.4, ..., 3, 100, 1000}.
const std::vector<double>& PaperTemperatureGrid();
// ODIN input perturbations tried, pixel units: {0, 5e-5, ..., 1e-3}.
const std::vector<double>& PaperOdinEpsilonGrid();

struct SplitIndices {
  std::vector<int64_t> validation;
  std::vector<int64_t> test;
};

// Shuffles 0..num_images-1 with a generator seeded by (seed, repeat) and
// takes the first round(validation_fraction * num_images) as validation.
// The same arguments give the same split on every platform. INVALID_ARGUMENT
// unless 0 < validation_fraction < 1 and both parts are non-empty.
absl::StatusOr<SplitIndices> RandomSplit(int64_t num_images,
                                         double validation_fraction,
                                         uint64_t seed, int repeat);

struct ProtocolOptions {
  int repeats = 3;
  double validation_fraction = 0.2;
  uint64_t seed = 0;
  // Tune rr_bs_temperature over the temperature grid too; otherwise RR-BS
  // uses T = 1, because every grid point costs a bisection pass.
  bool tune_rr_bs = false;
  // ODIN: search T at eps = 0 first, then eps at the chosen T (15 + 12
  // passes instead of 15 x 12), which may miss the grid's best pair.
  bool staged_odin_search = false;
  std::vector<double> temperatures = PaperTemperatureGrid();
  std::vector<double> odin_epsilons = PaperOdinEpsilonGrid();
  // Model, scores, batching and concurrency of every pass; its
  // score_options and on_progress are replaced per pass.
  RunOptions run;
  // Called with a stage name ("tuning", "test"), images done and total.
  std::function<void(const std::string& stage, int64_t done, int64_t total)>
      on_progress;
};

// One score's results over the repeats.
struct ScoreOutcome {
  std::string score;
  // Per repeat: tuned parameters as text ("T=1.5 eps=0.0002", "-" when the
  // score has none) and metrics on the test part.
  std::vector<std::string> tuned_parameters;
  std::vector<MisdMetrics> test_metrics;
  // Values on the test part of the first repeat, in the order of
  // ProtocolResult::first_test_indices.
  std::vector<double> first_repeat_values;
};

struct ProtocolResult {
  std::vector<ScoreOutcome> scores;
  // Test accuracy per repeat.
  std::vector<double> accuracy;
  // Test images of the first repeat that every score could be computed for.
  std::vector<int64_t> first_test_indices;
  std::vector<int64_t> first_test_predictions;
  int64_t passes = 0;
  int64_t requests_ok = 0;
  int64_t requests_failed = 0;
  int64_t images_failed = 0;
  std::string first_error;
};

// Runs the protocol. Score values of one grid point are computed once per
// image and shared between repeats, and the scores whose parameters are a
// temperature ride on the same pass as ODIN with epsilon 0, so the cost is
// one pass over the union of validation parts per (T, eps) grid point plus
// the test parts at the chosen points. Failed requests are counted in the
// result and their images left out of the metrics. INVALID_ARGUMENT for bad
// options; FAILED_PRECONDITION when a test part has no usable image.
absl::StatusOr<ProtocolResult> RunPaperProtocol(InferenceClient& client,
                                                const ImageSet& images,
                                                const ProtocolOptions& options);

// Mean and population standard deviation (0 for one value).
MeanStd Summarize(const std::vector<double>& values);

}  // namespace rat::client

#endif  // RAT_CLIENT_PAPER_PROTOCOL_H_
