// Data-parallel training over c10d: Gloo on CPU, NCCL when LibTorch has CUDA.
#ifndef RAT_TRAINER_DISTRIBUTED_H_
#define RAT_TRAINER_DISTRIBUTED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/script.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rat {

struct DistributedOptions {
  // Rendezvous, usually from MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
  // LOCAL_RANK (see FromEnvironment).
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

// Reads the torchrun variables into `options` (unset ones keep their values);
// INVALID_ARGUMENT naming the variable for a value that does not parse or
// is out of range (RANK >= WORLD_SIZE, ...).
absl::Status ReadDistributedEnvironment(DistributedOptions* options);

// One process's membership in the group. A world of size 1 is valid and
// every collective is then a no-op. Not thread safe.
class Distributed {
 public:
  static absl::StatusOr<std::unique_ptr<Distributed>> Create(
      const DistributedOptions& options, const std::string& device);
  virtual ~Distributed() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  bool is_main() const { return rank() == 0; }

  // Copies rank 0's parameters and buffers to every rank.
  virtual absl::Status BroadcastModule(const torch::jit::Module& module) = 0;
  // Averages the parameters' .grad over ranks in buckets of bucket_bytes.
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
};

// Re-executes this program `nproc_per_node` times with the torchrun variables
// set and `args` as the command line (the launcher flags removed). Returns the
// exit code: 0 when every worker exits 0; otherwise it stops the remaining
// workers and returns the first failure's code.
int LaunchWorkers(const LaunchOptions& options,
                  const std::vector<std::string>& args);

}  // namespace rat

#endif  // RAT_TRAINER_DISTRIBUTED_H_
