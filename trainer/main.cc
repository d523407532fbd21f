// rat-train: trains an image classifier with Radius Aware Training (or a
// baseline) and exports a model bundle with a calibrated model card.
#include <cstdlib>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "core/common/allocator.h"
#include "core/common/status_macros.h"
#include "spdlog/spdlog.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"
#include "trainer/options.h"
#include "trainer/trainer.h"

namespace {

constexpr const char* kLauncherFlags[] = {"--nproc-per-node", "--nnodes",
                                          "--node-rank", "--master-addr",
                                          "--master-port"};

// The command line without the launcher flags, for the worker processes.
std::vector<std::string> WorkerArguments(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    bool launcher = false;
    for (const char* flag : kLauncherFlags) {
      if (arg == flag) {
        launcher = true;
        ++i;  // skip the value
      } else if (absl::StartsWith(arg, std::string(flag) + "=")) {
        launcher = true;
      }
    }
    if (!launcher) args.push_back(arg);
  }
  return args;
}

absl::Status Run(rat::TrainOptions options, bool output_dir_given) {
  std::unique_ptr<rat::Trainer> trainer;
  if (!options.resume.empty()) {
    RAT_ASSIGN_OR_RETURN(rat::CheckpointContents checkpoint,
                         rat::ReadCheckpoint(options.resume));
    options =
        rat::MergeResumeOptions(checkpoint.options, options, output_dir_given);
    RAT_ASSIGN_OR_RETURN(trainer, rat::Trainer::Create(options, &checkpoint));
  } else {
    RAT_ASSIGN_OR_RETURN(trainer, rat::Trainer::Create(options));
  }

  RAT_RETURN_IF_ERROR(trainer->Train());
  if (!trainer->finished()) return absl::OkStatus();
  return trainer->Export().status();
}

}  // namespace

int main(int argc, char** argv) {
  rat::KeepTensorBuffersInHeap();
  CLI::App app{
      "Trains an image classifier with Radius Aware Training (RAT), FGSM "
      "adversarial training or plain training, writes resumable checkpoints "
      "and exports a model bundle whose card carries score temperatures and "
      "a reject threshold tuned on a hold-out split."};
  rat::TrainOptions options;
  rat::AddTrainOptions(app, options);
  rat::LaunchOptions launch;
  app.add_option("--nproc-per-node", launch.nproc_per_node,
                 "Start this many data-parallel worker processes")
      ->capture_default_str();
  app.add_option("--nnodes", launch.nnodes, "Number of machines")
      ->capture_default_str();
  app.add_option("--node-rank", launch.node_rank, "Index of this machine")
      ->capture_default_str();
  app.add_option("--master-addr", launch.master_addr,
                 "Rendezvous address of rank 0")
      ->capture_default_str();
  app.add_option("--master-port", launch.master_port,
                 "Rendezvous TCP port of rank 0")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const bool is_worker = std::getenv("RANK") != nullptr;
  if (!is_worker && (launch.nproc_per_node > 1 || launch.nnodes > 1)) {
#ifdef RAT_HAVE_DISTRIBUTED
    return rat::LaunchWorkers(launch, WorkerArguments(argc, argv));
#else
    spdlog::error(
        "--nproc-per-node {} needs the distributed trainer, which "
        "this build lacks",
        launch.nproc_per_node);
    return 2;
#endif
  }

  absl::Status status = Run(options, app.count("--output-dir") > 0);
  if (!status.ok()) {
    spdlog::error("{}", status.ToString());
    return 1;
  }
  return 0;
}
