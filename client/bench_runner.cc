#include "client/bench_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "client/score_names.h"
#include "core/common/status_macros.h"
#include "spdlog/spdlog.h"

namespace rat::client {
namespace {

using Clock = std::chrono::steady_clock;

// One Predict call in flight; its address is the completion-queue tag.
struct Call {
  int64_t first = 0;  // position in `indices` of the first image
  int64_t count = 0;
  grpc::ClientContext context;
  rat::v1::PredictRequest request;
  rat::v1::PredictResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<rat::v1::PredictResponse>>
      reader;
  Clock::time_point start;
};

// Copies one response into `result`; an error when it does not match the
// request (wrong count, missing score).
absl::Status StoreResponse(const Call& call, const RunOptions& options,
                           RunResult& result) {
  const auto& predictions = call.response.predictions();
  if (predictions.size() != call.count) {
    return absl::InternalError(
        absl::StrCat("server returned ", predictions.size(),
                     " predictions for ", call.count, " images"));
  }

  for (int64_t i = 0; i < call.count; ++i) {
    const rat::v1::Prediction& prediction = predictions[i];
    for (size_t s = 0; s < options.scores.size(); ++s) {
      const auto found =
          std::find_if(prediction.scores().begin(), prediction.scores().end(),
                       [&](const rat::v1::ScoreValue& v) {
                         return v.type() == options.scores[s];
                       });
      if (found == prediction.scores().end()) {
        return absl::InternalError(absl::StrCat(
            "server returned no ", ScoreTypeName(options.scores[s]),
            " score; check that the model supports it"));
      }
      result.scores[s][call.first + i] = found->value();
    }
  }

  for (int64_t i = 0; i < call.count; ++i) {
    const rat::v1::Prediction& prediction = predictions[i];
    result.predictions[call.first + i] = prediction.label();
    if (!prediction.has_decision()) continue;
    const rat::v1::Decision& decision = prediction.decision();
    result.accepted[call.first + i] = decision.accepted() ? 1 : 0;
    if (result.decision_score == rat::v1::SCORE_TYPE_UNSPECIFIED) {
      result.decision_score = decision.score();
      result.decision_threshold = decision.threshold();
    }
  }
  return absl::OkStatus();
}

std::unique_ptr<Call> StartCall(InferenceClient& client, const ImageSet& images,
                                absl::Span<const int64_t> indices,
                                int64_t first, const RunOptions& options,
                                grpc::CompletionQueue& queue) {
  auto call = std::make_unique<Call>();
  call->first = first;
  call->count = std::min<int64_t>(options.batch_size,
                                  static_cast<int64_t>(indices.size()) - first);
  call->request.set_model(options.model);
  for (rat::v1::ScoreType score : options.scores)
    call->request.add_scores(score);
  *call->request.mutable_options() = options.score_options;
  call->request.set_top_k(1);
  for (int64_t i = 0; i < call->count; ++i) {
    FillTensorImage(images, indices[first + i], *call->request.add_images());
  }

  client.SetDeadline(call->context);
  call->start = Clock::now();
  call->reader =
      client.stub().PrepareAsyncPredict(&call->context, call->request, &queue);
  call->reader->StartCall();
  call->reader->Finish(&call->response, &call->status, call.get());
  return call;
}

RunResult EmptyResult(size_t count, size_t num_scores) {
  RunResult result;
  result.predictions.assign(count, -1);
  result.accepted.assign(count, -1);
  result.scores.assign(
      num_scores,
      std::vector<double>(count, std::numeric_limits<double>::quiet_NaN()));
  return result;
}

// Records a finished call; failures are counted, never dropped.
void FinishCall(const Call& call, const RunOptions& options,
                const ClientOptions& client_options, RunResult& result) {
  absl::Status status = FromGrpcStatus(call.status, "Predict", client_options);
  if (status.ok()) status = StoreResponse(call, options, result);

  if (status.ok()) {
    ++result.requests_ok;
    const std::chrono::duration<double, std::milli> elapsed =
        Clock::now() - call.start;
    result.latencies_ms.push_back(elapsed.count());
    return;
  }

  ++result.requests_failed;
  result.images_failed += call.count;
  for (int64_t i = 0; i < call.count; ++i) {
    result.predictions[call.first + i] = -1;
    for (auto& values : result.scores) {
      values[call.first + i] = std::numeric_limits<double>::quiet_NaN();
    }
  }
  if (result.first_error.empty())
    result.first_error = std::string(status.message());
  spdlog::debug("request for images {}..{} failed: {}", call.first,
                call.first + call.count - 1, std::string(status.message()));
}

}  // namespace

absl::StatusOr<RunResult> RunPredictions(InferenceClient& client,
                                         const ImageSet& images,
                                         absl::Span<const int64_t> indices,
                                         const RunOptions& options) {
  if (options.batch_size <= 0 || options.concurrency <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch size and concurrency must be positive, got ",
                     options.batch_size, " and ", options.concurrency));
  }
  for (int64_t index : indices) {
    if (index < 0 || index >= images.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image index ", index, " is out of range [0, ", images.size(), ")"));
    }
  }

  RunResult result = EmptyResult(indices.size(), options.scores.size());
  const int64_t total = static_cast<int64_t>(indices.size());
  const Clock::time_point start = Clock::now();
  grpc::CompletionQueue queue;
  int64_t next = 0;
  int64_t done = 0;
  int in_flight = 0;

  // Keep `concurrency` calls in flight; start one more per finished call.
  while (done < total) {
    while (in_flight < options.concurrency && next < total) {
      std::unique_ptr<Call> call =
          StartCall(client, images, indices, next, options, queue);
      next += call->count;
      call.release();  // owned by the queue until Next returns its tag
      ++in_flight;
    }

    void* tag = nullptr;
    bool ok = false;
    if (!queue.Next(&tag, &ok)) break;
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    --in_flight;
    FinishCall(*call, options, client.options(), result);
    done += call->count;
    if (options.on_progress) options.on_progress(done, total);
  }

  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) delete static_cast<Call*>(tag);

  result.wall_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

absl::Status CheckModelInput(InferenceClient& client, const std::string& model,
                             const ImageSet& images) {
  RAT_ASSIGN_OR_RETURN(rat::v1::GetModelResponse response,
                       client.GetModel(model));
  const rat::v1::InputShape& shape = response.summary().input_shape();
  if (shape.channels() == 0) return absl::OkStatus();  // shape not published
  if (shape.channels() != images.channels || shape.height() != images.height ||
      shape.width() != images.width) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model \"", model, "\" expects ", shape.channels(), "x", shape.height(),
        "x", shape.width(), " images, data set ", images.name, " has ",
        images.channels, "x", images.height, "x", images.width));
  }
  return absl::OkStatus();
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(q * static_cast<double>(values.size()));
  const size_t position = static_cast<size_t>(
      std::clamp(rank, 1.0, static_cast<double>(values.size())));
  return values[position - 1];
}

}  // namespace rat::client
