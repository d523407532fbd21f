// rat-server throughput and latency over gRPC against the same scoring done
// in-process, for the small CNN on 1 x 28 x 28 images with MSR + ODIN
// (eps > 0) + RR-Fast.
//
// The gRPC benchmarks run the rat-server binary as a child process on a free
// loopback port, so its resident memory (VmRSS) is measured alone.
//
//   bench/server/server_bench --benchmark_counters_tabular=true
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/models/architectures.h"
#include "core/models/bundle.h"
#include "core/scores/score_engine.h"
#include "rat/v1/inference.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kImageElements = 28 * 28;
constexpr int kRequestsPerClient = 40;

std::string BundlePath() {
  static const std::string path = [] {
    const std::string file =
        absl::StrCat("/tmp/rat_server_bench_", getpid(), ".pt");
    rat::ArchitectureOptions options;
    auto module = rat::BuildArchitecture(options);
    if (!module.ok()) std::abort();
    module->eval();
    rat::v1::ModelCard card;
    card.set_name("small_cnn");
    card.mutable_input_shape()->set_channels(1);
    card.mutable_input_shape()->set_height(28);
    card.mutable_input_shape()->set_width(28);
    card.set_architecture("small_cnn");
    if (!rat::SaveBundle(file, *module, card).ok()) std::abort();
    return file;
  }();
  return path;
}

rat::ScoreRequest Scores() {
  rat::ScoreRequest request;
  request.scores = {rat::ScoreKind::kMsr, rat::ScoreKind::kOdin,
                    rat::ScoreKind::kRrFast};
  request.params.odin_epsilon = 5e-4;
  return request;
}

int64_t ReadRssKiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      int64_t kib = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits += c;
      }
      if (absl::SimpleAtoi(digits, &kib)) return kib;
    }
  }
  return 0;
}

// A rat-server child process serving the small CNN.
class ServerProcess {
 public:
  ServerProcess(int intra_op_threads, int max_batch_size) {
    const std::string config =
        absl::StrCat("/tmp/rat_server_bench_", getpid(), ".yaml");
    std::ofstream(config)
        << "listen: 127.0.0.1:0\nmetrics_listen: \"\"\n"
        << "log_level: info\n"
        << "threads: {torch_intra_op: " << intra_op_threads << "}\n"
        << "models:\n  - name: cnn\n    path: " << BundlePath()
        << "\n    batching: {max_batch_size: " << max_batch_size
        << ", max_queue_delay_us: 1000, max_queue_size: 4096}\n"
        << "    default_scores: [msr, odin, rr_fast]\n"
        << "    score_params: {odin_epsilon: 0.0005}\n";
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      dup2(fds[1], STDERR_FILENO);
      execl(RAT_SERVER_BINARY, RAT_SERVER_BINARY, "--config", config.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    output_ = fds[0];
    const std::string listening = ReadUntil("rat-server listening");
    const size_t at = listening.find("gRPC port ");
    if (at == std::string::npos) std::abort();
    port_ = std::atoi(listening.c_str() + at + 10);
    if (ReadUntil("rat-server ready").empty()) std::abort();
  }

  ~ServerProcess() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    close(output_);
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  // Reads lines until one contains `text` (120 s at most).
  std::string ReadUntil(const std::string& text) {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (Clock::now() < deadline) {
      for (size_t end; (end = buffer_.find('\n')) != std::string::npos;) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        if (line.find(text) != std::string::npos) return line;
      }
      pollfd fd{output_, POLLIN, 0};
      if (poll(&fd, 1, 1000) < 0) break;
      if (fd.revents == 0) continue;
      char chunk[4096];
      const ssize_t n = read(output_, chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    return "";
  }

  pid_t pid_ = -1;
  int output_ = -1;
  int port_ = 0;
  std::string buffer_;
};

rat::v1::PredictRequest MakeRequest(int batch_size) {
  rat::v1::PredictRequest request;
  request.set_model("cnn");
  std::string pixels(kImageElements, '\0');
  for (int64_t i = 0; i < kImageElements; ++i)
    pixels[i] = static_cast<char>(i * 7);
  for (int b = 0; b < batch_size; ++b) {
    rat::v1::TensorImage* tensor = request.add_images()->mutable_tensor();
    tensor->set_dtype(rat::v1::DATA_TYPE_UINT8);
    tensor->add_dims(28);
    tensor->add_dims(28);
    tensor->set_data(pixels);
  }
  return request;
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index =
      std::min(values.size() - 1, static_cast<size_t>(q * values.size()));
  return values[index];
}

// Images per second of ScoreEngine::Score on one batch, in this process.
void BM_InProcess(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  at::set_num_threads(static_cast<int>(state.range(1)));
  auto bundle = rat::LoadBundle(BundlePath());
  if (!bundle.ok()) {
    state.SkipWithError(std::string(bundle.status().message()).c_str());
    return;
  }
  const torch::Tensor images = torch::rand({batch_size, 1, 28, 28});
  const rat::ScoreRequest request = Scores();
  for (auto _ : state) {
    auto result = rat::ScoreEngine::Score(bundle->module, images, request);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(result->scores);
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch_size),
                         benchmark::Counter::kIsRate);
}

// `concurrency` clients each send kRequestsPerClient requests of
// `batch_size` images; reports images/s, latency percentiles and RSS.
void BM_Grpc(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  const int concurrency = static_cast<int>(state.range(1));
  const int intra_op_threads = static_cast<int>(state.range(2));
  ServerProcess server(intra_op_threads, 64);
  const double idle_rss_mib = ReadRssKiB(server.pid()) / 1024.0;
  const rat::v1::PredictRequest request = MakeRequest(batch_size);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
                                     grpc::InsecureChannelCredentials());

  std::vector<double> latencies_ms;
  int64_t images = 0;
  int64_t failures = 0;
  double seconds = 0;
  double loaded_rss_mib = 0;
  for (auto _ : state) {
    std::vector<std::vector<double>> per_client(concurrency);
    std::vector<int64_t> failed(concurrency, 0);
    const auto start = Clock::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < concurrency; ++c) {
      clients.emplace_back([&, c] {
        auto stub = rat::v1::Inference::NewStub(channel);
        for (int r = 0; r < kRequestsPerClient; ++r) {
          grpc::ClientContext context;
          rat::v1::PredictResponse response;
          const auto sent = Clock::now();
          if (!stub->Predict(&context, request, &response).ok()) ++failed[c];
          per_client[c].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - sent)
                  .count());
        }
      });
    }
    loaded_rss_mib =
        std::max(loaded_rss_mib, ReadRssKiB(server.pid()) / 1024.0);
    for (std::thread& client : clients) client.join();
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    loaded_rss_mib =
        std::max(loaded_rss_mib, ReadRssKiB(server.pid()) / 1024.0);
    for (int c = 0; c < concurrency; ++c) {
      latencies_ms.insert(latencies_ms.end(), per_client[c].begin(),
                          per_client[c].end());
      failures += failed[c];
    }
    images +=
        static_cast<int64_t>(concurrency) * kRequestsPerClient * batch_size;
  }
  if (failures > 0) state.SkipWithError("some Predict calls failed");
  state.counters["images_per_s"] = images / seconds;
  state.counters["p50_ms"] = Percentile(latencies_ms, 0.50);
  state.counters["p99_ms"] = Percentile(latencies_ms, 0.99);
  state.counters["idle_rss_mib"] = idle_rss_mib;
  state.counters["loaded_rss_mib"] = loaded_rss_mib;
}

// Arguments: images per request (or batch), concurrency, intra-op threads.
BENCHMARK(BM_InProcess)
    ->ArgNames({"batch", "intra_op"})
    ->ArgsProduct({{1, 8, 32, 64}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();
BENCHMARK(BM_Grpc)
    ->ArgNames({"batch", "clients", "intra_op"})
    ->ArgsProduct({{1, 8, 32}, {1, 4, 16}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

}  // namespace
