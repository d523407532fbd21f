#include "tests/server/server_test_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/models/bundle.h"

namespace rat::server::testing {

torch::jit::Module BuildTestModule(const TestModelOptions& options) {
  torch::manual_seed(options.seed);
  const int64_t features = options.channels * options.height * options.width;
  torch::jit::Module module("TestLinear");
  module.register_attribute("training", c10::BoolType::get(), false);
  module.register_parameter(
      "weight", torch::randn({options.num_classes, features}) * 2.0, false);
  module.register_parameter("bias", torch::randn({options.num_classes}) * 0.1,
                            false);
  module.register_buffer("slow", torch::eye(256));
  module.register_attribute("slow_iterations", c10::IntType::get(),
                            options.slow_iterations);
  module.define(R"JIT(
def forward(self, x):
    # Depends on x, so freezing cannot fold the loop into a constant.
    h = self.slow + 0.0 * x.flatten(1)[0, 0]
    for _ in range(self.slow_iterations):
        h = torch.matmul(h, self.slow)
    logits = torch.matmul(x.flatten(1), self.weight.t()) + self.bias
    return logits + 0.0 * h[0, 0]
)JIT");
  return module;
}

int SlowIterations(double milliseconds) {
  static const double seconds_per_product = [] {
    torch::NoGradGuard no_grad;
    const torch::Tensor matrix = torch::eye(256);
    torch::Tensor product = matrix.matmul(matrix);
    constexpr int kProducts = 40;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kProducts; ++i) product = product.matmul(matrix);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
               .count() /
           kProducts;
  }();
  return std::max(1,
                  static_cast<int>(1e-3 * milliseconds / seconds_per_product));
}

std::string TempPath(const std::string& name) {
  static std::atomic<int> counter{0};
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    absl::StrCat("rat_server_test_", getpid());
  std::filesystem::create_directories(dir);
  return (dir / absl::StrCat(counter++, "_", name)).string();
}

std::string WriteTestBundle(const std::string& name,
                            const TestModelOptions& options) {
  rat::v1::ModelCard card;
  card.set_name(name);
  card.set_version("1");
  card.mutable_input_shape()->set_channels(options.channels);
  card.mutable_input_shape()->set_height(options.height);
  card.mutable_input_shape()->set_width(options.width);
  const char* names[] = {"cat", "dog", "eel", "fox", "gnu"};
  for (int64_t k = 0; k < options.num_classes; ++k) {
    card.add_class_names(k < 5 ? names[k] : absl::StrCat("class", k));
  }
  card.set_architecture("test_linear");
  const std::string path = TempPath(name + ".pt");
  const absl::Status saved = SaveBundle(path, BuildTestModule(options), card);
  EXPECT_TRUE(saved.ok()) << saved;
  return path;
}

ServerConfig LoopbackConfig(std::vector<ModelConfig> models) {
  ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.metrics_listen = "127.0.0.1:0";
  config.log_level = "warn";
  config.shutdown_grace_seconds = 5;
  config.models = std::move(models);
  return config;
}

std::unique_ptr<Server> StartServer(const ServerConfig& config) {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(config);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  absl::Status started = (*server)->Start();
  EXPECT_TRUE(started.ok()) << started;
  absl::Status loaded = started.ok() ? (*server)->LoadModels() : started;
  EXPECT_TRUE(loaded.ok()) << loaded;
  if (!loaded.ok()) return nullptr;
  return *std::move(server);
}

std::unique_ptr<rat::v1::Inference::Stub> Connect(int port) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  auto channel =
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                grpc::InsecureChannelCredentials(), arguments);
  return rat::v1::Inference::NewStub(channel);
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot connect to port ", port));
  }
  const std::string request =
      absl::StrCat("GET ", path,
                   " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), 0) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::InternalError("sending the HTTP request failed");
  }
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) {
    reply.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) {
    return absl::InternalError(absl::StrCat("malformed HTTP reply: ", reply));
  }
  return reply.substr(body + 4);
}

double MetricValue(const std::string& metrics_text, const std::string& name,
                   const std::string& labels) {
  const std::string prefix = absl::StrCat("\n", name, "{", labels, "} ");
  const size_t at = metrics_text.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(metrics_text.substr(at + prefix.size()));
}

rat::v1::Image FloatImage(int64_t channels, int64_t height, int64_t width,
                          int seed) {
  std::vector<float> values(channels * height * width);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>((i * 37 + seed * 101) % 97) / 96.0f;
  }
  rat::v1::Image image;
  rat::v1::TensorImage* tensor = image.mutable_tensor();
  tensor->set_dtype(rat::v1::DATA_TYPE_FLOAT32);
  tensor->add_dims(channels);
  tensor->add_dims(height);
  tensor->add_dims(width);
  tensor->set_data(values.data(), values.size() * sizeof(float));
  return image;
}

}  // namespace rat::server::testing
