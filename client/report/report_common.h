// Internal to rat_report: checks and helpers shared by the writers.
#ifndef RAT_CLIENT_REPORT_REPORT_COMMON_H_
#define RAT_CLIENT_REPORT_REPORT_COMMON_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/report/report.h"

namespace rat::report_internal {

// Checks that predictions and every score's values match labels in length.
// Scores may have no values at all (metrics only), which the writers accept.
absl::Status ValidateSampleCounts(const BenchReport& report);

// correct[i] = (predictions[i] == labels[i]).
std::vector<bool> CorrectFlags(const BenchReport& report);

// Replaces the file at `path` with `contents`. Errors name the path and the
// system error.
absl::Status WriteTextFile(const std::string& path,
                           const std::string& contents);

// `value` with printf `format`, or `undefined` when it has no value.
std::string FormatOptional(const std::optional<double>& value, double scale,
                           const char* format, const std::string& undefined);

// Table cells shared by the HTML page and the text table. With more than one
// repeat they read "mean ± std" from the ScoreReport summaries, otherwise
// they show the single-run metric. Undefined values read `undefined`.
std::string AurcCell(const ScoreReport& score, int repeats,
                     const std::string& undefined);
std::string EaurcCell(const ScoreReport& score);
std::string AurocCell(const ScoreReport& score, int repeats,
                      const std::string& undefined);
std::string Fpr95Cell(const ScoreReport& score, int repeats,
                      const std::string& undefined);
std::string AuprErrorCell(const ScoreReport& score,
                          const std::string& undefined);
std::string AuprSuccessCell(const ScoreReport& score,
                            const std::string& undefined);
std::string RejectionCell(const ScoreReport& score,
                          const std::string& undefined);
std::string AccuracyCell(const BenchReport& report);

}  // namespace rat::report_internal

#endif  // RAT_CLIENT_REPORT_REPORT_COMMON_H_
