// A tiny deterministic model and training loop shared by the distributed
// tests and their worker program.
#ifndef RAT_TESTS_TRAINER_DISTRIBUTED_TEST_MODEL_H_
#define RAT_TESTS_TRAINER_DISTRIBUTED_TEST_MODEL_H_

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "trainer/distributed.h"

namespace rat::testing {

constexpr int64_t kFeatures = 6;
constexpr int64_t kClasses = 3;

// A linear classifier with parameters "weight" and "bias" drawn from `seed`,
// a float buffer "running_mean" and an int64 buffer "steps".
torch::jit::Module MakeTinyModel(uint64_t seed);

// Broadcasts rank 0's parameters, then runs `steps` SGD steps (learning rate
// 0.1, momentum 0.9). Each step draws a global batch of `global_batch`
// samples from a seed of its own, and this rank trains on its 1/world_size
// slice. Gradients and running_mean are averaged through `distributed`.
absl::Status TrainTinyModel(torch::jit::Module& module,
                            Distributed& distributed, int steps,
                            int64_t global_batch);

// All parameters and buffers of `module`, flattened in order, as doubles.
std::vector<double> FlattenState(const torch::jit::Module& module);

}  // namespace rat::testing

#endif  // RAT_TESTS_TRAINER_DISTRIBUTED_TEST_MODEL_H_
