#include "tests/trainer/distributed_test_model.h"

#include <torch/optim/sgd.h>

#include "core/common/status_macros.h"

namespace rat::testing {

torch::jit::Module MakeTinyModel(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module module("TinyLinear");
  module.register_parameter(
      "weight", torch::randn({kClasses, kFeatures}).requires_grad_(),
      /*is_buffer=*/false);
  module.register_parameter("bias", torch::randn({kClasses}).requires_grad_(),
                            /*is_buffer=*/false);
  module.register_buffer("running_mean", torch::zeros({kFeatures}));
  module.register_buffer("steps", torch::zeros({}, torch::kInt64));
  return module;
}

absl::Status TrainTinyModel(torch::jit::Module& module,
                            Distributed& distributed, int steps,
                            int64_t global_batch) {
  RAT_RETURN_IF_ERROR(distributed.BroadcastModule(module));
  at::Tensor weight = module.attr("weight").toTensor();
  at::Tensor bias = module.attr("bias").toTensor();
  torch::optim::SGD optimizer({weight, bias},
                              torch::optim::SGDOptions(0.1).momentum(0.9));

  const int64_t shard = global_batch / distributed.world_size();
  const int64_t start = distributed.rank() * shard;
  for (int step = 0; step < steps; ++step) {
    torch::manual_seed(1000 + step);
    at::Tensor images = torch::randn({global_batch, kFeatures});
    at::Tensor labels = torch::randint(kClasses, {global_batch});
    images = images.narrow(0, start, shard);
    labels = labels.narrow(0, start, shard);

    optimizer.zero_grad();
    at::Tensor logits = torch::addmm(bias, images, weight.t());
    torch::nll_loss(torch::log_softmax(logits, 1), labels).backward();
    RAT_RETURN_IF_ERROR(distributed.AverageGradients(module));
    optimizer.step();

    // Running statistics as BatchNorm keeps them, then made equal on all ranks.
    {
      torch::NoGradGuard no_grad;
      at::Tensor running_mean = module.attr("running_mean").toTensor();
      running_mean.mul_(0.9).add_(images.mean(0), 0.1);
      module.attr("steps").toTensor().add_(1);
    }
    RAT_RETURN_IF_ERROR(distributed.AverageBuffers(module));
  }
  return absl::OkStatus();
}

std::vector<double> FlattenState(const torch::jit::Module& module) {
  std::vector<double> values;
  auto append = [&values](const at::Tensor& tensor) {
    at::Tensor flat = tensor.detach().to(torch::kDouble).contiguous().view(-1);
    const double* data = flat.data_ptr<double>();
    values.insert(values.end(), data, data + flat.numel());
  };
  for (const at::Tensor& parameter : module.parameters()) append(parameter);
  for (const at::Tensor& buffer : module.buffers()) append(buffer);
  return values;
}

}  // namespace rat::testing
