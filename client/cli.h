// The rat-client command line: subcommand registration and the flags the
// subcommands share.
#ifndef RAT_CLIENT_CLI_H_
#define RAT_CLIENT_CLI_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/inference_client.h"
#include "core/data/dataset.h"

namespace rat::client {

// Parses `args` (args[0] is the program name), runs the subcommand and
// returns the process exit code. Output goes to stdout, errors and logs to
// stderr.
int RunCli(const std::vector<std::string>& args);

// --server, --timeout-ms and --max-message-bytes.
void AddServerFlags(CLI::App& command, ClientOptions& options);

// --dataset, --split, --data-dir, --limit and the ImageFolder/CIFAR-10-C
// options.
void AddDatasetFlags(CLI::App& command, DatasetOptions& options);

// Pointers to the option fields that every command sending a data set to
// the server has.
struct RunFlagTargets {
  std::string* model;
  int* batch_size;
  int* concurrency;
  bool* allow_failures;
  bool* show_progress;
};

// --model (required), --batch-size, --concurrency, --allow-failures and
// --no-progress.
void AddRunFlags(CLI::App& command, const RunFlagTargets& targets);

// Prints "rat-client: <message>" on stderr and returns exit code 1.
int ReportError(const absl::Status& status);

}  // namespace rat::client

#endif  // RAT_CLIENT_CLI_H_
