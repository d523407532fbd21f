// Dynamic batching of one model's Predict requests on a worker thread.
#ifndef RAT_SERVER_BATCHER_H_
#define RAT_SERVER_BATCHER_H_

#include <torch/script.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/scores/score_engine.h"
#include "server/config.h"
#include "server/server_metrics.h"
#include "server/validation.h"

namespace rat::server {

// Scores of one request's images, sliced out of its batch (CPU tensors).
struct ItemResult {
  // n x K float32.
  torch::Tensor logits;
  // n int64.
  torch::Tensor predictions;
  // One n-element float64 tensor per computed score.
  std::map<ScoreKind, torch::Tensor> scores;
};

// One validated request waiting for its batch.
struct WorkItem {
  std::vector<ImageSource> images;
  // Scores to compute and their parameters. Only requests with equal
  // parameters share a batch, so an image's scores never depend on its
  // neighbours' options.
  ScoreRequest score_request;
  std::chrono::steady_clock::time_point enqueued_at;
  // The client's deadline; time_point::max() when it set none.
  std::chrono::system_clock::time_point deadline =
      std::chrono::system_clock::time_point::max();
  // Set by the RPC layer when the client cancels; the worker then skips it.
  std::shared_ptr<std::atomic<bool>> cancelled;
  // Called exactly once on the worker thread, unless Enqueue returns an
  // error.
  std::function<void(absl::StatusOr<ItemResult>)> done;
};

// The model a Batcher computes with. The module is used only by the
// batcher's worker thread.
struct BatcherModel {
  std::string name;
  torch::jit::Module* module = nullptr;
  InputShape shape;
  torch::Device device = torch::kCPU;
};

// Merges queued requests into batches of up to max_batch_size images,
// waiting at most max_queue_delay_us after the oldest request arrived, and
// scores them with rat::ScoreEngine on one worker thread. Thread-safe.
class Batcher {
 public:
  Batcher(BatcherModel model, BatchingConfig config, ModelMetrics metrics);
  ~Batcher();

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `item`. RESOURCE_EXHAUSTED when max_queue_size requests wait,
  // UNAVAILABLE after Stop(); `item.done` is not called in those cases.
  absl::Status Enqueue(WorkItem item);

  // Computes what is queued, then ends the worker. Items still queued when
  // the worker ends get UNAVAILABLE. Idempotent.
  void Stop();

 private:
  void Run();
  // Waits for the batching window of the oldest item, then removes the next
  // batch from the queue. Expired or cancelled items go to `dropped`.
  // Returns false once stopped with nothing left.
  bool NextBatch(std::vector<WorkItem>& batch, std::vector<WorkItem>& dropped);
  // Images queued with the same score parameters as the oldest request.
  int64_t MatchingImages() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  bool BatchFullOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Compute(std::vector<WorkItem>& batch);
  absl::StatusOr<ScoreResult> ScoreInChunks(const torch::Tensor& images,
                                            const ScoreRequest& request);

  const BatcherModel model_;
  const BatchingConfig config_;
  const ModelMetrics metrics_;

  mutable absl::Mutex mutex_;
  std::deque<WorkItem> queue_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread worker_;
};

// True when two requests' score parameters are identical. Compares every
// field of rat::ScoreParams, so a new field must be added here too.
bool SameScoreParams(const ScoreParams& a, const ScoreParams& b);

}  // namespace rat::server

#endif  // RAT_SERVER_BATCHER_H_
