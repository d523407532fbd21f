// Rendezvous settings from the environment, option checks, and the
// single-process group whose collectives do nothing.
#include "trainer/distributed.h"

#include <cstdlib>
#include <limits>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "trainer/distributed_c10d.h"

namespace rat {
namespace {

std::optional<std::string> GetEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// Parses environment variable `name` into `out` when it is set. Returns
// INVALID_ARGUMENT when it is not an integer in [min_value, max_value].
absl::Status ReadIntEnv(const char* name, int min_value, int max_value,
                        int* out) {
  std::optional<std::string> text = GetEnv(name);
  if (!text.has_value()) return absl::OkStatus();

  int value = 0;
  if (!absl::SimpleAtoi(*text, &value) || value < min_value ||
      value > max_value) {
    std::string range =
        max_value == std::numeric_limits<int>::max()
            ? absl::StrCat("an integer >= ", min_value)
            : absl::StrCat("an integer in [", min_value, ", ", max_value, "]");
    return absl::InvalidArgumentError(absl::StrCat("environment variable ",
                                                   name, " must be ", range,
                                                   ", got \"", *text, "\""));
  }
  *out = value;
  return absl::OkStatus();
}

// The single-process world: every collective returns at once.
class LocalDistributed : public Distributed {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  absl::Status BroadcastModule(const torch::jit::Module&) override {
    return absl::OkStatus();
  }
  absl::Status AverageGradients(const torch::jit::Module&) override {
    return absl::OkStatus();
  }
  absl::Status AverageBuffers(const torch::jit::Module&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<double>> SumScalars(
      const std::vector<double>& values) override {
    return values;
  }
  absl::Status Barrier() override { return absl::OkStatus(); }
};

absl::Status ValidateOptions(const DistributedOptions& options) {
  if (options.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("world_size must be >= 1, got ", options.world_size));
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", options.rank, " is out of range for world_size ",
                     options.world_size, "; expected 0 <= rank < world_size"));
  }
  if (options.master_port < 1 || options.master_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "master_port must be in [1, 65535], got ", options.master_port));
  }
  if (options.timeout_seconds < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timeout_seconds must be >= 1, got ", options.timeout_seconds));
  }
  if (options.bucket_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket_bytes must be >= 1, got ", options.bucket_bytes));
  }
  if (!options.backend.empty() && options.backend != "gloo" &&
      options.backend != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("backend must be \"gloo\", \"nccl\" or empty, got \"",
                     options.backend, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadDistributedEnvironment(DistributedOptions* options) {
  constexpr int kMaxInt = std::numeric_limits<int>::max();
  DistributedOptions read = *options;
  RAT_RETURN_IF_ERROR(ReadIntEnv("WORLD_SIZE", 1, kMaxInt, &read.world_size));
  RAT_RETURN_IF_ERROR(ReadIntEnv("RANK", 0, kMaxInt, &read.rank));
  RAT_RETURN_IF_ERROR(ReadIntEnv("LOCAL_RANK", 0, kMaxInt, &read.local_rank));
  RAT_RETURN_IF_ERROR(ReadIntEnv("MASTER_PORT", 1, 65535, &read.master_port));
  if (std::optional<std::string> addr = GetEnv("MASTER_ADDR")) {
    read.master_addr = *addr;
  }

  if (read.rank >= read.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("RANK ", read.rank, " is out of range for WORLD_SIZE ",
                     read.world_size, "; expected 0 <= RANK < WORLD_SIZE"));
  }
  if (read.local_rank > read.rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("LOCAL_RANK ", read.local_rank, " is greater than RANK ",
                     read.rank, "; expected LOCAL_RANK <= RANK"));
  }

  // With several workers a default address would silently split the group,
  // so a launcher that forgot the rendezvous variables is an error.
  if (read.world_size > 1) {
    for (const char* name : {"MASTER_ADDR", "MASTER_PORT"}) {
      std::optional<std::string> value = GetEnv(name);
      if (!value.has_value() || value->empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "environment variable ", name, " is not set; WORLD_SIZE ",
            read.world_size, " needs the rendezvous address of rank 0"));
      }
    }
  }

  *options = read;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Distributed>> Distributed::Create(
    const DistributedOptions& options, const std::string& device) {
  RAT_RETURN_IF_ERROR(ValidateOptions(options));
  if (options.world_size == 1) return std::make_unique<LocalDistributed>();
  return CreateC10dDistributed(options, device);
}

}  // namespace rat
