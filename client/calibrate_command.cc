#include "client/calibrate_command.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/bench_runner.h"
#include "client/cli.h"
#include "client/progress.h"
#include "client/score_names.h"
#include "core/common/status_macros.h"

namespace rat::client {
namespace {

absl::Status ValidateTargets(const CalibrateOptions& options) {
  if (options.target_coverage.has_value() == options.target_risk.has_value()) {
    return absl::InvalidArgumentError(
        "set exactly one of --target-coverage and --target-risk");
  }
  if (options.target_coverage.has_value() &&
      !(*options.target_coverage > 0 && *options.target_coverage <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--target-coverage must be in (0, 1], got ", *options.target_coverage));
  }
  if (options.target_risk.has_value() &&
      !(*options.target_risk > 0 && *options.target_risk < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--target-risk must be in (0, 1), got ", *options.target_risk));
  }
  if (!(options.delta > 0 && options.delta < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--delta must be in (0, 1), got ", options.delta));
  }
  return absl::OkStatus();
}

std::string FormatYaml(const CalibrateOptions& options, const ImageSet& images,
                       const Calibration& calibration) {
  const ThresholdChoice& choice = calibration.choice;
  std::string method;
  if (options.target_coverage.has_value()) {
    method = absl::StrFormat("target coverage %g", *options.target_coverage);
  } else {
    method = absl::StrFormat(
        "target selective risk %g at confidence 1 - %g, upper bound %.6f",
        *options.target_risk, options.delta, choice.risk_upper_bound);
  }
  std::string yaml = absl::StrFormat(
      "# rat-client calibrate: %s on %s %s (%d images), %s\n"
      "# achieved coverage %.6f, selective risk %.6f\n",
      options.score, images.name, options.dataset.split, calibration.num_images,
      method, choice.coverage, choice.risk);
  absl::StrAppendFormat(&yaml,
                        "models:\n"
                        "  - name: %s\n"
                        "    reject:\n"
                        "      score: %s\n"
                        "      threshold: %.17g\n",
                        options.model, options.score, choice.threshold);
  return yaml;
}

}  // namespace

absl::StatusOr<Calibration> Calibrate(const CalibrateOptions& options,
                                      const ImageSet& images) {
  RAT_RETURN_IF_ERROR(ValidateTargets(options));
  RAT_ASSIGN_OR_RETURN(rat::v1::ScoreType type, ParseScoreType(options.score));
  RAT_ASSIGN_OR_RETURN(std::unique_ptr<InferenceClient> client,
                       InferenceClient::Create(options.client));
  RAT_RETURN_IF_ERROR(CheckModelInput(*client, options.model, images));

  ProgressBar progress("calibrate", options.show_progress);
  RunOptions run;
  run.model = options.model;
  run.scores = {type};
  run.batch_size = options.batch_size;
  run.concurrency = options.concurrency;
  run.on_progress = [&progress](int64_t done, int64_t total) {
    progress.Update(done, total);
  };
  std::vector<int64_t> all(images.size());
  std::iota(all.begin(), all.end(), 0);
  RAT_ASSIGN_OR_RETURN(RunResult result,
                       RunPredictions(*client, images, all, run));
  progress.Finish();

  std::vector<double> values;
  std::vector<bool> correct;
  for (size_t i = 0; i < all.size(); ++i) {
    if (result.predictions[i] < 0) continue;
    values.push_back(result.scores[0][i]);
    correct.push_back(result.predictions[i] == images.labels[i]);
  }
  if (values.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "every request failed; first error: ", result.first_error));
  }

  Calibration calibration;
  calibration.num_images = static_cast<int64_t>(values.size());
  calibration.images_failed = result.images_failed;
  calibration.first_error = result.first_error;
  absl::StatusOr<ThresholdChoice> choice =
      options.target_coverage.has_value()
          ? SelectiveRiskAtCoverage(values, correct, *options.target_coverage)
          : GuaranteedRiskThreshold(values, correct, *options.target_risk,
                                    options.delta);
  if (absl::IsNotFound(choice.status())) {
    return absl::NotFoundError(absl::StrFormat(
        "no %s threshold keeps the selective risk below %g with confidence "
        "1 - %g on %d images; raise --target-risk or --delta, or calibrate on "
        "more images",
        options.score, *options.target_risk, options.delta,
        calibration.num_images));
  }
  if (!choice.ok()) return choice.status();
  calibration.choice = *choice;
  calibration.yaml = FormatYaml(options, images, calibration);
  return calibration;
}

int RunCalibrateCommand(const CalibrateOptions& options) {
  absl::StatusOr<ImageSet> images = LoadImageSet(options.dataset);
  if (!images.ok()) return ReportError(images.status());
  absl::StatusOr<Calibration> calibration = Calibrate(options, *images);
  if (!calibration.ok()) return ReportError(calibration.status());

  if (options.output_path.empty()) {
    std::cout << calibration->yaml;
  } else {
    std::ofstream file(options.output_path);
    file << calibration->yaml;
    if (!file.flush()) {
      return ReportError(absl::InternalError(
          absl::StrCat("cannot write ", options.output_path)));
    }
    std::cout << "threshold "
              << absl::StrFormat("%.17g", calibration->choice.threshold)
              << " written to " << options.output_path << "\n";
  }

  if (calibration->images_failed == 0) return 0;
  std::cerr
      << "rat-client: " << calibration->images_failed
      << " images were left out because their request failed; first error: "
      << calibration->first_error << "\n";
  return options.allow_failures ? 0 : 1;
}

void AddCalibrateCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<CalibrateOptions>();
  CLI::App* calibrate = app.add_subcommand(
      "calibrate",
      "Pick a reject threshold for a target coverage or a guaranteed risk");
  AddServerFlags(*calibrate, options->client);
  AddRunFlags(*calibrate,
              {&options->model, &options->batch_size, &options->concurrency,
               &options->allow_failures, &options->show_progress});
  AddDatasetFlags(*calibrate, options->dataset);
  calibrate
      ->add_option("--score", options->score,
                   "Score that decides, one of " + KnownScoreNames())
      ->capture_default_str();
  CLI::Option* coverage =
      calibrate->add_option("--target-coverage", options->target_coverage,
                            "Accept this share of the images, in (0, 1]");
  CLI::Option* risk = calibrate->add_option(
      "--target-risk", options->target_risk,
      "Largest selective risk (error rate among accepted images), in (0, 1)");
  coverage->excludes(risk);
  calibrate
      ->add_option(
          "--delta", options->delta,
          "With --target-risk: the bound holds with probability 1 - delta")
      ->capture_default_str();
  calibrate->add_option(
      "--output", options->output_path,
      "Write the YAML snippet to this file (default: stdout)");
  calibrate->callback(
      [options, &exit_code] { exit_code = RunCalibrateCommand(*options); });
}

}  // namespace rat::client
