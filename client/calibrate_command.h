// `rat-client calibrate`: picks a reject threshold for one score from a
// labelled data set and prints the server configuration that applies it.
#ifndef RAT_CLIENT_CALIBRATE_COMMAND_H_
#define RAT_CLIENT_CALIBRATE_COMMAND_H_

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/image_set.h"
#include "client/inference_client.h"
#include "core/data/dataset.h"
#include "core/metrics/metrics.h"

namespace rat::client {

struct CalibrateOptions {
  ClientOptions client;
  std::string model;
  DatasetOptions dataset;
  std::string score = "rr_fast";
  // Exactly one of the two targets is set.
  std::optional<double> target_coverage;  // share of images accepted, (0, 1]
  std::optional<double> target_risk;      // selective risk, (0, 1)
  // Risk target only: the risk bound is valid with probability 1 - delta.
  double delta = 0.001;
  // YAML snippet destination; empty means stdout.
  std::string output_path;
  int batch_size = 64;
  int concurrency = 4;
  bool allow_failures = false;
  bool show_progress = true;
};

struct Calibration {
  ThresholdChoice choice;
  int64_t num_images = 0;     // images with a score
  int64_t images_failed = 0;  // left out because their request failed
  std::string first_error;
  // The models[].reject configuration, with the summary as comments.
  std::string yaml;
};

// Scores `images` with the served parameters and picks the threshold.
// INVALID_ARGUMENT for a missing or doubled target, NOT_FOUND naming the
// target when no threshold reaches the risk, and the server's errors.
absl::StatusOr<Calibration> Calibrate(const CalibrateOptions& options,
                                      const ImageSet& images);

// Returns the process exit code.
int RunCalibrateCommand(const CalibrateOptions& options);

void AddCalibrateCommand(CLI::App& app, int& exit_code);

}  // namespace rat::client

#endif  // RAT_CLIENT_CALIBRATE_COMMAND_H_
