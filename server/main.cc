// rat-server: serves model bundles over gRPC until SIGTERM or SIGINT.
#include <CLI/CLI.hpp>
#include <csignal>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/common/allocator.h"
#include "server/config.h"
#include "server/server.h"
#include "spdlog/spdlog.h"

namespace {

struct Flags {
  std::string config_path;
  std::vector<std::string> models;
  std::string listen;
  std::string metrics_listen;
  std::string device = "cpu";
  std::string log_level;
  // Whether the flag was given, so an empty --metrics-listen disables the
  // endpoint instead of keeping the default.
  bool listen_set = false;
  bool metrics_listen_set = false;
  bool log_level_set = false;
};

// Without --config, serves the --model bundles with default settings.
absl::StatusOr<rat::server::ServerConfig> BuildConfig(const Flags& flags) {
  if (!flags.config_path.empty() && !flags.models.empty()) {
    return absl::InvalidArgumentError(
        "use either --config FILE or --model NAME=PATH, not both");
  }
  rat::server::ServerConfig config;
  if (!flags.config_path.empty()) {
    absl::StatusOr<rat::server::ServerConfig> loaded =
        rat::server::LoadConfigFile(flags.config_path);
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  for (const std::string& flag : flags.models) {
    absl::StatusOr<rat::server::ModelConfig> model =
        rat::server::ParseModelFlag(flag);
    if (!model.ok()) return model.status();
    model->device = flags.device;
    config.models.push_back(*std::move(model));
  }
  if (flags.listen_set) config.listen = flags.listen;
  if (flags.metrics_listen_set) config.metrics_listen = flags.metrics_listen;
  if (flags.log_level_set) config.log_level = flags.log_level;
  absl::Status valid = rat::server::ValidateConfig(config);
  if (!valid.ok()) return valid;
  return config;
}

int Serve(const rat::server::ServerConfig& config) {
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  // Block the stop signals before any thread starts, so every thread
  // inherits the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<rat::server::Server>> server =
      rat::server::Server::Create(config);
  absl::Status started = server.ok() ? (*server)->Start() : server.status();
  if (started.ok()) started = (*server)->LoadModels();
  if (!started.ok()) {
    spdlog::error("rat-server failed to start: {}",
                  std::string(started.message()));
    return 1;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown(absl::Seconds(config.shutdown_grace_seconds));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  rat::KeepTensorBuffersInHeap();
  CLI::App app{
      "rat-server: serves image classifiers with misclassification "
      "scores over gRPC"};
  Flags flags;
  app.add_option("--config", flags.config_path, "YAML configuration file");
  app.add_option(
      "--model", flags.models,
      "Serve a bundle as NAME=PATH (repeatable); used without --config");
  app.add_option("--listen", flags.listen,
                 "gRPC address host:port (default 127.0.0.1:50051)");
  app.add_option(
      "--metrics-listen", flags.metrics_listen,
      "Prometheus /metrics address host:port (default 127.0.0.1:9090; "
      "empty disables it)");
  app.add_option("--device", flags.device,
                 "Device of --model bundles: cpu or cuda:N")
      ->capture_default_str();
  app.add_option(
      "--log-level", flags.log_level,
      "trace, debug, info, warn, error, critical or off (default info)");
  CLI11_PARSE(app, argc, argv);
  flags.listen_set = app.count("--listen") > 0;
  flags.metrics_listen_set = app.count("--metrics-listen") > 0;
  flags.log_level_set = app.count("--log-level") > 0;

  absl::StatusOr<rat::server::ServerConfig> config = BuildConfig(flags);
  if (!config.ok()) {
    spdlog::error("invalid configuration: {}",
                  std::string(config.status().message()));
    return 2;
  }
  return Serve(*config);
}
