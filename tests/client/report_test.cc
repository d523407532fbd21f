#include "client/report/report.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/report/svg_chart.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace rat {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "report_test_" + name;
}

size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// A plain benchmark of `n` samples with about 80% accuracy. Each score is
// informative, so its metrics are all defined.
BenchReport MakeReport(int n, const std::vector<std::string>& score_names,
                       unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  BenchReport report;
  report.model = "fmnist";
  report.dataset = "fashion-mnist";
  report.split = "test";
  report.server = "127.0.0.1:50051";
  report.protocol = "plain";
  std::vector<bool> correct;
  for (int i = 0; i < n; ++i) {
    report.labels.push_back(i % 10);
    const bool is_correct = uniform(rng) < 0.8;
    report.predictions.push_back(is_correct ? i % 10 : (i + 1) % 10);
    correct.push_back(is_correct);
  }
  report.accuracy.mean =
      static_cast<double>(std::count(correct.begin(), correct.end(), true)) / n;
  for (const std::string& name : score_names) {
    ScoreReport score;
    score.score = name;
    for (int i = 0; i < n; ++i) {
      score.values.push_back(uniform(rng) + (correct[i] ? 0.5 : 0.0));
    }
    score.metrics = *ComputeMisdMetrics(score.values, correct);
    score.aurc_x1000.mean = score.metrics.aurc * 1000;
    score.auroc.mean = *score.metrics.auroc;
    score.fpr95_percent.mean = *score.metrics.fpr_at_95_tpr * 100;
    score.tuned_parameters = "T=1";
    report.scores.push_back(std::move(score));
  }
  report.latency = {1.5, 2.5, 4.25, 1200, 10, 0};
  return report;
}

// Runs Python's XML parser on the file and returns its exit status, which
// is 0 when the file is well-formed XML.
int ParseXmlWithPython(const std::string& path) {
  const std::string command =
      "python3 -c 'import sys, xml.etree.ElementTree as E; "
      "E.parse(sys.argv[1])'"
      " '" +
      path + "'";
  return std::system(command.c_str());
}

TEST(JsonReportTest, WritesMetricsAndNullForUndefined) {
  BenchReport report = MakeReport(50, {"msr", "rr_fast"});
  report.scores[1].metrics.auroc.reset();
  report.scores[0].rejection_rate = 0.125;
  const std::string path = TempPath("report.json");
  ASSERT_TRUE(WriteJsonReport(report, path).ok());

  const nlohmann::json json = nlohmann::json::parse(ReadFile(path));
  EXPECT_EQ("fmnist", json["model"]);
  EXPECT_EQ(50, json["num_samples"]);
  ASSERT_EQ(2u, json["scores"].size());
  EXPECT_EQ("msr", json["scores"][0]["score"]);
  EXPECT_DOUBLE_EQ(report.scores[0].metrics.aurc,
                   json["scores"][0]["metrics"]["aurc"].get<double>());
  EXPECT_DOUBLE_EQ(*report.scores[0].metrics.auroc,
                   json["scores"][0]["metrics"]["auroc"].get<double>());
  EXPECT_TRUE(json["scores"][1]["metrics"]["auroc"].is_null());
  EXPECT_DOUBLE_EQ(0.125, json["scores"][0]["rejection_rate"].get<double>());
  EXPECT_TRUE(json["scores"][1]["rejection_rate"].is_null());
  EXPECT_DOUBLE_EQ(4.25, json["latency"]["p99_ms"].get<double>());
}

TEST(JsonReportTest, FailsOnMissingDirectory) {
  const BenchReport report = MakeReport(5, {"msr"});
  const absl::Status status =
      WriteJsonReport(report, TempPath("missing_dir/report.json"));
  EXPECT_EQ(absl::StatusCode::kNotFound, status.code());
  EXPECT_NE(std::string::npos, status.message().find("missing_dir/report.json"))
      << status;
}

TEST(CsvReportTest, OneRowPerScoreWithEmptyUndefinedCells) {
  BenchReport report = MakeReport(40, {"msr", "rr_bs"});
  report.scores[1].metrics.auroc.reset();
  report.scores[1].metrics.fpr_at_95_tpr.reset();
  const std::string path = TempPath("report.csv");
  ASSERT_TRUE(WriteCsvReport(report, path).ok());

  const std::vector<std::string> lines =
      absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty());
  ASSERT_EQ(3u, lines.size());
  const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  const std::vector<std::string> second = absl::StrSplit(lines[2], ',');
  ASSERT_EQ(header.size(), second.size());
  EXPECT_EQ("auroc", header[6]);
  EXPECT_EQ("rr_bs", second[0]);
  EXPECT_EQ("", second[6]);
  EXPECT_EQ("", second[7]);
  EXPECT_EQ("", second[16]);  // rejection_rate: no threshold served
  EXPECT_EQ("40", second[1]);
}

TEST(CsvReportTest, QuotesFieldsWithSeparators) {
  BenchReport report = MakeReport(10, {"odin,\"v2\""});
  report.scores[0].tuned_parameters = "T=2, eps=0.0002";
  const std::string path = TempPath("quoted.csv");
  ASSERT_TRUE(WriteCsvReport(report, path).ok());

  const std::string csv = ReadFile(path);
  EXPECT_NE(std::string::npos, csv.find("\n\"odin,\"\"v2\"\"\",10,"));
  EXPECT_NE(std::string::npos, csv.find(",\"T=2, eps=0.0002\"\n"));
}

TEST(SampleDumpTest, OneRowPerSample) {
  BenchReport report;
  report.labels = {3, 1};
  report.predictions = {3, 2};
  ScoreReport msr;
  msr.score = "msr";
  msr.values = {0.75, 0.5};
  ScoreReport metrics_only;
  metrics_only.score = "rr_fast";
  report.scores = {msr, metrics_only};
  const std::string path = TempPath("samples.csv");
  ASSERT_TRUE(WriteSampleDump(report, path).ok());

  EXPECT_EQ(
      "index,label,prediction,correct,msr\n"
      "0,3,3,1,0.75\n"
      "1,1,2,0,0.5\n",
      ReadFile(path));
}

TEST(SampleDumpTest, RejectsLengthMismatch) {
  BenchReport report = MakeReport(10, {"msr"});
  report.scores[0].values.pop_back();
  const absl::Status status = WriteSampleDump(report, TempPath("bad.csv"));
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, status.code());
  EXPECT_EQ(
      "score \"msr\" has 9 values but the report has 10 labels; expected one "
      "value per label or none",
      status.message());
}

TEST(HtmlReportTest, ParsesAsXmlWithOneCurvePerScore) {
  BenchReport report =
      MakeReport(300, {"msr", "rr_fast", "odin <T&eps> \"x\" 'y'\x01"});
  report.model = "model <&> \xff bad utf-8";
  report.scores[0].tuned_parameters = "a < b && c > d";
  const std::string path = TempPath("report.html");
  ASSERT_TRUE(WriteHtmlReport(report, path).ok());

  EXPECT_EQ(0, ParseXmlWithPython(path));
  const std::string html = ReadFile(path);
  EXPECT_EQ(3u, CountOccurrences(html, "class=\"chart risk-coverage\""));
  EXPECT_EQ(3u, CountOccurrences(html, "class=\"chart roc\""));
  EXPECT_EQ(3u, CountOccurrences(html, "class=\"chart histogram\""));
  EXPECT_EQ(std::string::npos, html.find("<script"));
  EXPECT_EQ(std::string::npos, html.find("href="));
  EXPECT_EQ(std::string::npos, html.find("src="));
  EXPECT_NE(std::string::npos, html.find("odin &lt;T&amp;eps&gt;"));
}

TEST(HtmlReportTest, LargeReportStaysSmall) {
  const BenchReport report = MakeReport(100000, {"msr", "rr_fast"});
  const std::string path = TempPath("large.html");
  ASSERT_TRUE(WriteHtmlReport(report, path).ok());

  const std::string html = ReadFile(path);
  EXPECT_LT(html.size(), 200u * 1024);
  EXPECT_EQ(0, ParseXmlWithPython(path));
  // Every polyline contains at most 500 "x,y" pairs.
  for (size_t at = html.find("points=\""); at != std::string::npos;
       at = html.find("points=\"", at + 1)) {
    const size_t end = html.find('"', at + 8);
    EXPECT_LE(CountOccurrences(html.substr(at, end - at), ","), 500u);
  }
}

TEST(HtmlReportTest, ScoreWithoutValuesHasNoCharts) {
  BenchReport report = MakeReport(20, {"msr"});
  report.scores[0].values.clear();
  const std::string path = TempPath("no_values.html");
  ASSERT_TRUE(WriteHtmlReport(report, path).ok());

  const std::string html = ReadFile(path);
  EXPECT_EQ(0u, CountOccurrences(html, "<svg"));
  EXPECT_NE(std::string::npos,
            html.find("No per-sample values were recorded for this score."));
}

TEST(HtmlReportTest, UndefinedRocIsExplained) {
  BenchReport report = MakeReport(20, {"msr"});
  report.predictions = report.labels;
  const std::string path = TempPath("all_correct.html");
  ASSERT_TRUE(WriteHtmlReport(report, path).ok());

  const std::string html = ReadFile(path);
  EXPECT_EQ(0u, CountOccurrences(html, "class=\"chart roc\""));
  EXPECT_NE(std::string::npos, html.find("ROC undefined"));
  EXPECT_EQ(0, ParseXmlWithPython(path));
}

TEST(HtmlReportTest, RejectsNonFiniteScore) {
  BenchReport report = MakeReport(20, {"msr"});
  report.scores[0].values[7] = std::nan("");
  const absl::Status status = WriteHtmlReport(report, TempPath("nan.html"));
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, status.code());
  EXPECT_EQ("score \"msr\": score at index 7 is nan; expected a finite value",
            status.message());
}

TEST(FormatTableTest, AlignsColumns) {
  BenchReport report;
  report.model = "fmnist";
  report.dataset = "fashion-mnist";
  report.split = "test";
  report.labels = {1, 2, 3, 4};
  report.accuracy.mean = 0.5;
  ScoreReport msr;
  msr.score = "msr";
  msr.metrics.aurc = 0.33333;
  msr.metrics.eaurc = 0.125;
  msr.metrics.auroc = 0.75;
  msr.metrics.fpr_at_95_tpr = 0.5;
  msr.metrics.aupr_error = 5.0 / 6;
  msr.rejection_rate = 0.25;
  ScoreReport rr_fast;
  rr_fast.score = "rr_fast";
  rr_fast.metrics.aurc = 0.5;
  report.scores = {msr, rr_fast};
  report.latency = {1.5, 2.5, 4.25, 1200, 10, 0};

  EXPECT_EQ(
      "model fmnist  data set fashion-mnist (test)  samples 4  accuracy "
      "50.00%\n"
      "score    AURC x1000  E-AURC x1000   AUROC  FPR@95TPR %  AUPR-Error  "
      "rejected\n"
      "msr          333.33        125.00  0.7500        50.00      0.8333    "
      "25.00%\n"
      "rr_fast      500.00          0.00     n/a          n/a         n/a    "
      "   n/a\n"
      "latency p50 1.50 ms  p90 2.50 ms  p99 4.25 ms  throughput 1200.0 "
      "images/s  requests 10 ok, 0 failed\n",
      FormatTable(report));
}

TEST(FormatTableTest, ShowsMeanAndStdForRepeats) {
  BenchReport report = MakeReport(30, {"rr_fast"});
  report.repeats = 3;
  report.accuracy = {0.9, 0.01};
  report.scores[0].aurc_x1000 = {12.345, 0.5};
  report.scores[0].auroc = {0.91234, 0.00123};
  report.scores[0].fpr95_percent = {40.5, 2.25};

  const std::string table = FormatTable(report);
  EXPECT_NE(std::string::npos, table.find("accuracy 90.00% \u00b1 1.00"));
  EXPECT_NE(std::string::npos, table.find("12.35 \u00b1 0.50"));
  EXPECT_NE(std::string::npos, table.find("0.9123 \u00b1 0.0012"));
  EXPECT_NE(std::string::npos, table.find("40.50 \u00b1 2.25"));
  EXPECT_NE(std::string::npos, table.find("(3 repeats)"));
}

TEST(EscapeXmlTest, EscapesSpecialCharactersAndInvalidBytes) {
  EXPECT_EQ("&lt;a href=&quot;x&quot;&gt; &amp; &apos;",
            report_internal::EscapeXml("<a href=\"x\"> & '"));
  EXPECT_EQ("tab\tok \xEF\xBF\xBD \xEF\xBF\xBD",
            report_internal::EscapeXml("tab\tok \x01 \xff"));
  EXPECT_EQ("caf\xC3\xA9", report_internal::EscapeXml("caf\xC3\xA9"));
  EXPECT_EQ("\xEF\xBF\xBD", report_internal::EscapeXml("\xC3"));
  EXPECT_EQ("\xEF\xBF\xBD", report_internal::EscapeXml("\xEF\xBF\xBF"));
}

TEST(DownsampleTest, KeepsEndpointsAndLimit) {
  std::vector<report_internal::ChartPoint> points;
  for (int i = 0; i < 1001; ++i) points.push_back({i / 1000.0, 0});
  const std::vector<report_internal::ChartPoint> kept =
      report_internal::Downsample(points, 500);
  ASSERT_EQ(500u, kept.size());
  EXPECT_EQ(0.0, kept.front().x);
  EXPECT_EQ(1.0, kept.back().x);
  EXPECT_EQ(3u,
            report_internal::Downsample({{0, 0}, {1, 1}, {2, 2}}, 500).size());
}

}  // namespace
}  // namespace rat
