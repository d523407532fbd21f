// Launcher flag parsing and the entry point rat-train's main() calls first.
#include "trainer/launcher.h"

#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace rat {
namespace {

absl::Status CheckRange(const char* flag, int value, int min_value,
                        int max_value) {
  if (value >= min_value && value <= max_value) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      flag, " must be in [", min_value, ", ", max_value, "], got ", value));
}

}  // namespace

absl::Status ValidateLaunchOptions(const LaunchOptions& options) {
  // A bound against typos, not a tested scale limit.
  constexpr int kMaxProcesses = 4096;
  RAT_RETURN_IF_ERROR(
      CheckRange("--nproc-per-node", options.nproc_per_node, 1, kMaxProcesses));
  RAT_RETURN_IF_ERROR(CheckRange("--nnodes", options.nnodes, 1, kMaxProcesses));
  RAT_RETURN_IF_ERROR(
      CheckRange("--node-rank", options.node_rank, 0, options.nnodes - 1));
  RAT_RETURN_IF_ERROR(
      CheckRange("--master-port", options.master_port, 1, 65535));
  return CheckRange("--grace-period-seconds", options.grace_period_seconds, 0,
                    3600);
}

absl::StatusOr<LauncherCommand> ParseLauncherCommand(int argc,
                                                     const char* const* argv) {
  LauncherCommand command;
  LaunchOptions& options = command.options;

  // Parsing stops at the first argument that is not a launcher flag, so the
  // training flags (and their --help) pass through untouched.
  CLI::App app("rat-train launcher");
  app.set_help_flag();
  app.prefix_command();
  CLI::Option* nproc =
      app.add_option("--nproc-per-node", options.nproc_per_node,
                     "Worker processes to start on this node");
  CLI::Option* nnodes =
      app.add_option("--nnodes", options.nnodes, "Nodes in the job");
  CLI::Option* node_rank = app.add_option("--node-rank", options.node_rank,
                                          "Index of this node, from 0");
  CLI::Option* master_addr = app.add_option(
      "--master-addr", options.master_addr, "Address of node 0's rendezvous");
  CLI::Option* master_port = app.add_option(
      "--master-port", options.master_port, "TCP port of the rendezvous");
  CLI::Option* grace = app.add_option(
      "--grace-period-seconds", options.grace_period_seconds,
      "Seconds between SIGTERM and SIGKILL when stopping workers");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid launcher flags: ", e.what()));
  }

  command.launch = nproc->count() > 0;
  const bool other_flags = nnodes->count() + node_rank->count() +
                               master_addr->count() + master_port->count() +
                               grace->count() >
                           0;
  if (!command.launch && other_flags) {
    return absl::InvalidArgumentError(
        "launcher flags (--nnodes, --node-rank, --master-addr, --master-port, "
        "--grace-period-seconds) need --nproc-per-node");
  }
  if (command.launch) {
    RAT_RETURN_IF_ERROR(ValidateLaunchOptions(options));
    if (options.nnodes > 1 && master_addr->count() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--nnodes ", options.nnodes,
                       " needs --master-addr, the address of node 0 that "
                       "every node reaches"));
    }
  }
  command.worker_args = app.remaining();
  return command;
}

bool MaybeRunLauncher(int argc, char** argv, int* exit_code) {
  absl::StatusOr<LauncherCommand> command = ParseLauncherCommand(argc, argv);
  if (!command.ok()) {
    std::fprintf(stderr, "rat-train: %s\n",
                 std::string(command.status().message()).c_str());
    *exit_code = 2;
    return true;
  }
  if (!command->launch) return false;

  *exit_code = LaunchWorkers(command->options, command->worker_args);
  return true;
}

}  // namespace rat
