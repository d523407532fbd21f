// Runs the rat-server binary: start-up, configuration errors and SIGTERM
// while requests are in flight.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/server/server_test_support.h"

namespace rat::server {
namespace {

using ::rat::server::testing::Connect;
using ::rat::server::testing::FloatImage;
using ::rat::server::testing::HttpGet;
using ::rat::server::testing::MetricValue;
using ::rat::server::testing::SlowIterations;
using ::rat::server::testing::TempPath;
using ::rat::server::testing::TestModelOptions;
using ::rat::server::testing::WriteTestBundle;

using Clock = std::chrono::steady_clock;

// A rat-server child process whose stdout and stderr go to one pipe.
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& arguments) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(RAT_SERVER_BINARY));
      for (const std::string& argument : arguments) {
        argv.push_back(const_cast<char*>(argument.c_str()));
      }
      argv.push_back(nullptr);
      execv(RAT_SERVER_BINARY, argv.data());
      _exit(127);
    }
    close(fds[1]);
    output_fd_ = fds[0];
  }

  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(output_fd_);
  }

  // Reads output until a line contains `text` or `timeout` passes; returns
  // that line, or "" on timeout or end of output.
  std::string WaitForLine(const std::string& text,
                          std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      for (size_t end; (end = buffer_.find('\n')) != std::string::npos;) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        log_ += line + "\n";
        if (line.find(text) != std::string::npos) return line;
      }
      pollfd fd{output_fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      if (poll(&fd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <=
          0) {
        break;
      }
      char chunk[4096];
      const ssize_t n = read(output_fd_, chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    return "";
  }

  // Waits for the process to end and returns its exit code (-1 on a signal).
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid() const { return pid_; }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
  bool exited_ = false;
  std::string buffer_;
  std::string log_;
};

// The number after `key` in `line`, e.g. "gRPC port 41234".
int PortAfter(const std::string& line, const std::string& key) {
  const size_t at = line.find(key);
  if (at == std::string::npos) return 0;
  int port = 0;
  const std::string rest = line.substr(at + key.size());
  EXPECT_TRUE(absl::SimpleAtoi(
      rest.substr(0, rest.find_first_not_of("0123456789")), &port))
      << line;
  return port;
}

TEST(ShutdownTest, SigtermCompletesInFlightRequests) {
  TestModelOptions slow;
  slow.slow_iterations = SlowIterations(400);
  const std::string bundle = WriteTestBundle("slow", slow);
  const std::string config_path = TempPath("server.yaml");
  std::ofstream(config_path) << "listen: 127.0.0.1:0\n"
                             << "metrics_listen: 127.0.0.1:0\n"
                             << "shutdown_grace_seconds: 60\n"
                             << "models:\n"
                             << "  - name: slow\n"
                             << "    path: " << bundle << "\n"
                             << "    batching: {max_batch_size: 1}\n";
  ServerProcess process({"--config", config_path});
  const std::string listening =
      process.WaitForLine("rat-server listening", std::chrono::seconds(120));
  ASSERT_FALSE(listening.empty()) << process.log();
  const int port = PortAfter(listening, "gRPC port ");
  const int metrics_port = PortAfter(listening, "metrics port ");
  ASSERT_FALSE(
      process.WaitForLine("rat-server ready", std::chrono::seconds(120))
          .empty())
      << process.log();

  constexpr int kRequests = 6;
  std::vector<grpc::Status> statuses(kRequests);
  std::vector<std::thread> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.emplace_back([&, i] {
      rat::v1::PredictRequest request;
      request.set_model("slow");
      *request.add_images() = FloatImage(1, 4, 4, i);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(120));
      rat::v1::PredictResponse response;
      statuses[i] = Connect(port)->Predict(&context, request, &response);
    });
  }

  // SIGTERM once every request has reached the server: each one is either
  // queued or was taken into a batch. Polled with a deadline.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  double arrived = 0;
  double queued = 0;
  while (arrived < kRequests && Clock::now() < deadline) {
    absl::StatusOr<std::string> metrics = HttpGet(metrics_port, "/metrics");
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    queued = MetricValue(*metrics, "rat_queue_depth", "model=\"slow\"");
    arrived = queued + MetricValue(*metrics, "rat_queue_duration_seconds_count",
                                   "model=\"slow\"");
  }
  ASSERT_EQ(arrived, kRequests);
  // At least two requests must still wait, or the test proves nothing.
  ASSERT_GE(queued, 2);
  ASSERT_EQ(kill(process.pid(), SIGTERM), 0);

  for (std::thread& client : clients) client.join();
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_TRUE(statuses[i].ok())
        << "request " << i << ": " << statuses[i].error_message();
  }
  EXPECT_EQ(process.Wait(), 0);
  EXPECT_FALSE(
      process.WaitForLine("rat-server stopped", std::chrono::seconds(5))
          .empty())
      << process.log();
}

TEST(ShutdownTest, ConfigErrorExitsWithKeyPath) {
  const std::string config_path = TempPath("bad.yaml");
  std::ofstream(config_path) << "models:\n  - name: m\n    path: m.pt\n    "
                                "batching: {max_batch_size: abc}\n";
  ServerProcess process({"--config", config_path});
  const std::string line =
      process.WaitForLine("invalid configuration", std::chrono::seconds(60));
  EXPECT_NE(line.find(absl::StrCat(config_path,
                                   ": models[0].batching.max_batch_size: "
                                   "expected an integer in [1, 4096], got "
                                   "\"abc\"")),
            std::string::npos)
      << process.log();
  EXPECT_EQ(process.Wait(), 2);
}

TEST(ShutdownTest, ModelFlagServesWithoutConfig) {
  const std::string bundle = WriteTestBundle("flag", TestModelOptions());
  ServerProcess process({"--model", "flag=" + bundle, "--listen", "127.0.0.1:0",
                         "--metrics-listen", ""});
  const std::string listening =
      process.WaitForLine("rat-server listening", std::chrono::seconds(120));
  ASSERT_FALSE(listening.empty()) << process.log();
  ASSERT_FALSE(
      process.WaitForLine("rat-server ready", std::chrono::seconds(120))
          .empty())
      << process.log();

  rat::v1::PredictRequest request;
  request.set_model("flag");
  *request.add_images() = FloatImage(1, 4, 4, 0);
  grpc::ClientContext context;
  rat::v1::PredictResponse response;
  grpc::Status status = Connect(PortAfter(listening, "gRPC port "))
                            ->Predict(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(kill(process.pid(), SIGINT), 0);
  EXPECT_EQ(process.Wait(), 0);
}

}  // namespace
}  // namespace rat::server
