// Benchmark report writers: JSON, CSV, per-sample dump and a self-contained
// HTML page with inline SVG charts.
#ifndef RAT_CLIENT_REPORT_REPORT_H_
#define RAT_CLIENT_REPORT_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/metrics/metrics.h"

namespace rat {

// Mean and standard deviation over repeats (std = 0 for one repeat).
struct MeanStd {
  double mean = 0;
  double std = 0;
};

// One score's results.
struct ScoreReport {
  std::string score;  // "msr", "rr_fast", ...
  // Per-sample values, same order as BenchReport::labels.
  std::vector<double> values;
  // Metrics on all samples (or the test part of the first repeat).
  MisdMetrics metrics;
  // Paper protocol: mean and std over repeats of AURC x 1000, AUROC,
  // FPR@95TPR (%), and the tuned parameters as text ("T=1.5 eps=0.0002").
  MeanStd aurc_x1000, auroc, fpr95_percent;
  std::string tuned_parameters;
  // Share of samples rejected at the served threshold (-1 when none is set).
  double rejection_rate = -1;
};

struct LatencyReport {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;
  double images_per_second = 0;
  int64_t requests_ok = 0;
  int64_t requests_failed = 0;
};

struct BenchReport {
  std::string model;
  std::string dataset;
  std::string split;
  std::string server;
  std::string protocol;  // "plain" or "paper"
  int repeats = 1;
  std::vector<int64_t> labels;
  std::vector<int64_t> predictions;
  std::vector<ScoreReport> scores;
  LatencyReport latency;
  MeanStd accuracy;
};

absl::Status WriteJsonReport(const BenchReport& report,
                             const std::string& path);
// One row per score with every metric.
absl::Status WriteCsvReport(const BenchReport& report, const std::string& path);
// One row per image: index, label, prediction, correct, every score.
absl::Status WriteSampleDump(const BenchReport& report,
                             const std::string& path);
// A single HTML file (well-formed XHTML, no external resources) with, per
// score, a risk-coverage curve, a ROC curve and correct-versus-wrong
// histograms as inline SVG.
absl::Status WriteHtmlReport(const BenchReport& report,
                             const std::string& path);
// The plain-text table printed to stdout.
std::string FormatTable(const BenchReport& report);

}  // namespace rat

#endif  // RAT_CLIENT_REPORT_REPORT_H_
