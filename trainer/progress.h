// Per-epoch progress display and the JSON-lines metrics file.
#ifndef RAT_TRAINER_PROGRESS_H_
#define RAT_TRAINER_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "trainer/rat_step.h"

namespace rat {

// Running sums of one epoch's step statistics.
struct EpochMeter {
  double loss_sum = 0;  // sums of per-batch means, weighted by images
  double clean_loss_sum = 0;
  double adv_loss_sum = 0;
  int64_t correct = 0;
  int64_t images = 0;

  void Add(const StepStats& stats);
  double loss() const { return images > 0 ? loss_sum / images : 0; }
  double clean_loss() const { return images > 0 ? clean_loss_sum / images : 0; }
  double adv_loss() const { return images > 0 ? adv_loss_sum / images : 0; }
  double accuracy() const {
    return images > 0 ? static_cast<double>(correct) / images : 0;
  }
};

enum class ProgressMode { kBar, kLog, kSilent };

// Picks kBar when `requested` is "bar", or "auto" and stderr is a terminal;
// kLog otherwise; kSilent when `is_main` is false (non-zero ranks).
ProgressMode ChooseProgressMode(const std::string& requested, bool is_main);

// Draws a one-line bar on stderr (redrawn at most 5 times per second), or
// logs a line at every quarter of the epoch. Not thread safe.
class ProgressReporter {
 public:
  explicit ProgressReporter(ProgressMode mode) : mode_(mode) {}

  void StartEpoch(int64_t epoch, int64_t epochs, int64_t batches);
  // `batch` counts the batches done in this epoch, including skipped ones.
  void Update(int64_t batch, const EpochMeter& meter, double learning_rate);
  void FinishEpoch();

 private:
  std::string Line(int64_t batch, const EpochMeter& meter,
                   double learning_rate) const;

  ProgressMode mode_;
  int64_t epoch_ = 0;
  int64_t epochs_ = 0;
  int64_t batches_ = 0;
  int64_t first_batch_ = -1;
  int64_t next_log_batch_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Appends `record` and a newline to `path`, creating its folder if needed.
// Returns INTERNAL naming the file when it cannot be opened or written.
absl::Status AppendJsonLine(const std::string& path,
                            const nlohmann::json& record);

}  // namespace rat

#endif  // RAT_TRAINER_PROGRESS_H_
