#include "server/server.h"

#include <ATen/Parallel.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "spdlog/spdlog.h"

namespace rat::server {
namespace {

std::string ShapeText(const InputShape& shape) {
  return absl::StrCat(shape.channels, "x", shape.height, "x", shape.width);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerConfig config) {
  RAT_RETURN_IF_ERROR(ValidateConfig(config));
  return std::unique_ptr<Server>(new Server(std::move(config)));
}

Server::Server(ServerConfig config) : config_(std::move(config)) {
  std::vector<ModelSlot*> slots;
  for (const ModelConfig& model : config_.models) {
    auto slot = std::make_unique<ModelSlot>();
    slot->config = model;
    slot->metrics = metrics_.AddModel(model.name);
    slots.push_back(slot.get());
    slots_.push_back(std::move(slot));
  }
  ValidationLimits limits;
  limits.max_images_per_request = config_.limits.max_images_per_request;
  service_ =
      std::make_unique<InferenceService>(std::move(slots), limits, &metrics_);
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

int IntraOpThreads(int configured) {
  if (configured > 0) return configured;
  int from_environment = 0;
  const char* omp_threads = std::getenv("OMP_NUM_THREADS");
  if (omp_threads != nullptr &&
      absl::SimpleAtoi(omp_threads, &from_environment) &&
      from_environment > 0) {
    return from_environment;
  }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores - 1);
}

absl::Status Server::Start() {
  const int intra_op_threads = IntraOpThreads(config_.torch_intra_op_threads);
  at::set_num_threads(intra_op_threads);
  spdlog::info("LibTorch intra-op threads: {}{}", intra_op_threads,
               config_.torch_intra_op_threads > 0
                   ? ""
                   : " (threads.torch_intra_op 0: OMP_NUM_THREADS if set, "
                     "else one per core but one)");

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(),
                           &port_);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config_.limits.max_message_bytes));
  if (config_.grpc_threads > 0) {
    grpc::ResourceQuota quota("rat-server");
    quota.SetMaxThreads(config_.grpc_threads);
    builder.SetResourceQuota(quota);
  }
  builder.RegisterService(service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || port_ == 0) {
    grpc_server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on \"", config_.listen,
        "\" (gRPC); check that the address is valid and the port is free"));
  }

  grpc::HealthCheckServiceInterface* health =
      grpc_server_->GetHealthCheckService();
  health->SetServingStatus("", false);
  for (const auto& slot : slots_) {
    health->SetServingStatus(slot->config.name, false);
  }
  RAT_RETURN_IF_ERROR(StartMetrics());
  spdlog::info("rat-server listening on {} (gRPC port {}), metrics port {}",
               config_.listen, port_, metrics_port_);
  return absl::OkStatus();
}

absl::Status Server::StartMetrics() {
  if (config_.metrics_listen.empty()) return absl::OkStatus();
  // prometheus-cpp reports a failed bind with an exception from CivetWeb.
  // CivetWeb also fails when its threads cannot start: their 100 KiB stacks
  // must hold all static thread-local storage of the process, which the
  // pthread and OpenMP builds of OpenBLAS (60 KiB of it) nearly fill.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(config_.metrics_listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on \"", config_.metrics_listen,
        "\" (metrics): ", e.what(),
        " Check that the port is free; if it is, the web server's threads "
        "could not start, which happens when the pthread or OpenMP build of "
        "OpenBLAS is the system BLAS: install libopenblas0-serial instead"));
  }
  exposer_->RegisterCollectable(metrics_.registry());
  const std::vector<int> ports = exposer_->GetListeningPorts();
  metrics_port_ = ports.empty() ? 0 : ports.front();
  return absl::OkStatus();
}

absl::Status Server::LoadModels() {
  grpc::HealthCheckServiceInterface* health =
      grpc_server_->GetHealthCheckService();
  for (const auto& slot : slots_) {
    RAT_ASSIGN_OR_RETURN(slot->model, LoadServedModel(slot->config));
    const ServedModel& model = *slot->model;

    BatcherModel batcher_model;
    batcher_model.name = slot->config.name;
    batcher_model.module = &slot->model->module;
    batcher_model.shape = model.shape;
    batcher_model.device = torch::Device(slot->config.device);
    slot->batcher = std::make_unique<Batcher>(
        batcher_model, slot->config.batching, slot->metrics);

    slot->ready.store(true, std::memory_order_release);
    slot->metrics.ready->Set(1);
    health->SetServingStatus(slot->config.name, true);
    spdlog::info(
        "model \"{}\" loaded from {}: input {}, {} classes, device "
        "{}, {}, {:.2f} s",
        slot->config.name, slot->config.path, ShapeText(model.shape),
        model.num_classes, slot->config.device,
        model.frozen ? "frozen" : "not frozen", model.load_seconds);
  }
  health->SetServingStatus("", true);
  spdlog::info("rat-server ready: {} models", slots_.size());
  return absl::OkStatus();
}

void Server::Shutdown(absl::Duration grace) {
  if (grpc_server_ == nullptr || shut_down_) return;
  shut_down_ = true;
  spdlog::info("rat-server shutting down; in-flight requests get {} s",
               absl::ToDoubleSeconds(grace));

  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  // gRPC stops accepting, waits for in-flight RPCs until the deadline, then
  // cancels them; the batchers keep working meanwhile, so queued requests
  // still complete.
  grpc_server_->Shutdown(
      std::chrono::system_clock::now() +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          absl::ToChronoNanoseconds(grace)));
  for (const auto& slot : slots_) {
    if (slot->batcher != nullptr) slot->batcher->Stop();
    slot->metrics.ready->Set(0);
  }
  exposer_.reset();
  spdlog::info("rat-server stopped");
}

}  // namespace rat::server
