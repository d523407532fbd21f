// Machine-readable report files: JSON, the per-score CSV and the per-sample
// dump. Undefined metrics are JSON null and empty CSV cells.
#include <cstdio>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/report/report.h"
#include "client/report/report_common.h"
#include "nlohmann/json.hpp"

namespace rat {
namespace {

using report_internal::FormatOptional;

nlohmann::json OptionalToJson(const std::optional<double>& value) {
  if (!value.has_value()) return nullptr;
  return *value;
}

nlohmann::json MeanStdToJson(const MeanStd& value) {
  return {{"mean", value.mean}, {"std", value.std}};
}

nlohmann::json MetricsToJson(const MisdMetrics& metrics) {
  return {{"num_samples", metrics.num_samples},
          {"num_errors", metrics.num_errors},
          {"accuracy", metrics.accuracy},
          {"aurc", metrics.aurc},
          {"aurc_x1000", metrics.aurc * 1000},
          {"eaurc", metrics.eaurc},
          {"eaurc_x1000", metrics.eaurc * 1000},
          {"auroc", OptionalToJson(metrics.auroc)},
          {"fpr_at_95_tpr", OptionalToJson(metrics.fpr_at_95_tpr)},
          {"aupr_error", OptionalToJson(metrics.aupr_error)},
          {"aupr_success", OptionalToJson(metrics.aupr_success)}};
}

nlohmann::json ScoreToJson(const ScoreReport& score) {
  nlohmann::json json = {
      {"score", score.score},
      {"tuned_parameters", score.tuned_parameters},
      {"metrics", MetricsToJson(score.metrics)},
      {"repeats",
       {{"aurc_x1000", MeanStdToJson(score.aurc_x1000)},
        {"auroc", MeanStdToJson(score.auroc)},
        {"fpr95_percent", MeanStdToJson(score.fpr95_percent)}}}};
  json["rejection_rate"] = score.rejection_rate < 0
                               ? nlohmann::json(nullptr)
                               : nlohmann::json(score.rejection_rate);
  return json;
}

// Quotes a CSV field when it contains a separator, quote or line break
// (RFC 4180).
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// 12 significant digits keep every metric exact to well below its noise.
std::string CsvNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.12g", value);
  return buffer;
}

std::string CsvOptional(const std::optional<double>& value) {
  return FormatOptional(value, 1, "%.12g", "");
}

}  // namespace

absl::Status WriteJsonReport(const BenchReport& report,
                             const std::string& path) {
  nlohmann::json json = {
      {"model", report.model},
      {"dataset", report.dataset},
      {"split", report.split},
      {"server", report.server},
      {"protocol", report.protocol},
      {"repeats", report.repeats},
      {"num_samples", report.labels.size()},
      {"accuracy", MeanStdToJson(report.accuracy)},
      {"latency",
       {{"p50_ms", report.latency.p50_ms},
        {"p90_ms", report.latency.p90_ms},
        {"p99_ms", report.latency.p99_ms},
        {"images_per_second", report.latency.images_per_second},
        {"requests_ok", report.latency.requests_ok},
        {"requests_failed", report.latency.requests_failed}}}};
  json["scores"] = nlohmann::json::array();
  for (const ScoreReport& score : report.scores) {
    json["scores"].push_back(ScoreToJson(score));
  }

  // Replacing invalid UTF-8 in names keeps the dump from throwing.
  return report_internal::WriteTextFile(
      path, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                "\n");
}

absl::Status WriteCsvReport(const BenchReport& report,
                            const std::string& path) {
  std::string csv =
      "score,num_samples,num_errors,accuracy,aurc_x1000,eaurc_x1000,auroc,"
      "fpr_at_95_tpr_percent,aupr_error,aupr_success,aurc_x1000_mean,"
      "aurc_x1000_std,auroc_mean,auroc_std,fpr95_percent_mean,"
      "fpr95_percent_std,rejection_rate,tuned_parameters\n";
  for (const ScoreReport& score : report.scores) {
    const MisdMetrics& m = score.metrics;
    std::optional<double> fpr_percent;
    if (m.fpr_at_95_tpr.has_value()) fpr_percent = *m.fpr_at_95_tpr * 100;
    const std::vector<std::string> row = {
        CsvField(score.score),
        absl::StrCat(m.num_samples),
        absl::StrCat(m.num_errors),
        CsvNumber(m.accuracy),
        CsvNumber(m.aurc * 1000),
        CsvNumber(m.eaurc * 1000),
        CsvOptional(m.auroc),
        CsvOptional(fpr_percent),
        CsvOptional(m.aupr_error),
        CsvOptional(m.aupr_success),
        CsvNumber(score.aurc_x1000.mean),
        CsvNumber(score.aurc_x1000.std),
        CsvNumber(score.auroc.mean),
        CsvNumber(score.auroc.std),
        CsvNumber(score.fpr95_percent.mean),
        CsvNumber(score.fpr95_percent.std),
        score.rejection_rate < 0 ? "" : CsvNumber(score.rejection_rate),
        CsvField(score.tuned_parameters)};
    absl::StrAppend(&csv, absl::StrJoin(row, ","), "\n");
  }
  return report_internal::WriteTextFile(path, csv);
}

absl::Status WriteSampleDump(const BenchReport& report,
                             const std::string& path) {
  if (absl::Status status = report_internal::ValidateSampleCounts(report);
      !status.ok()) {
    return status;
  }

  // Scores without per-sample values have no column.
  std::vector<const ScoreReport*> columns;
  std::string csv = "index,label,prediction,correct";
  for (const ScoreReport& score : report.scores) {
    if (score.values.empty()) continue;
    columns.push_back(&score);
    absl::StrAppend(&csv, ",", CsvField(score.score));
  }
  csv += "\n";

  for (size_t i = 0; i < report.labels.size(); ++i) {
    absl::StrAppend(&csv, i, ",", report.labels[i], ",", report.predictions[i],
                    ",", report.labels[i] == report.predictions[i] ? 1 : 0);
    for (const ScoreReport* score : columns) {
      absl::StrAppend(&csv, ",", CsvNumber(score->values[i]));
    }
    csv += "\n";
  }
  return report_internal::WriteTextFile(path, csv);
}

}  // namespace rat
