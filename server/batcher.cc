#include "server/batcher.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/common/torch_status.h"
#include "spdlog/spdlog.h"

namespace rat::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

bool IsDropped(const WorkItem& item,
               std::chrono::system_clock::time_point now) {
  return (item.cancelled && item.cancelled->load()) || item.deadline <= now;
}

auto ParamsTuple(const ScoreParams& p) {
  return std::tie(p.odin_temperature, p.odin_epsilon, p.rr_fast_temperature,
                  p.rr_fast_step, p.rr_fast_max_radius, p.rr_bs_temperature,
                  p.rr_bs_initial_epsilon, p.rr_bs_max_iterations,
                  p.rr_bs_rel_tol, p.rr_bs_pgd_steps, p.doctor_temperature,
                  p.energy_temperature);
}

}  // namespace

bool SameScoreParams(const ScoreParams& a, const ScoreParams& b) {
  return ParamsTuple(a) == ParamsTuple(b);
}

Batcher::Batcher(BatcherModel model, BatchingConfig config,
                 ModelMetrics metrics)
    : model_(std::move(model)),
      config_(config),
      metrics_(std::move(metrics)),
      worker_([this] { Run(); }) {}

Batcher::~Batcher() { Stop(); }

absl::Status Batcher::Enqueue(WorkItem item) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) {
    return absl::UnavailableError(
        absl::StrCat("model \"", model_.name, "\" is shutting down"));
  }
  if (static_cast<int>(queue_.size()) >= config_.max_queue_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "model \"", model_.name, "\" queue is full (", config_.max_queue_size,
        " requests waiting); retry later or raise batching.max_queue_size"));
  }
  item.enqueued_at = SteadyClock::now();
  queue_.push_back(std::move(item));
  metrics_.queue_depth->Set(static_cast<double>(queue_.size()));
  return absl::OkStatus();
}

void Batcher::Stop() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();

  // The worker drains the queue before it ends, so this only matters if it
  // ended early.
  std::deque<WorkItem> left;
  {
    absl::MutexLock lock(&mutex_);
    left.swap(queue_);
  }
  for (WorkItem& item : left) {
    item.done(absl::UnavailableError(
        absl::StrCat("model \"", model_.name, "\" is shutting down")));
  }
}

void Batcher::Run() {
  std::vector<WorkItem> batch;
  std::vector<WorkItem> dropped;
  while (NextBatch(batch, dropped)) {
    // An expired deadline also cancels the call, so test the deadline first.
    const auto now = std::chrono::system_clock::now();
    for (WorkItem& item : dropped) {
      if (item.deadline <= now) {
        item.done(absl::DeadlineExceededError(absl::StrCat(
            "deadline expired while queued for model \"", model_.name, "\"")));
      } else {
        item.done(absl::CancelledError("the client cancelled the request"));
      }
    }
    if (!batch.empty()) Compute(batch);
    batch.clear();
    dropped.clear();
  }
}

int64_t Batcher::MatchingImages() const {
  if (queue_.empty()) return 0;
  const ScoreParams& head = queue_.front().score_request.params;
  int64_t images = 0;
  for (const WorkItem& item : queue_) {
    if (SameScoreParams(item.score_request.params, head)) {
      images += static_cast<int64_t>(item.images.size());
    }
  }
  return images;
}

bool Batcher::HasWorkOrStopping() const { return stopping_ || !queue_.empty(); }

bool Batcher::BatchFullOrStopping() const {
  return stopping_ || MatchingImages() >= config_.max_batch_size;
}

bool Batcher::NextBatch(std::vector<WorkItem>& batch,
                        std::vector<WorkItem>& dropped) {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(this, &Batcher::HasWorkOrStopping));
  if (queue_.empty()) return false;

  // The batching window: wait until enough matching images are queued or the
  // oldest request has waited max_queue_delay_us. A stopping batcher drains
  // without waiting.
  const auto window_end = queue_.front().enqueued_at +
                          std::chrono::microseconds(config_.max_queue_delay_us);
  const absl::Time deadline =
      absl::Now() + absl::FromChrono(window_end - SteadyClock::now());
  mutex_.AwaitWithDeadline(absl::Condition(this, &Batcher::BatchFullOrStopping),
                           deadline);

  const auto now = std::chrono::system_clock::now();
  const ScoreParams* params = nullptr;
  int64_t images = 0;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (IsDropped(*it, now)) {
      dropped.push_back(std::move(*it));
      it = queue_.erase(it);
      continue;
    }
    const int64_t count = static_cast<int64_t>(it->images.size());
    const bool fits = batch.empty() || images + count <= config_.max_batch_size;
    if (params == nullptr ||
        (SameScoreParams(it->score_request.params, *params) && fits)) {
      images += count;
      metrics_.queue_duration->Observe(SecondsSince(it->enqueued_at));
      batch.push_back(std::move(*it));
      params = &batch.front().score_request.params;
      it = queue_.erase(it);
      if (images >= config_.max_batch_size) break;
      continue;
    }
    ++it;
  }
  metrics_.queue_depth->Set(static_cast<double>(queue_.size()));
  return true;
}

void Batcher::Compute(std::vector<WorkItem>& batch) {
  const auto prepare_start = SteadyClock::now();
  int64_t total = 0;
  std::set<ScoreKind> kinds;
  for (const WorkItem& item : batch) {
    total += static_cast<int64_t>(item.images.size());
    kinds.insert(item.score_request.scores.begin(),
                 item.score_request.scores.end());
  }
  ScoreRequest request;
  request.params = batch.front().score_request.params;
  request.scores.assign(kinds.begin(), kinds.end());

  absl::StatusOr<torch::Tensor> images = CallTorch(
      absl::StrCat("preparing a batch for model \"", model_.name, "\""), [&] {
        torch::Tensor host =
            torch::empty({total, model_.shape.channels, model_.shape.height,
                          model_.shape.width},
                         torch::kFloat32);
        float* data = host.data_ptr<float>();
        const int64_t stride = model_.shape.NumElements();
        int64_t row = 0;
        for (const WorkItem& item : batch) {
          for (const ImageSource& source : item.images) {
            ConvertImage(source, model_.shape, data + row * stride);
            ++row;
          }
        }
        return model_.device.is_cpu() ? host : host.to(model_.device);
      });
  metrics_.prepare_duration->Observe(SecondsSince(prepare_start));

  const auto score_start = SteadyClock::now();
  absl::StatusOr<ScoreResult> result =
      images.ok() ? ScoreInChunks(*images, request)
                  : absl::StatusOr<ScoreResult>(images.status());
  metrics_.score_duration->Observe(SecondsSince(score_start));
  if (!result.ok()) {
    for (WorkItem& item : batch) item.done(result.status());
    return;
  }

  int64_t offset = 0;
  for (WorkItem& item : batch) {
    const int64_t count = static_cast<int64_t>(item.images.size());
    ItemResult slice;
    slice.logits = result->logits.narrow(0, offset, count);
    slice.predictions = result->predictions.narrow(0, offset, count);
    for (const auto& [kind, values] : result->scores) {
      slice.scores[kind] = values.narrow(0, offset, count);
    }
    offset += count;
    item.done(std::move(slice));
  }
}

absl::StatusOr<ScoreResult> Batcher::ScoreInChunks(
    const torch::Tensor& images, const ScoreRequest& request) {
  const int64_t total = images.size(0);
  std::vector<ScoreResult> chunks;
  for (int64_t start = 0; start < total; start += config_.max_batch_size) {
    const int64_t count =
        std::min<int64_t>(config_.max_batch_size, total - start);
    metrics_.batch_size->Observe(static_cast<double>(count));
    absl::StatusOr<ScoreResult> chunk = ScoreEngine::Score(
        *model_.module, images.narrow(0, start, count), request);
    if (!chunk.ok()) {
      return absl::Status(chunk.status().code(),
                          absl::StrCat("model \"", model_.name,
                                       "\": ", chunk.status().message()));
    }
    metrics_.forward_duration->Observe(chunk->forward_seconds);
    metrics_.backward_duration->Observe(chunk->backward_seconds);
    metrics_.extra_duration->Observe(chunk->extra_seconds);
    chunks.push_back(*std::move(chunk));
  }
  if (chunks.size() == 1) return std::move(chunks.front());

  // A request larger than max_batch_size: join its chunks back together.
  return CallTorch("joining batch chunks", [&] {
    ScoreResult joined;
    std::vector<torch::Tensor> logits, predictions;
    for (const ScoreResult& chunk : chunks) {
      logits.push_back(chunk.logits);
      predictions.push_back(chunk.predictions);
    }
    joined.logits = torch::cat(logits);
    joined.predictions = torch::cat(predictions);
    for (const auto& entry : chunks.front().scores) {
      std::vector<torch::Tensor> values;
      for (const ScoreResult& chunk : chunks)
        values.push_back(chunk.scores.at(entry.first));
      joined.scores[entry.first] = torch::cat(values);
    }
    return joined;
  });
}

}  // namespace rat::server
