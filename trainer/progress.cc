#include "trainer/progress.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"

namespace rat {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsBetween(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

std::string FormatDuration(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  return absl::StrFormat("%d:%02d", total / 60, total % 60);
}

}  // namespace

void EpochMeter::Add(const StepStats& stats) {
  loss_sum += stats.loss * stats.images;
  clean_loss_sum += stats.clean_loss * stats.images;
  adv_loss_sum += stats.adv_loss * stats.images;
  correct += stats.correct;
  images += stats.images;
}

ProgressMode ChooseProgressMode(const std::string& requested, bool is_main) {
  if (!is_main) return ProgressMode::kSilent;
  if (requested == "bar") return ProgressMode::kBar;
  if (requested == "log") return ProgressMode::kLog;
  return isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLog;
}

void ProgressReporter::StartEpoch(int64_t epoch, int64_t epochs,
                                  int64_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  first_batch_ = -1;
  next_log_batch_ = 0;
  start_ = Clock::now();
  last_draw_ = Clock::time_point();
}

std::string ProgressReporter::Line(int64_t batch, const EpochMeter& meter,
                                   double learning_rate) const {
  const double seconds = SecondsBetween(start_, Clock::now());
  const double images_per_second = seconds > 0 ? meter.images / seconds : 0;
  const int64_t done = batch - first_batch_;
  const double eta = done > 0 ? seconds / done * (batches_ - batch) : 0;
  return absl::StrFormat(
      "epoch %d/%d %d/%d loss %.4f clean %.4f perturbed %.4f acc %.2f%% "
      "lr %.3g %.0f img/s ETA %s",
      epoch_ + 1, epochs_, batch, batches_, meter.loss(), meter.clean_loss(),
      meter.adv_loss(), 100 * meter.accuracy(), learning_rate,
      images_per_second, FormatDuration(eta));
}

void ProgressReporter::Update(int64_t batch, const EpochMeter& meter,
                              double learning_rate) {
  // Batches skipped on resume do not count towards the speed and ETA.
  if (first_batch_ < 0) first_batch_ = batch - 1;
  if (mode_ == ProgressMode::kSilent) return;

  if (mode_ == ProgressMode::kLog) {
    if (batch < next_log_batch_ && batch != batches_) return;
    next_log_batch_ = batch + std::max<int64_t>(1, batches_ / 4);
    spdlog::info("{}", Line(batch, meter, learning_rate));
    return;
  }

  const Clock::time_point now = Clock::now();
  if (SecondsBetween(last_draw_, now) < 0.2 && batch != batches_) return;
  last_draw_ = now;
  const int width = 20;
  const int filled =
      batches_ > 0 ? static_cast<int>(width * batch / batches_) : width;
  std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
  std::fprintf(stderr, "\r[%s] %s\x1b[K", bar.c_str(),
               Line(batch, meter, learning_rate).c_str());
  std::fflush(stderr);
}

void ProgressReporter::FinishEpoch() {
  if (mode_ == ProgressMode::kBar) {
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
}

absl::Status AppendJsonLine(const std::string& path,
                            const nlohmann::json& record) {
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  std::error_code error;
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  std::ofstream file(path, std::ios::app);
  if (!file) {
    return absl::InternalError(
        absl::StrCat("cannot open metrics file \"", path, "\" for appending"));
  }
  file << record.dump() << "\n";
  file.flush();
  if (!file) {
    return absl::InternalError(
        absl::StrCat("writing metrics file \"", path, "\" failed"));
  }
  return absl::OkStatus();
}

}  // namespace rat
