#include "trainer/distributed.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trainer/distributed_test_model.h"
#include "trainer/distributed_bucket.h"
#include "trainer/launcher.h"

namespace rat {
namespace {

using ::testing::HasSubstr;

constexpr char kWorker[] = RAT_DISTRIBUTED_TEST_WORKER;
constexpr int kTimeoutSeconds = 5;

// A port that was free a moment ago: bound on 127.0.0.1:0, then released.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory for one test's worker outputs.
std::filesystem::path MakeOutputDir() {
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                              (std::string("distributed_") + info->name() +
                               "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct Child {
  pid_t pid = -1;
  int exit_code = -1;  // 128 + signal for a killed child
};

// Starts the worker program with `args` and `env` added to the environment.
pid_t Spawn(const std::vector<std::string>& args,
            const std::vector<std::string>& env) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  for (const std::string& setting : env) putenv(strdup(setting.c_str()));
  std::vector<char*> argv = {const_cast<char*>(kWorker)};
  for (const std::string& arg : args) argv.push_back(strdup(arg.c_str()));
  argv.push_back(nullptr);
  execv(kWorker, argv.data());
  _exit(127);
}

// Waits for all `children` up to `limit`, then kills the rest; returns false
// when any had to be killed.
bool WaitAll(std::vector<Child>& children, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  size_t done = 0;
  while (done < children.size() &&
         std::chrono::steady_clock::now() < deadline) {
    for (Child& child : children) {
      int status = 0;
      if (child.exit_code >= 0 ||
          waitpid(child.pid, &status, WNOHANG) != child.pid) {
        continue;
      }
      child.exit_code =
          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      ++done;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (done == children.size()) return true;
  for (Child& child : children) {
    if (child.exit_code >= 0) continue;
    kill(child.pid, SIGKILL);
    waitpid(child.pid, nullptr, 0);
  }
  return false;
}

// Runs `world_size` workers of `scenario` on loopback as ranks 0..n-1.
std::vector<Child> RunRanks(const std::string& scenario, int world_size,
                            const std::filesystem::path& out_dir,
                            int timeout_seconds = kTimeoutSeconds) {
  const int port = FreeLoopbackPort();
  std::vector<Child> children;
  for (int rank = 0; rank < world_size; ++rank) {
    children.push_back({Spawn(
        {scenario, out_dir.string(), std::to_string(timeout_seconds)},
        {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank),
         "WORLD_SIZE=" + std::to_string(world_size), "MASTER_ADDR=127.0.0.1",
         "MASTER_PORT=" + std::to_string(port)})});
  }
  EXPECT_TRUE(WaitAll(children, std::chrono::seconds(60)));
  return children;
}

std::vector<double> ParseValues(const std::string& text) {
  std::vector<double> values;
  std::istringstream in(text);
  double value = 0;
  while (in >> value) values.push_back(value);
  return values;
}

TEST(DistributedGlooTest, TwoRanksMatchOneProcessOnCombinedBatch) {
  const std::filesystem::path dir = MakeOutputDir();
  std::vector<Child> children = RunRanks("train", 2, dir);
  ASSERT_EQ(children[0].exit_code, 0);
  ASSERT_EQ(children[1].exit_code, 0);

  DistributedOptions options;
  auto single = Distributed::Create(options, "cpu");
  ASSERT_TRUE(single.ok()) << single.status();
  torch::jit::Module module = testing::MakeTinyModel(/*seed=*/100);
  ASSERT_TRUE(testing::TrainTinyModel(module, **single, 5, 16).ok());
  const std::vector<double> expected = testing::FlattenState(module);

  const std::vector<double> rank0 = ParseValues(ReadFile(dir / "rank0.txt"));
  const std::vector<double> rank1 = ParseValues(ReadFile(dir / "rank1.txt"));
  ASSERT_EQ(rank0.size(), expected.size());
  ASSERT_EQ(rank1.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(rank0[i], rank1[i]) << "value " << i;
    EXPECT_NEAR(rank0[i], expected[i], 1e-5) << "value " << i;
  }
  // The int64 "steps" buffer is last and counts the 5 steps.
  EXPECT_EQ(rank0.back(), 5.0);
}

TEST(DistributedGlooTest, SumScalarsAddsOverRanks) {
  const std::filesystem::path dir = MakeOutputDir();
  std::vector<Child> children = RunRanks("sum", 2, dir);
  ASSERT_EQ(children[0].exit_code, 0);
  ASSERT_EQ(children[1].exit_code, 0);

  EXPECT_EQ(ReadFile(dir / "rank0.txt"), "3 1\n");
  EXPECT_EQ(ReadFile(dir / "rank1.txt"), "3 1\n");
}

TEST(DistributedGlooTest, DeadWorkerFailsCollectiveWithinTimeout) {
  const std::filesystem::path dir = MakeOutputDir();
  std::vector<Child> children = RunRanks("dead", 2, dir);
  ASSERT_EQ(children[0].exit_code, 0);
  ASSERT_EQ(children[1].exit_code, 0);

  std::istringstream result(ReadFile(dir / "rank0.txt"));
  std::string code;
  double seconds = -1;
  std::string message;
  result >> code >> seconds;
  std::getline(result >> std::ws, message);
  EXPECT_THAT(code, ::testing::AnyOf("UNAVAILABLE", "DEADLINE_EXCEEDED"));
  EXPECT_GE(seconds, 0.0);
  EXPECT_LT(seconds, kTimeoutSeconds + 2.0);
  EXPECT_THAT(message, HasSubstr("gradient all-reduce failed on rank 0 of 2"));
}

TEST(DistributedGlooTest, StuckWorkerFailsCollectiveAtTimeout) {
  constexpr int kShortTimeoutSeconds = 2;
  const std::filesystem::path dir = MakeOutputDir();
  std::vector<Child> children = RunRanks("stuck", 2, dir, kShortTimeoutSeconds);
  ASSERT_EQ(children[0].exit_code, 0);
  ASSERT_EQ(children[1].exit_code, 0);

  std::istringstream result(ReadFile(dir / "rank0.txt"));
  std::string code;
  double seconds = -1;
  result >> code >> seconds;
  EXPECT_EQ(code, "DEADLINE_EXCEEDED");
  EXPECT_GE(seconds, kShortTimeoutSeconds - 0.1);
  EXPECT_LT(seconds, kShortTimeoutSeconds + 2.0);
}

TEST(DistributedGlooTest, MissingPeerFailsRendezvousWithinTimeout) {
  DistributedOptions options;
  options.world_size = 2;
  options.master_port = FreeLoopbackPort();
  options.timeout_seconds = 2;
  const auto begin = std::chrono::steady_clock::now();

  auto distributed = Distributed::Create(options, "cpu");

  EXPECT_EQ(distributed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(distributed.status().message()),
              HasSubstr("rank 0 of 2 could not connect to its peers"));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
}

TEST(LauncherTest, ParsesLeadingFlagsOnly) {
  const char* argv[] = {"rat-train",     "--nproc-per-node=3",
                        "--master-port", "29600",
                        "--epochs",      "2",
                        "--nnodes",      "5"};

  auto command = ParseLauncherCommand(8, argv);

  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_TRUE(command->launch);
  EXPECT_EQ(command->options.nproc_per_node, 3);
  EXPECT_EQ(command->options.master_port, 29600);
  EXPECT_EQ(command->options.nnodes, 1);
  EXPECT_EQ(command->worker_args,
            std::vector<std::string>({"--epochs", "2", "--nnodes", "5"}));
}

TEST(LauncherTest, TrainingCommandIsNotLaunched) {
  const char* argv[] = {"rat-train", "--epochs", "2", "--help"};

  auto command = ParseLauncherCommand(4, argv);

  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_FALSE(command->launch);
  EXPECT_EQ(command->worker_args,
            std::vector<std::string>({"--epochs", "2", "--help"}));
}

TEST(LauncherTest, RejectsNodeRankOutOfRange) {
  const char* argv[] = {"rat-train", "--nproc-per-node", "2", "--nnodes",
                        "2",         "--node-rank",      "2", "--master-addr",
                        "10.0.0.1",  "--epochs"};

  auto command = ParseLauncherCommand(10, argv);

  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(command.status().message(), "--node-rank must be in [0, 1], got 2");
}

TEST(LauncherTest, RejectsManyNodesWithoutMasterAddr) {
  const char* argv[] = {"rat-train", "--nproc-per-node", "2", "--nnodes", "2"};

  auto command = ParseLauncherCommand(5, argv);

  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(command.status().message(),
            "--nnodes 2 needs --master-addr, the address of node 0 that every "
            "node reaches");
}

TEST(LauncherTest, RejectsLauncherFlagsWithoutNproc) {
  const char* argv[] = {"rat-train", "--master-port", "29600", "--epochs", "1"};

  auto command = ParseLauncherCommand(5, argv);

  EXPECT_EQ(command.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(command.status().message()),
              HasSubstr("need --nproc-per-node"));
}

TEST(LauncherTest, StartsWorkersWithTorchrunVariables) {
  const std::filesystem::path dir = MakeOutputDir();
  const std::string port = std::to_string(FreeLoopbackPort());
  std::vector<Child> launcher = {
      {Spawn({"--nproc-per-node", "2", "--master-port", port, "env",
              dir.string(), "5", "--extra"},
             {"RANK=9"})}};

  ASSERT_TRUE(WaitAll(launcher, std::chrono::seconds(60)));

  EXPECT_EQ(launcher[0].exit_code, 0);
  for (int rank = 0; rank < 2; ++rank) {
    const std::string r = std::to_string(rank);
    EXPECT_EQ(ReadFile(dir / ("rank" + r + ".txt")),
              "RANK=" + r + "\nLOCAL_RANK=" + r +
                  "\nWORLD_SIZE=2\nLOCAL_WORLD_SIZE=2\nMASTER_ADDR=127.0.0.1"
                  "\nMASTER_PORT=" +
                  port + "\narg=env\narg=" + dir.string() +
                  "\narg=5\narg=--extra\n");
  }
}

TEST(LauncherTest, FailingWorkerStopsOthersAndSetsExitCode) {
  const std::filesystem::path dir = MakeOutputDir();
  const std::string port = std::to_string(FreeLoopbackPort());
  // Rank 0 waits up to 30 s for rank 1 at the rendezvous, so the launcher
  // has to stop it once rank 1 exits with code 7.
  std::vector<Child> launcher = {{Spawn(
      {"--nproc-per-node", "2", "--master-port", port, "--grace-period-seconds",
       "2", "exit", dir.string(), "30", "1", "7"},
      {})}};
  const auto begin = std::chrono::steady_clock::now();

  ASSERT_TRUE(WaitAll(launcher, std::chrono::seconds(60)));

  EXPECT_EQ(launcher[0].exit_code, 7);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(20));
}

TEST(LauncherTest, ForwardsSigtermToWorkers) {
  const std::filesystem::path dir = MakeOutputDir();
  const std::string port = std::to_string(FreeLoopbackPort());
  std::vector<Child> launcher = {
      {Spawn({"--nproc-per-node", "2", "--master-port", port, "ready",
              dir.string(), "30"},
             {})}};

  // Both workers announce themselves once they have joined the group.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(std::filesystem::exists(dir / "ready0") &&
           std::filesystem::exists(dir / "ready1")) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(dir / "ready1"));
  kill(launcher[0].pid, SIGTERM);

  ASSERT_TRUE(WaitAll(launcher, std::chrono::seconds(20)));
  EXPECT_EQ(launcher[0].exit_code, 128 + SIGTERM);
}

TEST(LauncherTest, LaunchWorkersRejectsInvalidOptions) {
  LaunchOptions options;
  options.nproc_per_node = 0;

  EXPECT_EQ(LaunchWorkers(options, {"--epochs", "1"}), 2);
}

}  // namespace
}  // namespace rat
