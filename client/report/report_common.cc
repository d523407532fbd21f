#include "client/report/report_common.h"

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace rat::report_internal {

absl::Status ValidateSampleCounts(const BenchReport& report) {
  const size_t num_samples = report.labels.size();
  if (report.predictions.size() != num_samples) {
    return absl::InvalidArgumentError(absl::StrCat(
        "report has ", num_samples, " labels but ", report.predictions.size(),
        " predictions; expected one prediction per label"));
  }
  for (const ScoreReport& score : report.scores) {
    if (!score.values.empty() && score.values.size() != num_samples) {
      return absl::InvalidArgumentError(
          absl::StrCat("score \"", score.score, "\" has ", score.values.size(),
                       " values but the report has ", num_samples,
                       " labels; expected one value per label or none"));
    }
  }
  return absl::OkStatus();
}

std::vector<bool> CorrectFlags(const BenchReport& report) {
  std::vector<bool> correct(report.labels.size());
  for (size_t i = 0; i < report.labels.size(); ++i) {
    correct[i] = report.predictions[i] == report.labels[i];
  }
  return correct;
}

absl::Status WriteTextFile(const std::string& path,
                           const std::string& contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot open \"", path, "\" for writing"));
  }
  file << contents;
  file.close();
  if (!file) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("failed to write \"", path, "\""));
  }
  return absl::OkStatus();
}

std::string FormatOptional(const std::optional<double>& value, double scale,
                           const char* format, const std::string& undefined) {
  if (!value.has_value()) return undefined;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, *value * scale);
  return buffer;
}

namespace {

std::string MeanStdCell(const MeanStd& value, const char* format) {
  return absl::StrCat(FormatOptional(value.mean, 1, format, ""), " \u00b1 ",
                      FormatOptional(value.std, 1, format, ""));
}

}  // namespace

std::string AurcCell(const ScoreReport& score, int repeats,
                     const std::string& undefined) {
  if (repeats > 1) return MeanStdCell(score.aurc_x1000, "%.2f");
  return FormatOptional(score.metrics.aurc, 1000, "%.2f", undefined);
}

std::string EaurcCell(const ScoreReport& score) {
  return FormatOptional(score.metrics.eaurc, 1000, "%.2f", "");
}

std::string AurocCell(const ScoreReport& score, int repeats,
                      const std::string& undefined) {
  if (repeats > 1) return MeanStdCell(score.auroc, "%.4f");
  return FormatOptional(score.metrics.auroc, 1, "%.4f", undefined);
}

std::string Fpr95Cell(const ScoreReport& score, int repeats,
                      const std::string& undefined) {
  if (repeats > 1) return MeanStdCell(score.fpr95_percent, "%.2f");
  return FormatOptional(score.metrics.fpr_at_95_tpr, 100, "%.2f", undefined);
}

std::string AuprErrorCell(const ScoreReport& score,
                          const std::string& undefined) {
  return FormatOptional(score.metrics.aupr_error, 1, "%.4f", undefined);
}

std::string AuprSuccessCell(const ScoreReport& score,
                            const std::string& undefined) {
  return FormatOptional(score.metrics.aupr_success, 1, "%.4f", undefined);
}

std::string RejectionCell(const ScoreReport& score,
                          const std::string& undefined) {
  if (score.rejection_rate < 0) return undefined;
  return FormatOptional(score.rejection_rate, 100, "%.2f%%", undefined);
}

std::string AccuracyCell(const BenchReport& report) {
  if (report.repeats > 1) {
    return absl::StrCat(FormatOptional(report.accuracy.mean, 100, "%.2f%%", ""),
                        " \u00b1 ",
                        FormatOptional(report.accuracy.std, 100, "%.2f", ""));
  }
  return FormatOptional(report.accuracy.mean, 100, "%.2f%%", "");
}

}  // namespace rat::report_internal
