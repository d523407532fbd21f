#include "client/bench_command.h"

#include <cmath>
#include <iostream>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/bench_runner.h"
#include "client/cli.h"
#include "client/paper_protocol.h"
#include "client/progress.h"
#include "client/score_names.h"
#include "core/common/status_macros.h"
#include "core/metrics/metrics.h"
#include "spdlog/spdlog.h"

namespace rat::client {
namespace {

using rat::v1::ScoreType;

MeanStd Single(double value) { return MeanStd{value, 0}; }

// Mean and std of a metric over repeats, skipping repeats where it is
// undefined; NaN when it is undefined in all of them.
MeanStd SummarizeOptional(const std::vector<MisdMetrics>& metrics,
                          std::optional<double> MisdMetrics::*field,
                          double scale) {
  std::vector<double> values;
  for (const MisdMetrics& m : metrics) {
    if ((m.*field).has_value()) values.push_back(*(m.*field) * scale);
  }
  if (values.empty()) return MeanStd{std::nan(""), std::nan("")};
  return Summarize(values);
}

void FillLatency(const RunResult& served, BenchReport& report) {
  report.latency.p50_ms = Percentile(served.latencies_ms, 0.50);
  report.latency.p90_ms = Percentile(served.latencies_ms, 0.90);
  report.latency.p99_ms = Percentile(served.latencies_ms, 0.99);
  const int64_t images_ok =
      static_cast<int64_t>(served.predictions.size()) - served.images_failed;
  report.latency.images_per_second =
      served.wall_seconds > 0 ? images_ok / served.wall_seconds : 0;
  report.latency.requests_ok = served.requests_ok;
  report.latency.requests_failed = served.requests_failed;
}

// Share of scored images the server rejected, for the score that decides;
// -1 for the other scores.
double RejectionRate(const RunResult& served, ScoreType type) {
  if (served.decision_score != type) return -1;
  int64_t decided = 0;
  int64_t rejected = 0;
  for (int8_t accepted : served.accepted) {
    if (accepted < 0) continue;
    ++decided;
    if (accepted == 0) ++rejected;
  }
  return decided > 0 ? static_cast<double>(rejected) / decided : -1;
}

// Metrics over every image of the served pass that got a prediction.
absl::Status FillPlainReport(const ImageSet& images,
                             const std::vector<ScoreType>& types,
                             const RunResult& served, BenchReport& report) {
  std::vector<size_t> usable;
  std::vector<bool> correct;
  for (size_t i = 0; i < served.predictions.size(); ++i) {
    if (served.predictions[i] < 0) continue;
    usable.push_back(i);
    report.labels.push_back(images.labels[i]);
    report.predictions.push_back(served.predictions[i]);
    correct.push_back(served.predictions[i] == images.labels[i]);
  }
  if (usable.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "every request failed; first error: ", served.first_error));
  }

  RAT_ASSIGN_OR_RETURN(const double accuracy, Accuracy(correct));
  report.accuracy = Single(accuracy);
  for (size_t s = 0; s < types.size(); ++s) {
    ScoreReport score;
    score.score = ScoreTypeName(types[s]);
    for (size_t i : usable) score.values.push_back(served.scores[s][i]);
    RAT_ASSIGN_OR_RETURN(score.metrics,
                         ComputeMisdMetrics(score.values, correct));
    score.aurc_x1000 = Single(score.metrics.aurc * 1000);
    score.auroc = SummarizeOptional({score.metrics}, &MisdMetrics::auroc, 1);
    score.fpr95_percent =
        SummarizeOptional({score.metrics}, &MisdMetrics::fpr_at_95_tpr, 100);
    score.tuned_parameters = "served";
    score.rejection_rate = RejectionRate(served, types[s]);
    report.scores.push_back(std::move(score));
  }
  return absl::OkStatus();
}

// Per-repeat tuned parameters as one text: shared ones once, else listed.
std::string JoinParameters(const std::vector<std::string>& parameters) {
  bool same = true;
  for (const std::string& p : parameters)
    same = same && p == parameters.front();
  if (same && !parameters.empty()) return parameters.front();
  std::vector<std::string> listed;
  for (size_t r = 0; r < parameters.size(); ++r) {
    listed.push_back(absl::StrCat("r", r + 1, ": ", parameters[r]));
  }
  return absl::StrJoin(listed, "; ");
}

void FillPaperReport(const ImageSet& images, const ProtocolResult& protocol,
                     const RunResult& served,
                     const std::vector<ScoreType>& types, BenchReport& report) {
  for (int64_t index : protocol.first_test_indices) {
    report.labels.push_back(images.labels[index]);
  }
  report.predictions = protocol.first_test_predictions;
  report.accuracy = Summarize(protocol.accuracy);

  for (size_t s = 0; s < types.size(); ++s) {
    const ScoreOutcome& outcome = protocol.scores[s];
    ScoreReport score;
    score.score = outcome.score;
    score.values = outcome.first_repeat_values;
    score.metrics = outcome.test_metrics.front();
    std::vector<double> aurc;
    for (const MisdMetrics& m : outcome.test_metrics)
      aurc.push_back(m.aurc * 1000);
    score.aurc_x1000 = Summarize(aurc);
    score.auroc =
        SummarizeOptional(outcome.test_metrics, &MisdMetrics::auroc, 1);
    score.fpr95_percent = SummarizeOptional(outcome.test_metrics,
                                            &MisdMetrics::fpr_at_95_tpr, 100);
    score.tuned_parameters = JoinParameters(outcome.tuned_parameters);
    score.rejection_rate = RejectionRate(served, types[s]);
    report.scores.push_back(std::move(score));
  }
}

absl::Status ValidateBenchOptions(const BenchOptions& options) {
  if (options.model.empty()) {
    return absl::InvalidArgumentError("--model is required");
  }
  if (options.protocol != "plain" && options.protocol != "paper") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown protocol \"", options.protocol,
                     "\"; expected plain or paper"));
  }
  if (options.batch_size < 1 || options.concurrency < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch-size and --concurrency must be at least 1, got ",
                     options.batch_size, " and ", options.concurrency));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BenchResult> RunBenchmark(const BenchOptions& options,
                                         const ImageSet& images) {
  RAT_RETURN_IF_ERROR(ValidateBenchOptions(options));
  RAT_ASSIGN_OR_RETURN(std::vector<ScoreType> types,
                       ParseScoreList(options.scores));
  if (types.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--scores is empty; expected some of ", KnownScoreNames()));
  }
  if (images.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set ", images.name, " has no images"));
  }
  RAT_ASSIGN_OR_RETURN(std::unique_ptr<InferenceClient> client,
                       InferenceClient::Create(options.client));
  RAT_RETURN_IF_ERROR(CheckModelInput(*client, options.model, images));

  BenchResult bench;
  BenchReport& report = bench.report;
  report.model = options.model;
  report.dataset = images.name;
  report.split = options.dataset.split;
  report.server = options.client.address;
  report.protocol = options.protocol;
  report.repeats = options.protocol == "paper" ? options.repeats : 1;

  // The served pass: every image once with the server's own parameters, for
  // latency, throughput and the rejection rate at the served threshold.
  ProgressBar progress("served", options.show_progress);
  RunOptions run;
  run.model = options.model;
  run.scores = types;
  run.batch_size = options.batch_size;
  run.concurrency = options.concurrency;
  run.on_progress = [&progress](int64_t done, int64_t total) {
    progress.Update(done, total);
  };
  std::vector<int64_t> all(images.size());
  std::iota(all.begin(), all.end(), 0);
  RAT_ASSIGN_OR_RETURN(RunResult served,
                       RunPredictions(*client, images, all, run));
  FillLatency(served, report);
  spdlog::info("served pass: {} images in {:.1f} s, {} of {} requests failed",
               images.size(), served.wall_seconds, served.requests_failed,
               served.requests_ok + served.requests_failed);
  bench.images_failed = served.images_failed;
  bench.first_error = served.first_error;
  if (options.protocol == "plain") {
    RAT_RETURN_IF_ERROR(FillPlainReport(images, types, served, report));
    return bench;
  }

  ProtocolOptions protocol;
  protocol.repeats = options.repeats;
  protocol.validation_fraction = options.validation_fraction;
  protocol.seed = options.seed;
  protocol.tune_rr_bs = options.tune_rr_bs;
  protocol.staged_odin_search = options.odin_search == "staged";
  protocol.run = run;
  std::string stage;
  protocol.on_progress = [&](const std::string& name, int64_t done,
                             int64_t total) {
    if (name != stage) progress.SetLabel(stage = name);
    progress.Update(done, total);
  };
  RAT_ASSIGN_OR_RETURN(ProtocolResult result,
                       RunPaperProtocol(*client, images, protocol));
  progress.Finish();
  spdlog::info("paper protocol: {} passes, {} of {} requests failed",
               result.passes, result.requests_failed,
               result.requests_ok + result.requests_failed);

  report.latency.requests_ok += result.requests_ok;
  report.latency.requests_failed += result.requests_failed;
  bench.images_failed += result.images_failed;
  if (bench.first_error.empty()) bench.first_error = result.first_error;
  FillPaperReport(images, result, served, types, report);
  return bench;
}

namespace {

absl::Status WriteOutputs(const BenchOptions& options,
                          const BenchReport& report) {
  if (!options.json_path.empty()) {
    RAT_RETURN_IF_ERROR(WriteJsonReport(report, options.json_path));
  }
  if (!options.csv_path.empty()) {
    RAT_RETURN_IF_ERROR(WriteCsvReport(report, options.csv_path));
  }
  if (!options.dump_path.empty()) {
    RAT_RETURN_IF_ERROR(WriteSampleDump(report, options.dump_path));
  }
  if (!options.html_path.empty()) {
    RAT_RETURN_IF_ERROR(WriteHtmlReport(report, options.html_path));
  }
  return absl::OkStatus();
}

}  // namespace

int RunBenchCommand(const BenchOptions& options) {
  absl::StatusOr<ImageSet> images = LoadImageSet(options.dataset);
  if (!images.ok()) return ReportError(images.status());
  spdlog::info("loaded {} {} images of {}x{}x{} pixels from data set {}",
               images->size(), options.dataset.split, images->channels,
               images->height, images->width, images->name);

  absl::StatusOr<BenchResult> result = RunBenchmark(options, *images);
  if (!result.ok()) return ReportError(result.status());
  std::cout << FormatTable(result->report);
  if (options.protocol == "paper") {
    std::cout << "tuned on validation by lowest AURC:\n";
    for (const ScoreReport& score : result->report.scores) {
      std::cout << "  " << score.score << ": " << score.tuned_parameters
                << "\n";
    }
  }
  std::cout << std::flush;
  const absl::Status written = WriteOutputs(options, result->report);
  if (!written.ok()) return ReportError(written);

  const LatencyReport& latency = result->report.latency;
  if (latency.requests_failed == 0) return 0;
  std::cerr << "rat-client: " << latency.requests_failed << " of "
            << latency.requests_ok + latency.requests_failed
            << " requests failed and their " << result->images_failed
            << " images are left out of the metrics; first error: "
            << result->first_error << "\n";
  return options.allow_failures ? 0 : 1;
}

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Measure MisD metrics, latency and throughput on a labelled data set");
  AddServerFlags(*bench, options->client);
  AddRunFlags(*bench,
              {&options->model, &options->batch_size, &options->concurrency,
               &options->allow_failures, &options->show_progress});
  AddDatasetFlags(*bench, options->dataset);
  bench
      ->add_option(
          "--scores", options->scores,
          "Comma-separated scores to evaluate, from " + KnownScoreNames())
      ->capture_default_str();
  bench
      ->add_option(
          "--protocol", options->protocol,
          "plain: every image once with the served parameters; paper: "
          "random validation/test splits, parameters tuned on validation "
          "by lowest AURC, mean and std of test metrics over repeats")
      ->capture_default_str()
      ->check(CLI::IsMember({"plain", "paper"}));
  bench
      ->add_option("--repeats", options->repeats,
                   "Paper protocol: random splits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  bench
      ->add_option("--val-fraction", options->validation_fraction,
                   "Paper protocol: share of images used for tuning, in (0, 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  bench
      ->add_option("--seed", options->seed,
                   "Paper protocol: seed of the splits; the same seed gives "
                   "the same splits")
      ->capture_default_str();
  bench->add_flag(
      "--tune-rr-bs", options->tune_rr_bs,
      "Paper protocol: tune the RR-BS temperature too (one bisection "
      "pass per temperature); otherwise RR-BS uses T=1");
  bench
      ->add_option(
          "--odin-search", options->odin_search,
          "Paper protocol: full tries every (T, eps) pair of the grids "
          "(180 passes); staged tunes T at eps=0, then eps at that T "
          "(27 passes, may miss the best pair)")
      ->capture_default_str()
      ->check(CLI::IsMember({"full", "staged"}));
  bench->add_option("--json", options->json_path,
                    "Write the report as JSON to this file");
  bench->add_option("--csv", options->csv_path,
                    "Write one CSV row per score to this file");
  bench->add_option(
      "--dump-samples", options->dump_path,
      "Write one CSV row per image (label, prediction, scores) to this file");
  bench->add_option(
      "--html", options->html_path,
      "Write a self-contained HTML report with curves to this file");
  bench->callback(
      [options, &exit_code] { exit_code = RunBenchCommand(*options); });
}

}  // namespace rat::client
