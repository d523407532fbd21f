#include "client/inference_client.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rat::client {
namespace {

absl::StatusCode ToAbslCode(grpc::StatusCode code) {
  // Both enums use the canonical numbering of google.rpc.Code.
  return static_cast<absl::StatusCode>(static_cast<int>(code));
}

std::chrono::system_clock::time_point DeadlineFromNow(int64_t timeout_ms) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(timeout_ms);
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& rpc,
                            const ClientOptions& options) {
  if (status.ok()) return absl::OkStatus();

  const absl::StatusCode code = ToAbslCode(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::Status(
          code, absl::StrCat(rpc, " on ", options.address, " timed out after ",
                             options.timeout_ms,
                             " ms; raise --timeout-ms or lower --batch-size"));
    case grpc::StatusCode::UNAVAILABLE:
      return absl::Status(
          code,
          absl::StrCat("server ", options.address, " is unavailable (",
                       status.error_message(),
                       "); check --server and that rat-server is running"));
    default:
      return absl::Status(code,
                          absl::StrCat(rpc, " on ", options.address,
                                       " failed: ", status.error_message()));
  }
}

absl::StatusOr<std::unique_ptr<InferenceClient>> InferenceClient::Create(
    const ClientOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError(
        "server address is empty; expected host:port, e.g. 127.0.0.1:50051");
  }
  if (options.timeout_ms <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timeout must be positive (milliseconds), got ", options.timeout_ms));
  }

  grpc::ChannelArguments arguments;
  const int64_t max_bytes =
      std::min<int64_t>(options.max_message_bytes, INT_MAX);
  arguments.SetMaxReceiveMessageSize(static_cast<int>(max_bytes));
  arguments.SetMaxSendMessageSize(static_cast<int>(max_bytes));
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      options.address, grpc::InsecureChannelCredentials(), arguments);
  return std::unique_ptr<InferenceClient>(
      new InferenceClient(options, std::move(channel)));
}

InferenceClient::InferenceClient(const ClientOptions& options,
                                 std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      channel_(std::move(channel)),
      stub_(rat::v1::Inference::NewStub(channel_)),
      health_stub_(grpc::health::v1::Health::NewStub(channel_)) {}

void InferenceClient::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(DeadlineFromNow(options_.timeout_ms));
}

absl::StatusOr<rat::v1::PredictResponse> InferenceClient::Predict(
    const rat::v1::PredictRequest& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  rat::v1::PredictResponse response;
  const grpc::Status status = stub_->Predict(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, "Predict", options_);
  return response;
}

absl::StatusOr<rat::v1::ListModelsResponse> InferenceClient::ListModels() {
  grpc::ClientContext context;
  SetDeadline(context);
  rat::v1::ListModelsResponse response;
  const grpc::Status status =
      stub_->ListModels(&context, rat::v1::ListModelsRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status, "ListModels", options_);
  return response;
}

absl::StatusOr<rat::v1::GetModelResponse> InferenceClient::GetModel(
    const std::string& name) {
  grpc::ClientContext context;
  SetDeadline(context);
  rat::v1::GetModelRequest request;
  request.set_name(name);
  rat::v1::GetModelResponse response;
  const grpc::Status status = stub_->GetModel(&context, request, &response);
  if (!status.ok()) {
    return FromGrpcStatus(status, absl::StrCat("GetModel(\"", name, "\")"),
                          options_);
  }
  return response;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
InferenceClient::CheckHealth(const std::string& service) {
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health_stub_->Check(&context, request, &response);
  if (!status.ok()) {
    return FromGrpcStatus(
        status, absl::StrCat("health check of service \"", service, "\""),
        options_);
  }
  return response.status();
}

}  // namespace rat::client
