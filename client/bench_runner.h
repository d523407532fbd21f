// Streams images to rat-server with several asynchronous Predict calls in
// flight and collects labels, scores, decisions and per-request latency.
#ifndef RAT_CLIENT_BENCH_RUNNER_H_
#define RAT_CLIENT_BENCH_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/image_set.h"
#include "client/inference_client.h"
#include "rat/v1/inference.pb.h"

namespace rat::client {

struct RunOptions {
  std::string model;
  // Scores to request; every response must contain all of them.
  std::vector<rat::v1::ScoreType> scores;
  // Per-request score parameters (temperatures, ODIN epsilon).
  rat::v1::ScoreOptions score_options;
  // Images per Predict request.
  int batch_size = 64;
  // Predict calls in flight at once.
  int concurrency = 4;
  // Called after every finished request with images done so far (ok or
  // failed) and the total; may be empty.
  std::function<void(int64_t done, int64_t total)> on_progress;
};

// Results in the order of the requested indices.
struct RunResult {
  // Predicted label per image; -1 where its request failed.
  std::vector<int64_t> predictions;
  // scores[s][i]: value of RunOptions::scores[s] for image i (NaN on failure).
  std::vector<std::vector<double>> scores;
  // Server decision per image: 1 accepted, 0 rejected, -1 unknown/failed.
  std::vector<int8_t> accepted;
  // Score and threshold of the server's decisions (the first seen);
  // SCORE_TYPE_UNSPECIFIED when the responses carried none.
  rat::v1::ScoreType decision_score = rat::v1::SCORE_TYPE_UNSPECIFIED;
  double decision_threshold = 0;
  // Wall time of each successful request (milliseconds).
  std::vector<double> latencies_ms;
  int64_t requests_ok = 0;
  int64_t requests_failed = 0;
  int64_t images_failed = 0;
  // Message of the first failed request, empty when none failed.
  std::string first_error;
  double wall_seconds = 0;
};

// Sends images[indices] in requests of options.batch_size. A failed request
// marks its images as failed and the run goes on. Errors: INVALID_ARGUMENT
// for a non-positive batch size or concurrency, or an index out of range.
absl::StatusOr<RunResult> RunPredictions(InferenceClient& client,
                                         const ImageSet& images,
                                         absl::Span<const int64_t> indices,
                                         const RunOptions& options);

// Checks that `model` exists on the server and takes images of this shape;
// INVALID_ARGUMENT naming both shapes otherwise, or the GetModel error.
absl::Status CheckModelInput(InferenceClient& client, const std::string& model,
                             const ImageSet& images);

// Latency percentile (q in [0, 1]) by nearest rank; 0 for no samples.
double Percentile(std::vector<double> values, double q);

}  // namespace rat::client

#endif  // RAT_CLIENT_BENCH_RUNNER_H_
