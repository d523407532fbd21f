#include "client/cli.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_join.h"
#include "client/bench_command.h"
#include "client/calibrate_command.h"
#include "client/predict_command.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace rat::client {
namespace {

// Logs go to stderr so that stdout holds only the requested output.
void UseStderrLogger() {
  static const auto logger = spdlog::stderr_color_mt("rat-client");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);
}

}  // namespace

void AddServerFlags(CLI::App& command, ClientOptions& options) {
  command
      .add_option("--server", options.address,
                  "rat-server gRPC address, host:port")
      ->envname("RAT_SERVER")
      ->capture_default_str();
  command
      .add_option("--timeout-ms", options.timeout_ms,
                  "Deadline of each request (milliseconds)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command
      .add_option("--max-message-bytes", options.max_message_bytes,
                  "Largest gRPC message sent or received (bytes)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

void AddRunFlags(CLI::App& command, const RunFlagTargets& targets) {
  command.add_option("--model", *targets.model, "Model name on the server")
      ->required();
  command
      .add_option("--batch-size", *targets.batch_size,
                  "Images per Predict request")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command
      .add_option("--concurrency", *targets.concurrency,
                  "Predict requests in flight at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command.add_flag(
      "--allow-failures", *targets.allow_failures,
      "Exit 0 even when some requests failed (they are still reported)");
  command.add_flag(
      "!--no-progress", *targets.show_progress,
      "Do not draw the progress bar (it is only drawn on a terminal)");
}

void AddDatasetFlags(CLI::App& command, DatasetOptions& options) {
  command
      .add_option("--dataset", options.name,
                  "Data set: " + absl::StrJoin(DatasetNames(), "|"))
      ->capture_default_str();
  command.add_option("--split", options.split, "train or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "test"}));
  command.add_option("--data-dir", options.root,
                     "Folder with the data set files (default: "
                     "$DATASET_ROOT_DIR, then the data set's standard folder)");
  command
      .add_option("--limit", options.limit,
                  "Use only the first N images (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      .add_option(
          "--image-size", options.image_size,
          "imagefolder: output size after resize and center crop (pixels)")
      ->capture_default_str();
  command
      .add_option("--channels", options.channels,
                  "imagefolder: 1 (grayscale) or 3 (RGB)")
      ->capture_default_str();
  command
      .add_option("--corruption", options.corruption,
                  "cifar10c: corruption name")
      ->capture_default_str();
  command
      .add_option("--severity", options.severity,
                  "cifar10c: severity 1-5 (0 = all five)")
      ->capture_default_str()
      ->check(CLI::Range(0, 5));
}

int ReportError(const absl::Status& status) {
  std::cerr << "rat-client: " << status.message() << "\n";
  return 1;
}

int RunCli(const std::vector<std::string>& args) {
  CLI::App app{
      "rat-client: check a model served by rat-server: one-off predictions, "
      "MisD benchmarks on labelled data sets, and reject-threshold "
      "calibration"};
  app.require_subcommand(1);
  UseStderrLogger();
  app.add_option_function<std::string>(
         "--log-level",
         [](const std::string& level) {
           spdlog::set_level(spdlog::level::from_str(level));
         },
         "trace, debug, info, warn, error or off (logs go to stderr); "
         "default warn")
      ->check(
          CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  int exit_code = 0;
  AddPredictCommand(app, exit_code);
  AddModelsCommand(app, exit_code);
  AddHealthCommand(app, exit_code);
  AddBenchCommand(app, exit_code);
  AddCalibrateCommand(app, exit_code);

  std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
  try {
    app.parse(std::move(reversed));
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  return exit_code;
}

}  // namespace rat::client
