// The `--nproc-per-node` launcher of rat-train: starts the data-parallel
// workers on this node and supervises them.
#ifndef RAT_TRAINER_LAUNCHER_H_
#define RAT_TRAINER_LAUNCHER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/distributed.h"

namespace rat {

// The launcher flags of a command line and the arguments left for the workers.
struct LauncherCommand {
  bool launch = false;  // true when --nproc-per-node was given
  LaunchOptions options;
  std::vector<std::string> worker_args;  // arguments after the program name
};

// Returns INVALID_ARGUMENT naming the flag when a field of `options` is out
// of range (--nproc-per-node and --nnodes in [1, 4096], --node-rank below
// --nnodes, --master-port in [1, 65535], --grace-period-seconds in
// [0, 3600]).
absl::Status ValidateLaunchOptions(const LaunchOptions& options);

// Parses the launcher flags that lead the command line, before the first
// other argument: --nproc-per-node N, --nnodes M, --node-rank R,
// --master-addr A, --master-port P, --grace-period-seconds S (each also as
// --flag=value). Everything from the first other argument on is kept for the
// workers unchanged. Returns INVALID_ARGUMENT for a value out of range, for
// launcher flags without --nproc-per-node, and for --nnodes > 1 without
// --master-addr.
absl::StatusOr<LauncherCommand> ParseLauncherCommand(int argc,
                                                     const char* const* argv);

// Runs the launcher when the command line starts with launcher flags.
// Returns false (and leaves `exit_code` alone) when it does not, so the
// caller goes on as a training process. Otherwise returns true with the
// process exit code in `exit_code`: the workers' result from LaunchWorkers,
// or 2 after printing a usage error. Call it first in main().
bool MaybeRunLauncher(int argc, char** argv, int* exit_code);

}  // namespace rat

#endif  // RAT_TRAINER_LAUNCHER_H_
