#include "server/inference_service.h"

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/torch_status.h"
#include "server/prediction.h"
#include "spdlog/spdlog.h"

namespace rat::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// Counts and times the call when it finishes, tracks client cancellation,
// and deletes itself once gRPC is done with it.
class PredictReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit PredictReactor(ServerMetrics* metrics)
      : metrics_(metrics),
        started_at_(SteadyClock::now()),
        cancelled_(std::make_shared<std::atomic<bool>>(false)) {}

  // Finishes the RPC; call exactly once. `slot` is null when the request
  // named no configured model.
  void Complete(const ModelSlot* slot, const absl::Status& status) {
    const std::string model = slot == nullptr ? "" : slot->config.name;
    const std::string code = absl::StatusCodeToString(status.code());
    metrics_->CountRequest(model, code);
    if (slot != nullptr) {
      slot->metrics.request_duration->Observe(
          std::chrono::duration<double>(SteadyClock::now() - started_at_)
              .count());
    }
    spdlog::debug("Predict model=\"{}\" code={} {}", model, code,
                  std::string(status.message()));
    Finish(ToGrpcStatus(status));
  }

  std::shared_ptr<std::atomic<bool>> cancelled() const { return cancelled_; }

  void OnCancel() override { cancelled_->store(true); }
  void OnDone() override { delete this; }

 private:
  ServerMetrics* const metrics_;
  const SteadyClock::time_point started_at_;
  const std::shared_ptr<std::atomic<bool>> cancelled_;
};

rat::v1::ModelSummary Summarize(const ModelSlot& slot) {
  rat::v1::ModelSummary summary;
  summary.set_name(slot.config.name);
  summary.set_device(slot.config.device);
  const bool ready = slot.ready.load(std::memory_order_acquire);
  summary.set_ready(ready);
  if (ready) {
    summary.set_architecture(slot.model->card.architecture());
    *summary.mutable_input_shape() = slot.model->card.input_shape();
    summary.set_num_classes(static_cast<int32_t>(slot.model->num_classes));
  }
  return summary;
}

}  // namespace

InferenceService::InferenceService(std::vector<ModelSlot*> slots,
                                   ValidationLimits limits,
                                   ServerMetrics* metrics)
    : slots_(std::move(slots)), limits_(limits), metrics_(metrics) {
  for (ModelSlot* slot : slots_) by_name_[slot->config.name] = slot;
}

absl::StatusOr<ModelSlot*> InferenceService::FindModel(
    const std::string& name) const {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  std::vector<std::string> names;
  for (const ModelSlot* slot : slots_) names.push_back(slot->config.name);
  return absl::NotFoundError(absl::StrCat(
      "model \"", name,
      "\" not found; served models: ", absl::StrJoin(names, ", ")));
}

grpc::ServerUnaryReactor* InferenceService::Predict(
    grpc::CallbackServerContext* context,
    const rat::v1::PredictRequest* request,
    rat::v1::PredictResponse* response) {
  auto* reactor = new PredictReactor(metrics_);
  absl::StatusOr<ModelSlot*> found = FindModel(request->model());
  if (!found.ok()) {
    reactor->Complete(nullptr, found.status());
    return reactor;
  }
  ModelSlot* slot = *found;
  if (!slot->ready.load(std::memory_order_acquire)) {
    reactor->Complete(slot, absl::UnavailableError(absl::StrCat(
                                "model \"", slot->config.name,
                                "\" is still loading; retry once its health "
                                "status is SERVING")));
    return reactor;
  }

  // Everything is checked here, before queueing, so a bad request never
  // reaches a batch it shares with others.
  const ServedModel& model = *slot->model;
  absl::StatusOr<ResolvedRequest> resolved = ResolveRequest(*request, model);
  absl::StatusOr<std::vector<ImageSource>> images =
      resolved.ok() ? ValidateImages(*request, model.shape, limits_)
                    : resolved.status();
  if (!images.ok()) {
    reactor->Complete(slot, images.status());
    return reactor;
  }

  WorkItem item;
  item.images = *std::move(images);
  item.score_request = resolved->score_request;
  item.deadline = context->deadline();
  item.cancelled = reactor->cancelled();
  item.done = [reactor, slot, response, options = *std::move(resolved)](
                  absl::StatusOr<ItemResult> result) {
    if (!result.ok()) {
      reactor->Complete(slot, result.status());
      return;
    }
    const auto respond_start = SteadyClock::now();
    response->set_model(slot->config.name);
    absl::Status built =
        CallTorch(absl::StrCat("building the response of model \"",
                               slot->config.name, "\""),
                  [&] {
                    AppendPredictions(*result, options, *slot->model,
                                      slot->metrics, *response);
                  });
    slot->metrics.respond_duration->Observe(
        std::chrono::duration<double>(SteadyClock::now() - respond_start)
            .count());
    reactor->Complete(slot, built);
  };

  absl::Status queued = slot->batcher->Enqueue(std::move(item));
  if (!queued.ok()) reactor->Complete(slot, queued);
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::ListModels(
    grpc::CallbackServerContext* context,
    const rat::v1::ListModelsRequest* /*request*/,
    rat::v1::ListModelsResponse* response) {
  for (const ModelSlot* slot : slots_) {
    *response->add_models() = Summarize(*slot);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::GetModel(
    grpc::CallbackServerContext* context,
    const rat::v1::GetModelRequest* request,
    rat::v1::GetModelResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<ModelSlot*> found = FindModel(request->name());
  if (!found.ok()) {
    reactor->Finish(ToGrpcStatus(found.status()));
    return reactor;
  }
  *response->mutable_summary() = Summarize(**found);
  if (response->summary().ready())
    *response->mutable_card() = (*found)->model->card;
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace rat::server
