// Helpers for the rat-server tests: small bundles, an in-process server on a
// free loopback port, and a loopback HTTP GET for /metrics.
#ifndef RAT_TESTS_SERVER_SERVER_TEST_SUPPORT_H_
#define RAT_TESTS_SERVER_SERVER_TEST_SUPPORT_H_

#include <grpcpp/grpcpp.h>
#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rat/v1/inference.grpc.pb.h"
#include "server/config.h"
#include "server/server.h"

namespace rat::server::testing {

// A linear classifier on 1 x 4 x 4 images with 3 classes ("cat", "dog",
// "eel"). Each of the `slow_iterations` extra 256 x 256 matrix products per
// forward (33 MFLOP) makes it slower on purpose; SlowIterations picks a count
// for a wall time on this machine.
struct TestModelOptions {
  int64_t channels = 1;
  int64_t height = 4;
  int64_t width = 4;
  int64_t num_classes = 3;
  int slow_iterations = 0;
  uint64_t seed = 7;
};

torch::jit::Module BuildTestModule(const TestModelOptions& options);

// Matrix products that take about `milliseconds` on this machine, timed once
// per process (BLAS libraries differ by more than ten times in speed).
int SlowIterations(double milliseconds);

// Saves BuildTestModule(options) with a card into a fresh file under the test
// temporary directory and returns its path.
std::string WriteTestBundle(const std::string& name,
                            const TestModelOptions& options);

// A fresh path under the test temporary directory.
std::string TempPath(const std::string& name);

// A configuration serving `models` on 127.0.0.1 with free ports.
ServerConfig LoopbackConfig(std::vector<ModelConfig> models);

// Creates, starts and loads a server; fails the calling test on error.
std::unique_ptr<Server> StartServer(const ServerConfig& config);

std::unique_ptr<rat::v1::Inference::Stub> Connect(int port);

// GETs http://127.0.0.1:`port``path` and returns the body.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

// The value of the metric line `name{labels}` in Prometheus text format,
// where `labels` is the exact label text, e.g. `code="OK",model="m"`; -1
// when absent.
double MetricValue(const std::string& metrics_text, const std::string& name,
                   const std::string& labels);

// A float32 channels x height x width image with a deterministic pattern of
// values in [0, 1]; `seed` varies the pattern.
rat::v1::Image FloatImage(int64_t channels, int64_t height, int64_t width,
                          int seed);

}  // namespace rat::server::testing

#endif  // RAT_TESTS_SERVER_SERVER_TEST_SUPPORT_H_
