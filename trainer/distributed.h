// Data-parallel training over c10d: Gloo on CPU, NCCL when LibTorch has CUDA.
#ifndef RAT_TRAINER_DISTRIBUTED_H_
#define RAT_TRAINER_DISTRIBUTED_H_

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rat {

struct DistributedOptions {
  // Rendezvous, usually from MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
  // LOCAL_RANK (see ReadDistributedEnvironment).
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  // "gloo" or "nccl"; empty picks NCCL for CUDA devices, else Gloo.
  std::string backend;
  // A collective that takes longer than this fails instead of hanging, so a
  // dead worker makes the others exit with an error.
  int timeout_seconds = 120;
  // Gradient all-reduce bucket size in bytes.
  int64_t bucket_bytes = 25 << 20;
};

// Reads the torchrun variables into `options` (unset ones keep their values).
// Returns INVALID_ARGUMENT naming the variable for a value that does not
// parse or is out of range (RANK >= WORLD_SIZE, ...), and when WORLD_SIZE > 1
// is set but MASTER_ADDR or MASTER_PORT is not.
absl::Status ReadDistributedEnvironment(DistributedOptions* options);

// One process's membership in the group. A world of size 1 is valid and
// every collective is then a no-op. Every rank must call the same
// collectives in the same order with modules of the same structure.
// A collective that fails (a peer exited, or timeout_seconds passed) returns
// UNAVAILABLE or DEADLINE_EXCEEDED and leaves the group unusable, so the
// caller should exit. Not thread safe.
class Distributed {
 public:
  // Joins the group: rank 0 hosts a TCPStore on master_port (LibTorch 1.13
  // listens on every interface) and every rank connects to it at
  // master_addr, then to each other, within timeout_seconds. `device`
  // ("cpu", "cuda:0", ...) picks the backend when options.backend is empty.
  // Returns INVALID_ARGUMENT for options out of range, FAILED_PRECONDITION
  // for a backend this LibTorch lacks, UNAVAILABLE when the rendezvous fails.
  static absl::StatusOr<std::unique_ptr<Distributed>> Create(
      const DistributedOptions& options, const std::string& device);
  virtual ~Distributed() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  bool is_main() const { return rank() == 0; }

  // Copies rank 0's parameters and buffers to every rank.
  virtual absl::Status BroadcastModule(const torch::jit::Module& module) = 0;
  // Averages the parameters' .grad over ranks in buckets of bucket_bytes.
  // A parameter that requires grad but has none gets a zero gradient first,
  // so every rank reduces the same layout.
  virtual absl::Status AverageGradients(const torch::jit::Module& module) = 0;
  // Averages floating-point buffers (BatchNorm running statistics).
  virtual absl::Status AverageBuffers(const torch::jit::Module& module) = 0;
  // Sums each value over ranks (loss and accuracy counters).
  virtual absl::StatusOr<std::vector<double>> SumScalars(
      const std::vector<double>& values) = 0;
  virtual absl::Status Barrier() = 0;
};

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // After the first failure (or a forwarded SIGINT/SIGTERM) the remaining
  // workers get SIGTERM, then SIGKILL once this many seconds have passed.
  int grace_period_seconds = 10;
};

// Re-executes this program (/proc/self/exe) `nproc_per_node` times with the
// torchrun variables (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT) set and `args` as the arguments after the
// program name (the launcher flags removed), then waits for all of them.
// SIGINT and SIGTERM sent to the launcher are forwarded to the workers.
// Returns 0 when every worker exits 0; otherwise it stops the remaining
// workers and returns the first failure's exit code (128 + signal number for
// a worker killed by a signal). Returns 1 when a worker cannot be started
// and 2, after logging the error, for options that ValidateLaunchOptions
// (trainer/launcher.h) rejects.
// Call it before any other thread starts.
int LaunchWorkers(const LaunchOptions& options,
                  const std::vector<std::string>& args);

}  // namespace rat

#endif  // RAT_TRAINER_DISTRIBUTED_H_
