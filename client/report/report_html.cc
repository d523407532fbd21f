// The HTML report: one self-contained XHTML file (no scripts, fonts or
// links) with the metrics table, latency and three inline-SVG charts per
// score.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/report/report.h"
#include "client/report/report_common.h"
#include "client/report/svg_chart.h"
#include "core/metrics/curves.h"

namespace rat {
namespace {

using report_internal::ChartOptions;
using report_internal::ChartPoint;
using report_internal::ChartSeries;
using report_internal::EscapeXml;
using report_internal::HistogramSeries;

// Caps each curve, which otherwise has one point per distinct score, so a
// 10^5-sample report stays at about 25 kB per score.
constexpr size_t kMaxCurvePoints = 500;
constexpr int kHistogramBins = 30;
constexpr char kScoreColor[] = "#1f77b4";
constexpr char kReferenceColor[] = "#888888";
constexpr char kCorrectColor[] = "#2ca02c";
constexpr char kWrongColor[] = "#d62728";

constexpr char kStyle[] = R"css(
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.chart .plot { fill: none; stroke: #444; }
.chart .series { stroke-width: 1.5; }
.chart .bar { fill-opacity: 0.45; }
.chart text { font-size: 11px; }
.chart .title { font-size: 13px; text-anchor: middle; font-weight: bold; }
.chart .tick { text-anchor: middle; }
.chart .tick.y { text-anchor: end; }
.chart .label { text-anchor: middle; }
)css";

std::string Row(const std::vector<std::string>& cells, const char* tag) {
  std::string row = "<tr>";
  for (const std::string& cell : cells) {
    absl::StrAppend(&row, "<", tag, ">", EscapeXml(cell), "</", tag, ">");
  }
  return row + "</tr>\n";
}

std::string SummaryTable(const BenchReport& report) {
  std::string html = "<table class=\"summary\">\n";
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"model", report.model},
      {"data set", report.dataset},
      {"split", report.split},
      {"server", report.server},
      {"protocol", report.protocol},
      {"repeats", absl::StrCat(report.repeats)},
      {"samples", absl::StrCat(report.labels.size())},
      {"accuracy", report_internal::AccuracyCell(report)}};
  for (const auto& [name, value] : fields) html += Row({name, value}, "td");
  return html + "</table>\n";
}

std::string LatencyTable(const LatencyReport& latency) {
  std::string html = "<h2>Latency</h2>\n<table class=\"latency\">\n";
  html += Row({"p50 (ms)", "p90 (ms)", "p99 (ms)", "images/s", "requests ok",
               "requests failed"},
              "th");
  html += Row(
      {absl::StrCat(latency.p50_ms), absl::StrCat(latency.p90_ms),
       absl::StrCat(latency.p99_ms), absl::StrCat(latency.images_per_second),
       absl::StrCat(latency.requests_ok),
       absl::StrCat(latency.requests_failed)},
      "td");
  return html + "</table>\n";
}

std::string MetricsTable(const BenchReport& report) {
  using namespace report_internal;
  std::string html = "<h2>Metrics</h2>\n<table class=\"metrics\">\n";
  html +=
      Row({"score", "AURC x1000", "E-AURC x1000", "AUROC", "FPR@95TPR %",
           "AUPR-Error", "AUPR-Success", "rejection rate", "tuned parameters"},
          "th");
  for (const ScoreReport& score : report.scores) {
    html += Row(
        {score.score, AurcCell(score, report.repeats, "undefined"),
         EaurcCell(score), AurocCell(score, report.repeats, "undefined"),
         Fpr95Cell(score, report.repeats, "undefined"),
         AuprErrorCell(score, "undefined"), AuprSuccessCell(score, "undefined"),
         RejectionCell(score, "none set"), score.tuned_parameters},
        "td");
  }
  return html + "</table>\n";
}

absl::StatusOr<std::string> RiskCoverageChart(const ScoreReport& score,
                                              const std::vector<bool>& correct,
                                              double accuracy) {
  absl::StatusOr<std::vector<RiskCoveragePoint>> curve =
      RiskCoverageCurve(score.values, correct);
  if (!curve.ok()) return curve.status();

  ChartSeries measured{score.score, kScoreColor, {}, false};
  double max_risk = 0.01;
  for (const RiskCoveragePoint& point : *curve) {
    measured.points.push_back({point.coverage, point.risk});
    max_risk = std::max(max_risk, point.risk);
  }
  measured.points =
      report_internal::Downsample(measured.points, kMaxCurvePoints);

  // A perfect ranking accepts every correct sample first.
  ChartSeries optimal{"optimal", kReferenceColor, {}, true};
  for (int i = 1; i <= 200; ++i) {
    const double coverage = i / 200.0;
    optimal.points.push_back(
        {coverage, std::max(0.0, coverage - accuracy) / coverage});
  }
  ChartOptions options{"risk-coverage",
                       "Risk-coverage: " + score.score,
                       "coverage",
                       "selective risk",
                       0,
                       1,
                       0,
                       max_risk * 1.05};
  options.legend = report_internal::LegendCorner::kTopLeft;
  return report_internal::LineChartSvg(options, {measured, optimal});
}

absl::StatusOr<std::string> RocChart(const ScoreReport& score,
                                     const std::vector<bool>& correct) {
  absl::StatusOr<std::optional<std::vector<RocPoint>>> curve =
      RocCurve(score.values, correct);
  if (!curve.ok()) return curve.status();
  if (!curve->has_value()) {
    return std::string(
        "<p class=\"roc\">ROC undefined: the data has no errors or no "
        "correct predictions.</p>\n");
  }

  ChartSeries roc{score.score, kScoreColor, {}, false};
  for (const RocPoint& point : **curve)
    roc.points.push_back({point.fpr, point.tpr});
  roc.points = report_internal::Downsample(roc.points, kMaxCurvePoints);
  ChartSeries chance{"chance", kReferenceColor, {{0, 0}, {1, 1}}, true};
  ChartOptions options{"roc",
                       "ROC (errors flagged): " + score.score,
                       "false positive rate (correct flagged)",
                       "true positive rate (errors flagged)",
                       0,
                       1,
                       0,
                       1};
  options.legend = report_internal::LegendCorner::kBottomRight;
  return report_internal::LineChartSvg(options, {roc, chance});
}

absl::StatusOr<std::string> HistogramChart(const ScoreReport& score,
                                           const std::vector<bool>& correct) {
  std::vector<double> correct_values;
  std::vector<double> wrong_values;
  for (size_t i = 0; i < score.values.size(); ++i) {
    (correct[i] ? correct_values : wrong_values).push_back(score.values[i]);
  }
  const auto [low, high] =
      std::minmax_element(score.values.begin(), score.values.end());
  HistogramOptions bins;
  bins.bins = kHistogramBins;
  bins.low = *low;
  bins.high = *high > *low ? *high : *low + 1;

  absl::StatusOr<std::vector<int64_t>> correct_counts =
      HistogramCounts(correct_values, bins);
  if (!correct_counts.ok()) return correct_counts.status();
  absl::StatusOr<std::vector<int64_t>> wrong_counts =
      HistogramCounts(wrong_values, bins);
  if (!wrong_counts.ok()) return wrong_counts.status();

  const auto max_share = [](const std::vector<int64_t>& counts, size_t total) {
    double share = 0;
    for (int64_t count : counts) {
      if (total > 0) share = std::max(share, 1.0 * count / total);
    }
    return share;
  };
  const double y_max =
      std::max({0.01, max_share(*correct_counts, correct_values.size()),
                max_share(*wrong_counts, wrong_values.size())});
  ChartOptions options{"histogram", "Score distribution: " + score.score,
                       "score",     "share of group",
                       bins.low,    bins.high,
                       0,           y_max * 1.05};
  return report_internal::HistogramSvg(
      options, {{"correct", kCorrectColor, *correct_counts},
                {"wrong", kWrongColor, *wrong_counts}});
}

absl::StatusOr<std::string> ScoreSection(const ScoreReport& score,
                                         const std::vector<bool>& correct,
                                         double accuracy) {
  std::string html = absl::StrCat("<h2>", EscapeXml(score.score), "</h2>\n");
  if (score.values.empty()) {
    return html + "<p>No per-sample values were recorded for this score.</p>\n";
  }
  absl::StatusOr<std::string> risk_coverage =
      RiskCoverageChart(score, correct, accuracy);
  if (!risk_coverage.ok()) return risk_coverage.status();
  absl::StatusOr<std::string> roc = RocChart(score, correct);
  if (!roc.ok()) return roc.status();
  absl::StatusOr<std::string> histogram = HistogramChart(score, correct);
  if (!histogram.ok()) return histogram.status();
  return absl::StrCat(html, "<div class=\"charts\">\n", *risk_coverage, *roc,
                      *histogram, "</div>\n");
}

}  // namespace

absl::Status WriteHtmlReport(const BenchReport& report,
                             const std::string& path) {
  if (absl::Status status = report_internal::ValidateSampleCounts(report);
      !status.ok()) {
    return status;
  }
  const std::vector<bool> correct = report_internal::CorrectFlags(report);
  const double accuracy = correct.empty()
                              ? 0
                              : static_cast<double>(std::count(
                                    correct.begin(), correct.end(), true)) /
                                    correct.size();

  const std::string title = "Benchmark report: " + report.model;
  std::string html = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
      "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
      "<meta charset=\"UTF-8\"/>\n<title>",
      EscapeXml(title), "</title>\n<style>", kStyle, "</style>\n</head>\n",
      "<body>\n<h1>", EscapeXml(title), "</h1>\n");
  html += SummaryTable(report);
  html += MetricsTable(report);
  html += LatencyTable(report.latency);

  for (const ScoreReport& score : report.scores) {
    absl::StatusOr<std::string> section =
        ScoreSection(score, correct, accuracy);
    if (!section.ok()) {
      return absl::Status(section.status().code(),
                          absl::StrCat("score \"", score.score,
                                       "\": ", section.status().message()));
    }
    html += *section;
  }
  html += "</body>\n</html>\n";
  return report_internal::WriteTextFile(path, html);
}

}  // namespace rat
