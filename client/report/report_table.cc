// FormatTable: the plain-text summary printed by the benchmark command.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/report/report.h"
#include "client/report/report_common.h"

namespace rat {
namespace {

// Width in terminal columns: UTF-8 continuation bytes take no column, so
// "±" counts once.
size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// Left-aligns the first column and right-aligns the others, two spaces
// apart.
std::string AlignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const std::vector<std::string>& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }

  std::string table;
  for (const std::vector<std::string>& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string padding(widths[c] - DisplayWidth(row[c]), ' ');
      if (c > 0) line += "  ";
      line += c == 0 ? row[c] + padding : padding + row[c];
    }
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&table, line, "\n");
  }
  return table;
}

}  // namespace

std::string FormatTable(const BenchReport& report) {
  using namespace report_internal;
  std::string text = absl::StrCat(
      "model ", report.model, "  data set ", report.dataset,
      report.split.empty() ? "" : absl::StrCat(" (", report.split, ")"),
      "  samples ", report.labels.size(), "  accuracy ", AccuracyCell(report),
      report.repeats > 1 ? absl::StrCat("  (", report.repeats, " repeats)")
                         : "",
      "\n");

  std::vector<std::vector<std::string>> rows = {
      {"score", "AURC x1000", "E-AURC x1000", "AUROC", "FPR@95TPR %",
       "AUPR-Error", "rejected"}};
  for (const ScoreReport& score : report.scores) {
    rows.push_back({score.score, AurcCell(score, report.repeats, "n/a"),
                    EaurcCell(score), AurocCell(score, report.repeats, "n/a"),
                    Fpr95Cell(score, report.repeats, "n/a"),
                    AuprErrorCell(score, "n/a"), RejectionCell(score, "n/a")});
  }
  text += AlignColumns(rows);

  const LatencyReport& latency = report.latency;
  absl::StrAppend(
      &text, "latency p50 ", FormatOptional(latency.p50_ms, 1, "%.2f", ""),
      " ms  p90 ", FormatOptional(latency.p90_ms, 1, "%.2f", ""), " ms  p99 ",
      FormatOptional(latency.p99_ms, 1, "%.2f", ""), " ms  throughput ",
      FormatOptional(latency.images_per_second, 1, "%.1f", ""),
      " images/s  requests ", latency.requests_ok, " ok, ",
      latency.requests_failed, " failed\n");
  return text;
}

}  // namespace rat
