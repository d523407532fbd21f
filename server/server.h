// rat-server: the gRPC service, health checking, reflection, the metrics
// endpoint and the models behind them.
#ifndef RAT_SERVER_SERVER_H_
#define RAT_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/exposer.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/config.h"
#include "server/inference_service.h"
#include "server/server_metrics.h"

namespace rat::server {

// Lifecycle: Create, Start (listen; every health status NOT_SERVING),
// LoadModels (each model SERVING once loaded and warmed up, then the whole
// server), Shutdown. Methods are called from one thread; the RPCs themselves
// run on gRPC's threads and the models' batcher threads.
// Returns the LibTorch intra-op threads for the configured value: the value
// itself, or for 0 a positive OMP_NUM_THREADS from the environment, else one
// per core but one, which is left to gRPC's threads. On
// two cores that favours latency: one thread cut the p50 latency of
// single-image requests from 4.5 to 2.8 ms, two threads served 24% more
// images/s in batches of 32 from 16 clients (docs/benchmarks.md).
int IntraOpThreads(int configured);

class Server {
 public:
  // Validates the configuration; loads nothing and opens no port.
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerConfig config);

  ~Server();

  // Binds the gRPC and metrics addresses and starts serving; Predict
  // returns UNAVAILABLE until a model is loaded. UNAVAILABLE when an address
  // cannot be bound.
  absl::Status Start();

  // Loads and warms up every configured model in order. Stops at the first
  // model that fails and returns its error.
  absl::Status LoadModels();

  // Stops accepting RPCs, gives in-flight ones up to `grace` to finish, then
  // cancels the rest and stops the batchers. Idempotent.
  void Shutdown(absl::Duration grace);

  // Ports actually bound, useful when the configuration sets port 0;
  // 0 before Start and for a disabled metrics endpoint.
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }

 private:
  explicit Server(ServerConfig config);

  absl::Status StartMetrics();

  const ServerConfig config_;
  ServerMetrics metrics_;
  std::vector<std::unique_ptr<ModelSlot>> slots_;
  std::unique_ptr<InferenceService> service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  int metrics_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace rat::server

#endif  // RAT_SERVER_SERVER_H_
