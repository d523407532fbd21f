// A blocking client for the rat.v1.Inference and grpc.health.v1.Health
// services of one rat-server address.
#ifndef RAT_CLIENT_INFERENCE_CLIENT_H_
#define RAT_CLIENT_INFERENCE_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rat/v1/inference.grpc.pb.h"

namespace rat::client {

struct ClientOptions {
  // host:port of rat-server, e.g. "127.0.0.1:50051" or "[::1]:50051".
  std::string address = "localhost:50051";
  // Deadline of every call (milliseconds).
  int64_t timeout_ms = 30000;
  // Largest response the client accepts (bytes).
  int64_t max_message_bytes = 64 << 20;
};

// Converts a failed call into an absl::Status whose message names the RPC
// and the address, e.g. `Predict on 127.0.0.1:50051 timed out after 500 ms`.
absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& rpc,
                            const ClientOptions& options);

// Thread-safe: the stubs may be used from several threads at once.
class InferenceClient {
 public:
  // Creates the channel; nothing is sent until the first call.
  // INVALID_ARGUMENT for an empty address or a non-positive timeout.
  static absl::StatusOr<std::unique_ptr<InferenceClient>> Create(
      const ClientOptions& options);

  absl::StatusOr<rat::v1::PredictResponse> Predict(
      const rat::v1::PredictRequest& request);
  absl::StatusOr<rat::v1::ListModelsResponse> ListModels();
  absl::StatusOr<rat::v1::GetModelResponse> GetModel(const std::string& name);

  // Returns the serving status of `service` ("" = the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
  CheckHealth(const std::string& service);

  // Sets the deadline of `context` to now + options.timeout_ms.
  void SetDeadline(grpc::ClientContext& context) const;

  rat::v1::Inference::Stub& stub() { return *stub_; }
  const ClientOptions& options() const { return options_; }

 private:
  InferenceClient(const ClientOptions& options,
                  std::shared_ptr<grpc::Channel> channel);

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rat::v1::Inference::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_stub_;
};

}  // namespace rat::client

#endif  // RAT_CLIENT_INFERENCE_CLIENT_H_
