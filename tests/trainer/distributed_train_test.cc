// End-to-end: `rat-train --nproc-per-node 2` on a few hundred Fashion-MNIST
// images, through the launcher, rendezvous, Gloo and the trainer.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

constexpr char kRatTrain[] = RAT_TRAIN_PROGRAM;
constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Runs rat-train with `args`; returns its exit code, or -1 after killing it
// when it runs longer than `limit`.
int RunRatTrain(const std::vector<std::string>& args,
                std::chrono::seconds limit) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(kRatTrain)};
    for (const std::string& arg : args) argv.push_back(strdup(arg.c_str()));
    argv.push_back(nullptr);
    execv(kRatTrain, argv.data());
    _exit(127);
  }

  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGTERM);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::filesystem::path MakeOutputDir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                              (name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(DistributedTrainTest, TwoProcessesTrainOneEpoch) {
  if (!std::filesystem::exists(kFashionMnistDir)) {
    GTEST_SKIP() << kFashionMnistDir << " is missing";
  }
  const std::filesystem::path dir = MakeOutputDir("distributed_train");

  // 400 images, 10% held out: 360 / (2 ranks x 32) gives 5 steps per epoch.
  const int exit_code =
      RunRatTrain({"--nproc-per-node", "2",
                   "--master-port",    std::to_string(FreeLoopbackPort()),
                   "--dataset",        "fashion-mnist",
                   "--data-dir",       kFashionMnistDir,
                   "--train-limit",    "400",
                   "--batch-size",     "32",
                   "--epochs",         "1",
                   "--threads",        "1",
                   "--calibrate",      "0",
                   "--progress",       "log",
                   "--output-dir",     dir.string(),
                   "--metrics-file",   (dir / "metrics.jsonl").string()},
                  std::chrono::seconds(120));

  ASSERT_EQ(exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "model.pt"));
  EXPECT_TRUE(std::filesystem::exists(dir / "checkpoint.pt"));
  std::ifstream metrics_file(dir / "metrics.jsonl");
  std::stringstream metrics;
  metrics << metrics_file.rdbuf();
  EXPECT_THAT(metrics.str(), HasSubstr("\"step\":5,"));
}

TEST(DistributedTrainTest, FailingWorkersSetLauncherExitCode) {
  const std::filesystem::path dir = MakeOutputDir("distributed_train_fail");

  // Both workers fail to load the data set and exit with code 1.
  const int exit_code =
      RunRatTrain({"--nproc-per-node", "2", "--master-port",
                   std::to_string(FreeLoopbackPort()), "--dataset",
                   "fashion-mnist", "--data-dir", (dir / "missing").string(),
                   "--epochs", "1", "--output-dir", dir.string()},
                  std::chrono::seconds(120));

  EXPECT_EQ(exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.pt"));
}

}  // namespace
