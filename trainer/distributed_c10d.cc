// Distributed over c10d: a TCPStore rendezvous, then ProcessGroupGloo on CPU
// or ProcessGroupNCCL on CUDA devices (only in builds with RAT_WITH_NCCL).
#include "trainer/distributed_c10d.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <utility>
#include <vector>

// Debian's libtorch_cpu contains ProcessGroupGloo, but its header declares
// the class only when USE_C10D_GLOO is defined.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <ATen/ATen.h>
#include <torch/script.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(RAT_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/status_macros.h"
#include "core/common/torch_status.h"
#include "spdlog/spdlog.h"
#include "trainer/distributed_bucket.h"

namespace rat {
namespace {

using Clock = std::chrono::steady_clock;
using WorkPtr = c10::intrusive_ptr<c10d::Work>;

bool IsLoopback(const std::string& address) {
  return address == "localhost" || address == "::1" ||
         absl::StartsWith(address, "127.");
}

// Picks the network device Gloo binds: GLOO_SOCKET_IFNAME when set (the
// variable PyTorch reads too), the loopback address for a single-host run,
// else the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> CreateGlooDevice(
    const std::string& master_addr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (IsLoopback(master_addr)) {
    return c10d::ProcessGroupGloo::createDeviceForHostname(master_addr);
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

absl::Status CheckBackendBuilt(const std::string& backend) {
#if !defined(RAT_WITH_NCCL)
  if (backend == "nccl") {
    return absl::FailedPreconditionError(
        "backend \"nccl\" needs a LibTorch built with CUDA and NCCL, but "
        "rat-train was built with Gloo only; train on device \"cpu\" or set "
        "backend \"gloo\"");
  }
#endif
  return absl::OkStatus();
}

absl::StatusOr<c10::intrusive_ptr<c10d::ProcessGroup>> CreateGroup(
    const std::string& backend, const c10::intrusive_ptr<c10d::Store>& store,
    const DistributedOptions& options) {
  const std::chrono::milliseconds timeout(options.timeout_seconds * 1000LL);
  if (backend == "gloo") {
    return CallTorch("creating the Gloo process group", [&] {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      gloo_options->devices.push_back(CreateGlooDevice(options.master_addr));
      return c10::intrusive_ptr<c10d::ProcessGroup>(
          c10::make_intrusive<c10d::ProcessGroupGloo>(
              store, options.rank, options.world_size, gloo_options));
    });
  }
#if defined(RAT_WITH_NCCL)
  // NOTE: built and run only with a CUDA LibTorch; the CPU-only tests cover
  // the Gloo path alone.
  return CallTorch("creating the NCCL process group", [&] {
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = timeout;
    return c10::intrusive_ptr<c10d::ProcessGroup>(
        c10::make_intrusive<c10d::ProcessGroupNCCL>(
            store, options.rank, options.world_size, nccl_options));
  });
#else
  RAT_RETURN_IF_ERROR(CheckBackendBuilt(backend));
  return absl::InvalidArgumentError(
      absl::StrCat("unknown backend \"", backend, "\""));
#endif
}

class C10dDistributed : public Distributed {
 public:
  C10dDistributed(const DistributedOptions& options, std::string backend,
                  c10::Device device, c10::intrusive_ptr<c10d::Store> store,
                  c10::intrusive_ptr<c10d::ProcessGroup> group)
      : options_(options),
        backend_(std::move(backend)),
        device_(device),
        store_(std::move(store)),
        group_(std::move(group)) {}

  int rank() const override { return options_.rank; }
  int world_size() const override { return options_.world_size; }

  absl::Status BroadcastModule(const torch::jit::Module& module) override {
    std::vector<at::Tensor> tensors;
    for (const at::Tensor& parameter : module.parameters()) {
      tensors.push_back(parameter);
    }
    for (const at::Tensor& buffer : module.buffers()) tensors.push_back(buffer);
    return ForEachBucket("broadcast of parameters and buffers", tensors,
                         [this](at::Tensor& flat) {
                           return Broadcast("broadcast of parameters", flat);
                         });
  }

  absl::Status AverageGradients(const torch::jit::Module& module) override {
    std::vector<at::Tensor> gradients;
    for (const at::Tensor& parameter : module.parameters()) {
      if (!parameter.requires_grad()) continue;
      if (!parameter.grad().defined()) {
        parameter.mutable_grad() = at::zeros_like(parameter);
      }
      gradients.push_back(parameter.grad());
    }
    return ForEachBucket("gradient all-reduce", gradients,
                         [this](at::Tensor& flat) {
                           return Average("gradient all-reduce", flat);
                         });
  }

  absl::Status AverageBuffers(const torch::jit::Module& module) override {
    std::vector<at::Tensor> buffers;
    for (const at::Tensor& buffer : module.buffers()) {
      if (buffer.is_floating_point()) buffers.push_back(buffer);
    }
    return ForEachBucket("buffer all-reduce", buffers,
                         [this](at::Tensor& flat) {
                           return Average("buffer all-reduce", flat);
                         });
  }

  absl::StatusOr<std::vector<double>> SumScalars(
      const std::vector<double>& values) override {
    if (values.empty()) return values;
    RAT_ASSIGN_OR_RETURN(
        at::Tensor sums, CallTorch("scalar all-reduce", [&] {
          return at::tensor(values, at::dtype(at::kDouble)).to(CommDevice());
        }));
    RAT_RETURN_IF_ERROR(AllReduceSum("scalar all-reduce", sums));
    sums = sums.cpu();
    const double* data = sums.data_ptr<double>();
    return std::vector<double>(data, data + sums.numel());
  }

  absl::Status Barrier() override {
    return Run("barrier", [this] {
      c10d::BarrierOptions barrier_options;
      barrier_options.timeout = Timeout();
      return group_->barrier(barrier_options);
    });
  }

 private:
  std::chrono::milliseconds Timeout() const {
    return std::chrono::milliseconds(options_.timeout_seconds * 1000LL);
  }

  // The device collectives run on: Gloo reduces host tensors, NCCL device
  // tensors.
  c10::Device CommDevice() const {
    return backend_ == "nccl" ? device_ : c10::Device(c10::kCPU);
  }

  // Copies `tensors` into flat buckets on the communication device, runs
  // `reduce` on each and copies the results back.
  absl::Status ForEachBucket(
      const std::string& what, const std::vector<at::Tensor>& tensors,
      const std::function<absl::Status(at::Tensor&)>& reduce) {
    at::NoGradGuard no_grad;
    for (const std::vector<at::Tensor>& bucket :
         SplitIntoBuckets(tensors, options_.bucket_bytes)) {
      RAT_ASSIGN_OR_RETURN(at::Tensor flat, CallTorch(what, [&] {
                             return FlattenBucket(bucket).to(CommDevice());
                           }));
      RAT_RETURN_IF_ERROR(reduce(flat));
      RAT_RETURN_IF_ERROR(
          CallTorch(what, [&] { UnflattenBucket(flat, bucket); }));
    }
    return absl::OkStatus();
  }

  absl::Status AllReduceSum(const std::string& what, at::Tensor& flat) {
    return Run(what, [&] {
      std::vector<at::Tensor> tensors = {flat};
      c10d::AllreduceOptions reduce_options;
      reduce_options.reduceOp = c10d::ReduceOp::SUM;
      reduce_options.timeout = Timeout();
      return group_->allreduce(tensors, reduce_options);
    });
  }

  absl::Status Average(const std::string& what, at::Tensor& flat) {
    RAT_RETURN_IF_ERROR(AllReduceSum(what, flat));
    return CallTorch(what, [&] { flat.div_(options_.world_size); });
  }

  absl::Status Broadcast(const std::string& what, at::Tensor& flat) {
    return Run(what, [&] {
      std::vector<at::Tensor> tensors = {flat};
      c10d::BroadcastOptions broadcast_options;
      broadcast_options.rootRank = 0;
      broadcast_options.timeout = Timeout();
      return group_->broadcast(tensors, broadcast_options);
    });
  }

  absl::Status Run(const std::string& what,
                   const std::function<WorkPtr()>& start);

  const DistributedOptions options_;
  const std::string backend_;
  const c10::Device device_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  // The first collective failure: the peers are out of step after it, so
  // every later collective fails at once instead of waiting again.
  absl::Status broken_;
};

absl::Status C10dDistributed::Run(const std::string& what,
                                  const std::function<WorkPtr()>& start) {
  if (!broken_.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        what,
        " skipped: the process group failed earlier: ", broken_.message()));
  }

  const Clock::time_point begin = Clock::now();
  absl::Status status = CallTorch(what, [&] { start()->wait(Timeout()); });
  if (status.ok()) return status;

  // Gloo reports a peer that exited as a closed connection at once; a peer
  // that is alive but stuck shows up as the timeout.
  const double elapsed_seconds =
      std::chrono::duration<double>(Clock::now() - begin).count();
  const std::string message = absl::StrFormat(
      "%s failed on rank %d of %d after %.1f s (timeout_seconds %d); another "
      "worker may have exited: %s",
      what, options_.rank, options_.world_size, elapsed_seconds,
      options_.timeout_seconds, status.message());
  broken_ = elapsed_seconds >= options_.timeout_seconds
                ? absl::DeadlineExceededError(message)
                : absl::UnavailableError(message);
  return broken_;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Distributed>> CreateC10dDistributed(
    const DistributedOptions& options, const std::string& device) {
  RAT_ASSIGN_OR_RETURN(
      c10::Device parsed_device,
      CallTorch(absl::StrCat("parsing device \"", device, "\""),
                [&] { return c10::Device(device); }));
  const std::string backend = !options.backend.empty()  ? options.backend
                              : parsed_device.is_cuda() ? "nccl"
                                                        : "gloo";
  RAT_RETURN_IF_ERROR(CheckBackendBuilt(backend));
  const std::string endpoint =
      absl::StrCat(options.master_addr, ":", options.master_port);

  // Rank 0 hosts the store. It does not wait there for the other ranks,
  // because the Gloo connect below waits for them within the same timeout
  // and a second wait would double the time a missing rank costs.
  absl::StatusOr<c10::intrusive_ptr<c10d::Store>> store =
      CallTorch("TCPStore", [&] {
        c10d::TCPStoreOptions store_options;
        store_options.port = static_cast<uint16_t>(options.master_port);
        store_options.isServer = options.rank == 0;
        store_options.waitWorkers = false;
        store_options.timeout =
            std::chrono::milliseconds(options.timeout_seconds * 1000LL);
        return c10::intrusive_ptr<c10d::Store>(
            c10::make_intrusive<c10d::TCPStore>(options.master_addr,
                                                store_options));
      });
  if (!store.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "rendezvous of rank ", options.rank, " of ", options.world_size, " at ",
        endpoint, " failed within timeout_seconds ", options.timeout_seconds,
        ": ", store.status().message()));
  }

  absl::StatusOr<c10::intrusive_ptr<c10d::ProcessGroup>> group =
      CreateGroup(backend, *store, options);
  if (!group.ok()) {
    return absl::UnavailableError(
        absl::StrCat("rank ", options.rank, " of ", options.world_size,
                     " could not connect to its peers (rendezvous at ",
                     endpoint, ", timeout_seconds ", options.timeout_seconds,
                     "): ", group.status().message()));
  }

  spdlog::info("rank {} of {} joined the {} process group at {}", options.rank,
               options.world_size, backend, endpoint);
  return std::make_unique<C10dDistributed>(
      options, backend, parsed_device, *std::move(store), *std::move(group));
}

}  // namespace rat
