// Worker program for the multi-process tests. Usage:
//   distributed_test_worker [launcher flags] SCENARIO OUT_DIR TIMEOUT_SECONDS
//   [ARGS]
// Each rank reads the torchrun variables, runs SCENARIO and writes its
// result to OUT_DIR/rank<RANK>.txt. Scenarios:
//   train            TrainTinyModel on a global batch of 16 samples;
//                    writes the parameters and buffers, one value a line
//   sum              SumScalars({rank + 1, 0.5}); writes the sums
//   dead             rank 1 exits after joining; rank 0 then all-reduces
//                    and writes the status code, seconds taken and message
//   stuck            as dead, but rank 1 stays alive without joining the
//                    all-reduce until TIMEOUT_SECONDS + 2 s have passed
//   env              writes the torchrun variables and the arguments
//   exit RANK CODE   rank RANK exits with CODE at once; the others join the
//                    group and wait there until they are stopped
//   ready            joins the group, creates OUT_DIR/ready<RANK> and sleeps
//                    for TIMEOUT_SECONDS, so a test can signal the launcher
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "tests/trainer/distributed_test_model.h"
#include "trainer/distributed.h"
#include "trainer/launcher.h"

namespace {

constexpr int kTrainSteps = 5;
constexpr int64_t kGlobalBatch = 16;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "worker failed: %s\n", status.ToString().c_str());
  return 1;
}

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

int RunScenario(const std::string& scenario, int timeout_seconds,
                rat::Distributed& distributed, std::ofstream& out) {
  if (scenario == "train") {
    torch::jit::Module module =
        rat::testing::MakeTinyModel(/*seed=*/100 + distributed.rank());
    absl::Status status = rat::testing::TrainTinyModel(
        module, distributed, kTrainSteps, kGlobalBatch);
    if (!status.ok()) return Fail(status);
    char text[64];
    for (double value : rat::testing::FlattenState(module)) {
      std::snprintf(text, sizeof(text), "%.17g\n", value);
      out << text;
    }
    return 0;
  }
  if (scenario == "sum") {
    absl::StatusOr<std::vector<double>> sums =
        distributed.SumScalars({distributed.rank() + 1.0, 0.5});
    if (!sums.ok()) return Fail(sums.status());
    out << absl::StrJoin(*sums, " ") << "\n";
    return 0;
  }
  if (scenario == "dead" || scenario == "stuck") {
    absl::Status joined = distributed.Barrier();
    if (!joined.ok()) return Fail(joined);
    if (distributed.rank() == 1) {
      // A stuck peer: alive, connected, and never joining the collective.
      if (scenario == "stuck") {
        std::this_thread::sleep_for(std::chrono::seconds(timeout_seconds + 2));
      }
      std::_Exit(0);
    }

    torch::jit::Module module = rat::testing::MakeTinyModel(/*seed=*/1);
    const auto begin = std::chrono::steady_clock::now();
    absl::Status status = distributed.AverageGradients(module);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
            .count();
    out << absl::StatusCodeToString(status.code()) << "\n"
        << seconds << "\n"
        << status.message() << "\n";
    return 0;
  }
  std::fprintf(stderr, "unknown scenario \"%s\"\n", scenario.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  if (rat::MaybeRunLauncher(argc, argv, &exit_code)) return exit_code;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SCENARIO OUT_DIR TIMEOUT_SECONDS [ARGS]\n",
                 argv[0]);
    return 2;
  }
  const std::string scenario = argv[1];
  const std::string out_path =
      std::string(argv[2]) + "/rank" + EnvOrEmpty("RANK") + ".txt";

  if (scenario == "env") {
    std::ofstream out(out_path);
    for (const char* name :
         {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
          "MASTER_PORT"}) {
      out << name << "=" << EnvOrEmpty(name) << "\n";
    }
    for (int i = 1; i < argc; ++i) out << "arg=" << argv[i] << "\n";
    return 0;
  }

  rat::DistributedOptions options;
  absl::Status read = rat::ReadDistributedEnvironment(&options);
  if (!read.ok()) return Fail(read);
  if (!absl::SimpleAtoi(argv[3], &options.timeout_seconds)) return 2;
  options.bucket_bytes = 40;  // several buckets even for the tiny model

  if (scenario == "exit" && argc >= 6 &&
      std::to_string(options.rank) == argv[4]) {
    return std::atoi(argv[5]);
  }

  auto distributed = rat::Distributed::Create(options, "cpu");
  if (!distributed.ok()) return Fail(distributed.status());
  if (scenario == "exit") return 0;
  if (scenario == "ready") {
    std::ofstream(std::string(argv[2]) + "/ready" + EnvOrEmpty("RANK"));
    std::this_thread::sleep_for(std::chrono::seconds(options.timeout_seconds));
    return 0;
  }

  std::ofstream out(out_path);
  return RunScenario(scenario, options.timeout_seconds, **distributed, out);
}
