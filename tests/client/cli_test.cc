// End-to-end tests of the rat-client command line against the fake
// inference service on loopback, with a tiny IDX data set on disk.
#include "client/cli.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/image_input.h"
#include "core/metrics/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/fake_inference_server.h"

namespace rat::client {
namespace {

using testing::FakeInferenceServer;
using ::testing::HasSubstr;
using testing::MakeFakeImages;
using testing::MakeTempFolder;

struct CliOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
};

CliOutput RunClient(std::vector<std::string> args) {
  args.insert(args.begin(), "rat-client");
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  CliOutput output;
  output.exit_code = RunCli(args);
  output.out = ::testing::internal::GetCapturedStdout();
  output.err = ::testing::internal::GetCapturedStderr();
  return output;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = MakeTempFolder(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    images_ = MakeFakeImages(150);
    testing::WriteIdx(images_, folder_);
  }

  std::vector<std::string> BenchArgs() const {
    return {"bench", "--server",  server_.address(), "--model",
            "fake",  "--dataset", "fashion-mnist",   "--data-dir",
            folder_, "--scores",  "msr,rr_fast",     "--batch-size",
            "16"};
  }

  FakeInferenceServer server_;
  std::string folder_;
  ImageSet images_;
};

TEST_F(CliTest, BenchPrintsTableAndWritesReports) {
  std::vector<std::string> args = BenchArgs();
  const std::string html = folder_ + "/report.html";
  const std::string json = folder_ + "/report.json";
  args.insert(args.end(), {"--html", html, "--json", json});
  const CliOutput output = RunClient(args);

  ASSERT_EQ(output.exit_code, 0) << output.err;
  EXPECT_THAT(output.out, HasSubstr("rr_fast"));
  const std::string command =
      "python3 -c 'import sys, xml.etree.ElementTree as E; "
      "E.parse(sys.argv[1])' '" +
      html + "'";
  EXPECT_EQ(std::system(command.c_str()), 0);
  const std::string page = ReadFile(html);
  EXPECT_EQ(CountOccurrences(page, "class=\"chart risk-coverage\""), 2u);
  EXPECT_FALSE(nlohmann::json::parse(ReadFile(json)).is_null());
}

TEST_F(CliTest, SampleDumpReproducesMetrics) {
  std::vector<std::string> args = BenchArgs();
  const std::string dump = folder_ + "/samples.csv";
  const std::string json = folder_ + "/report.json";
  args.insert(args.end(), {"--dump-samples", dump, "--json", json});
  const CliOutput output = RunClient(args);
  ASSERT_EQ(output.exit_code, 0) << output.err;

  // Columns: index, label, prediction, correct, then one per score.
  std::vector<std::string> lines =
      absl::StrSplit(ReadFile(dump), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 151u);
  const std::vector<std::string> header = absl::StrSplit(lines[0], ',');
  const auto column =
      std::find(header.begin(), header.end(), "rr_fast") - header.begin();
  ASSERT_LT(static_cast<size_t>(column), header.size());
  std::vector<double> values;
  std::vector<bool> correct;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> cells = absl::StrSplit(lines[i], ',');
    values.push_back(std::stod(cells[column]));
    correct.push_back(cells[1] == cells[2]);
  }
  const MisdMetrics metrics = ComputeMisdMetrics(values, correct).value();

  const nlohmann::json report = nlohmann::json::parse(ReadFile(json));
  bool found = false;
  for (const auto& score : report["scores"]) {
    if (score["score"] != "rr_fast") continue;
    found = true;
    EXPECT_NEAR(score["metrics"]["aurc"].get<double>(), metrics.aurc, 1e-9);
    EXPECT_NEAR(score["metrics"]["auroc"].get<double>(), *metrics.auroc, 1e-9);
  }
  EXPECT_TRUE(found) << report.dump();
}

TEST_F(CliTest, StoppedServerExitsNonZeroNamingAddress) {
  const std::vector<std::string> args = BenchArgs();
  server_.Stop();
  const CliOutput output = RunClient(args);
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_THAT(output.err, HasSubstr(server_.address()));
  EXPECT_EQ(output.out, "");
}

TEST_F(CliTest, FailedRequestsExitNonZeroUnlessAllowed) {
  images_.pixels[3] = 255;  // the first request fails
  testing::WriteIdx(images_, folder_);
  const CliOutput failing = RunClient(BenchArgs());
  EXPECT_EQ(failing.exit_code, 1);
  EXPECT_THAT(failing.err, HasSubstr("1 of 10 requests failed"));

  std::vector<std::string> args = BenchArgs();
  args.push_back("--allow-failures");
  const CliOutput allowed = RunClient(args);
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_THAT(allowed.err, HasSubstr("poisoned image"));
}

TEST_F(CliTest, HealthExitCodes) {
  const std::string address = server_.address();
  EXPECT_EQ(RunClient({"health", "--server", address}).exit_code, 0);
  EXPECT_EQ(
      RunClient({"health", "--server", address, "--service", "fake"}).exit_code,
      0);
  EXPECT_EQ(
      RunClient({"health", "--server", address, "--service", "down"}).exit_code,
      1);
  EXPECT_EQ(
      RunClient({"health", "--server", address, "--service", "nope"}).exit_code,
      1);
  server_.Stop();
  const CliOutput stopped = RunClient({"health", "--server", address});
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_THAT(stopped.err, HasSubstr(address));
}

TEST_F(CliTest, CalibrateWritesYaml) {
  const std::string output_path = folder_ + "/reject.yaml";
  const CliOutput output =
      RunClient({"calibrate", "--server", server_.address(), "--model", "fake",
                 "--dataset", "fashion-mnist", "--data-dir", folder_, "--score",
                 "msr", "--target-coverage", "0.9", "--output", output_path});
  ASSERT_EQ(output.exit_code, 0) << output.err;
  const std::string yaml = ReadFile(output_path);
  EXPECT_THAT(yaml,
              HasSubstr("  - name: fake\n    reject:\n      score: msr\n"));
}

TEST_F(CliTest, PredictReadsNpyAndPrintsJson) {
  const std::string path = folder_ + "/image.npy";
  {
    const std::string header =
        "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 4, 4), }";
    // The .npy preamble (10 bytes) plus the header is a multiple of 64.
    const size_t padding = (64 - (10 + header.size() + 1) % 64) % 64;
    const std::string padded = header + std::string(padding, ' ') + "\n";
    std::ofstream file(path, std::ios::binary);
    file << std::string("\x93NUMPY\x01\x00", 8);
    file.put(static_cast<char>(padded.size()));
    file.put(0);
    file << padded;
    const std::string pixels = {
        5, static_cast<char>(200), 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    file << pixels;
  }
  const CliOutput output =
      RunClient({"predict", "--server", server_.address(), "--model", "fake",
                 "--scores", "msr", "--json", path});
  ASSERT_EQ(output.exit_code, 0) << output.err;
  const nlohmann::json json = nlohmann::json::parse(output.out);
  EXPECT_EQ(json[0]["label"], 2);
  EXPECT_NEAR(json[0]["scores"]["msr"].get<double>(), 200 / 255.0, 1e-12);
  EXPECT_EQ(json[0]["decision"]["accepted"], true);
}

TEST_F(CliTest, PredictRejectsUnknownFormat) {
  const std::string path = folder_ + "/image.txt";
  std::ofstream(path) << "not an image";
  const CliOutput output = RunClient(
      {"predict", "--server", server_.address(), "--model", "fake", path});
  EXPECT_EQ(output.exit_code, 1);
  EXPECT_THAT(output.err, HasSubstr("neither PNG, JPEG nor .npy"));
}

TEST(NpyTest, RejectsUnsupportedDtype) {
  std::string header =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back(0);
  bytes += header + std::string(32, '\0');
  const auto tensor = ParseNpy(bytes, "x.npy");
  EXPECT_EQ(tensor.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tensor.status().message()), HasSubstr("'<f8'"));
}

TEST(NpyTest, ParsesFloatImage) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back(0);
  bytes += header + std::string(24, '\0');
  const auto tensor = ParseNpy(bytes, "x.npy");
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->dtype(), rat::v1::DATA_TYPE_FLOAT32);
  ASSERT_EQ(tensor->dims_size(), 2);
  EXPECT_EQ(tensor->dims(0), 2);
  EXPECT_EQ(tensor->dims(1), 3);
  EXPECT_EQ(tensor->data().size(), 24u);
}

}  // namespace
}  // namespace rat::client
