// LaunchWorkers: starts the worker processes of one node and supervises them
// until all have exited.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "trainer/distributed.h"
#include "trainer/launcher.h"

extern char** environ;

namespace rat {
namespace {

using Clock = std::chrono::steady_clock;

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
};

// The exit code a shell would report for `wait_status`.
int ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

// This process's environment with the torchrun variables replaced.
std::vector<std::string> WorkerEnvironment(const LaunchOptions& options,
                                           int local_rank) {
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"RANK",
       std::to_string(options.node_rank * options.nproc_per_node + local_rank)},
      {"LOCAL_RANK", std::to_string(local_rank)},
      {"WORLD_SIZE", std::to_string(options.nnodes * options.nproc_per_node)},
      {"LOCAL_WORLD_SIZE", std::to_string(options.nproc_per_node)},
      {"MASTER_ADDR", options.master_addr},
      {"MASTER_PORT", std::to_string(options.master_port)},
  };

  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const bool replaced =
        std::any_of(settings.begin(), settings.end(), [&](const auto& setting) {
          return absl::StartsWith(*entry, setting.first + "=");
        });
    if (!replaced) environment.emplace_back(*entry);
  }
  for (const auto& [name, value] : settings) {
    environment.push_back(absl::StrCat(name, "=", value));
  }
  return environment;
}

std::vector<char*> PointerArray(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Forks one worker into process group `group` (0: a new group led by the
// worker) and executes `program` there. Returns the pid, or -1 with errno.
pid_t StartWorker(const std::string& program, std::vector<std::string> argv,
                  std::vector<std::string> environment, pid_t group,
                  const sigset_t& original_mask) {
  std::vector<char*> argv_pointers = PointerArray(argv);
  std::vector<char*> environment_pointers = PointerArray(environment);
  const pid_t launcher = getpid();

  const pid_t pid = fork();
  if (pid != 0) {
    // Set in both processes so the group exists before either proceeds.
    if (pid > 0) setpgid(pid, group == 0 ? pid : group);
    return pid;
  }

  // Child: only async-signal-safe calls until execve. The own process group
  // keeps a terminal's Ctrl-C from reaching the workers twice, and the
  // parent-death signal stops them if the launcher is killed outright.
  setpgid(0, group);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != launcher) _exit(128 + SIGKILL);
  sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  execve(program.c_str(), argv_pointers.data(), environment_pointers.data());
  _exit(127);
}

class Supervisor {
 public:
  Supervisor(const LaunchOptions& options, std::vector<Worker> workers,
             pid_t group)
      : options_(options), workers_(std::move(workers)), group_(group) {}

  // Waits until every worker has exited; returns the first failure's code.
  int Run(const sigset_t& watched) {
    while (AnyRunning()) {
      siginfo_t info;
      const timespec wait_time = NextWait();
      const int signal_number = sigtimedwait(&watched, &info, &wait_time);
      if (signal_number == SIGINT || signal_number == SIGTERM) {
        spdlog::warn("launcher received {}; forwarding it to the workers",
                     strsignal(signal_number));
        kill(-group_, signal_number);
        StartStopping();
      }
      ReapExited();
      if (stop_deadline_.has_value() && Clock::now() >= *stop_deadline_) {
        spdlog::warn(
            "workers still running {} s after SIGTERM; sending SIGKILL",
            options_.grace_period_seconds);
        kill(-group_, SIGKILL);
        stop_deadline_.reset();
      }
    }
    return exit_code_;
  }

 private:
  bool AnyRunning() const {
    return std::any_of(workers_.begin(), workers_.end(),
                       [](const Worker& worker) { return worker.running; });
  }

  // At most a second, so a lost SIGCHLD delays reaping by that much only.
  timespec NextWait() const {
    auto wait = std::chrono::nanoseconds(std::chrono::seconds(1));
    if (stop_deadline_.has_value()) {
      wait = std::clamp<std::chrono::nanoseconds>(
          *stop_deadline_ - Clock::now(), std::chrono::milliseconds(1), wait);
    }
    const auto seconds = std::chrono::floor<std::chrono::seconds>(wait);
    return timespec{static_cast<time_t>(seconds.count()),
                    static_cast<long>((wait - seconds).count())};
  }

  // Starts the grace period once; SIGKILL follows when it ends.
  void StartStopping() {
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ =
        Clock::now() + std::chrono::seconds(options_.grace_period_seconds);
  }

  void ReapExited() {
    for (Worker& worker : workers_) {
      if (!worker.running) continue;
      int wait_status = 0;
      if (waitpid(worker.pid, &wait_status, WNOHANG) != worker.pid) continue;

      worker.running = false;
      const int code = ExitCode(wait_status);
      if (code == 0) {
        spdlog::info("worker rank {} (pid {}) finished", worker.rank,
                     worker.pid);
        continue;
      }
      if (exit_code_ != 0)
        continue;  // a worker stopped after the first failure
      exit_code_ = code;
      spdlog::error(
          "worker rank {} (pid {}) exited with code {}; stopping "
          "the other workers",
          worker.rank, worker.pid, code);
      kill(-group_, SIGTERM);
      StartStopping();
    }
  }

  const LaunchOptions options_;
  std::vector<Worker> workers_;
  const pid_t group_;
  int exit_code_ = 0;
  std::optional<Clock::time_point> stop_deadline_;
  bool stopping_ = false;
};

}  // namespace

int LaunchWorkers(const LaunchOptions& options,
                  const std::vector<std::string>& args) {
  if (absl::Status valid = ValidateLaunchOptions(options); !valid.ok()) {
    spdlog::error("invalid launcher options: {}", std::string(valid.message()));
    return 2;
  }

  char program[4096];
  const ssize_t length = readlink("/proc/self/exe", program, sizeof(program));
  if (length <= 0 || length >= static_cast<ssize_t>(sizeof(program))) {
    spdlog::error("failed to resolve /proc/self/exe to start the workers: {}",
                  std::strerror(errno));
    return 1;
  }
  program[length] = '\0';

  // Signals are blocked from here on and consumed with sigtimedwait, so none
  // is lost between starting a worker and waiting for it.
  sigset_t watched;
  sigset_t original_mask;
  sigemptyset(&watched);
  sigaddset(&watched, SIGCHLD);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGTERM);
  sigprocmask(SIG_BLOCK, &watched, &original_mask);

  const int world_size = options.nnodes * options.nproc_per_node;
  spdlog::info(
      "starting {} workers (ranks {} to {} of {}), rendezvous at {}:{}",
      options.nproc_per_node, options.node_rank * options.nproc_per_node,
      (options.node_rank + 1) * options.nproc_per_node - 1, world_size,
      options.master_addr, options.master_port);

  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<Worker> workers;
  pid_t group = 0;
  for (int local_rank = 0; local_rank < options.nproc_per_node; ++local_rank) {
    const pid_t pid =
        StartWorker(program, argv, WorkerEnvironment(options, local_rank),
                    group, original_mask);
    if (pid < 0) {
      spdlog::error("failed to start worker {}: {}", local_rank,
                    std::strerror(errno));
      if (group != 0) kill(-group, SIGTERM);
      break;
    }
    if (group == 0) group = pid;
    workers.push_back(
        {options.node_rank * options.nproc_per_node + local_rank, pid, true});
  }

  Supervisor supervisor(options, workers, group);
  int exit_code = supervisor.Run(watched);
  if (static_cast<int>(workers.size()) < options.nproc_per_node &&
      exit_code == 0) {
    exit_code = 1;
  }
  sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  return exit_code;
}

}  // namespace rat
