// The rat.v1.Inference gRPC service on the callback API.
#ifndef RAT_SERVER_INFERENCE_SERVICE_H_
#define RAT_SERVER_INFERENCE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rat/v1/inference.grpc.pb.h"
#include "server/batcher.h"
#include "server/config.h"
#include "server/served_model.h"
#include "server/server_metrics.h"
#include "server/validation.h"

namespace rat::server {

// One configured model. `model` and `batcher` are set once, before `ready`
// turns true (release order); readers check `ready` (acquire) first.
struct ModelSlot {
  ModelConfig config;
  ModelMetrics metrics;
  std::atomic<bool> ready{false};
  std::unique_ptr<ServedModel> model;
  std::unique_ptr<Batcher> batcher;
};

// Validates requests on gRPC's threads, queues them on the model's batcher
// and sends responses from the batcher's thread. Maps absl status codes to the
// gRPC codes with the same names. Thread-safe; the slots and metrics must
// outlive the service.
class InferenceService final : public rat::v1::Inference::CallbackService {
 public:
  InferenceService(std::vector<ModelSlot*> slots, ValidationLimits limits,
                   ServerMetrics* metrics);

  grpc::ServerUnaryReactor* Predict(
      grpc::CallbackServerContext* context,
      const rat::v1::PredictRequest* request,
      rat::v1::PredictResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(
      grpc::CallbackServerContext* context,
      const rat::v1::ListModelsRequest* request,
      rat::v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* GetModel(
      grpc::CallbackServerContext* context,
      const rat::v1::GetModelRequest* request,
      rat::v1::GetModelResponse* response) override;

 private:
  // NOT_FOUND listing the configured models when `name` is not one of them.
  absl::StatusOr<ModelSlot*> FindModel(const std::string& name) const;

  const std::vector<ModelSlot*> slots_;
  std::map<std::string, ModelSlot*> by_name_;
  const ValidationLimits limits_;
  ServerMetrics* const metrics_;
};

}  // namespace rat::server

#endif  // RAT_SERVER_INFERENCE_SERVICE_H_
