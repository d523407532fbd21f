// `rat-client bench`: MisD metrics, latency and throughput of a served model
// on a labelled data set, in the plain or the paper protocol.
#ifndef RAT_CLIENT_BENCH_COMMAND_H_
#define RAT_CLIENT_BENCH_COMMAND_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "client/image_set.h"
#include "client/inference_client.h"
#include "client/report/report.h"
#include "core/data/dataset.h"

namespace rat::client {

struct BenchOptions {
  ClientOptions client;
  std::string model;
  DatasetOptions dataset;
  // Comma-separated score names.
  std::string scores = "msr,odin,rr_fast,rr_bs";
  int batch_size = 64;  // images per request
  int concurrency = 4;  // requests in flight
  // "plain": every image once with the served parameters; "paper": seeded
  // validation/test splits with tuning on validation.
  std::string protocol = "plain";
  int repeats = 3;
  double validation_fraction = 0.2;
  uint64_t seed = 0;
  bool tune_rr_bs = false;
  // "full" (every T x eps pair) or "staged" (T first, then eps).
  std::string odin_search = "full";
  // Output files; empty means not written.
  std::string json_path;
  std::string csv_path;
  std::string dump_path;
  std::string html_path;
  bool allow_failures = false;
  bool show_progress = true;
};

struct BenchResult {
  BenchReport report;
  // Images left out of the metrics because their request failed, over all
  // passes, and the message of the first failure.
  int64_t images_failed = 0;
  std::string first_error;
};

// Runs the benchmark on `images` and fills a report. Failed requests are
// counted in report.latency.requests_failed. Errors: INVALID_ARGUMENT for bad
// options or a data set whose image shape the model does not take,
// UNAVAILABLE / NOT_FOUND / DEADLINE_EXCEEDED from the server naming its
// address, FAILED_PRECONDITION when no image could be scored.
absl::StatusOr<BenchResult> RunBenchmark(const BenchOptions& options,
                                         const ImageSet& images);

// Loads the data set, runs the benchmark, prints the table on stdout and
// writes the requested files. Returns the process exit code: 0 on success,
// 1 on an error or, without allow_failures, when any request failed.
int RunBenchCommand(const BenchOptions& options);

// Registers the `bench` subcommand; its callback stores the exit code.
void AddBenchCommand(CLI::App& app, int& exit_code);

}  // namespace rat::client

#endif  // RAT_CLIENT_BENCH_COMMAND_H_
