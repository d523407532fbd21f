#include "client/progress.h"

#include <unistd.h>

#include <cstdio>
#include <utility>

namespace rat::client {
namespace {

constexpr int kBarWidth = 30;  // characters

}  // namespace

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled && isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::SetLabel(std::string label) {
  Finish();
  label_ = std::move(label);
  start_ = std::chrono::steady_clock::now();
}

void ProgressBar::Update(int64_t done, int64_t total) {
  if (!enabled_ || total <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total &&
      now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;

  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double fraction =
      static_cast<double>(done) / static_cast<double>(total);
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  const double eta_seconds =
      rate > 0 ? static_cast<double>(total - done) / rate : 0;
  const int filled = static_cast<int>(fraction * kBarWidth);

  std::string bar(kBarWidth, ' ');
  for (int i = 0; i < filled && i < kBarWidth; ++i) bar[i] = '=';
  if (filled < kBarWidth) bar[filled] = '>';
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %3.0f%% %.0f img/s ETA %.0f s  ",
               label_.c_str(), bar.c_str(), static_cast<long long>(done),
               static_cast<long long>(total), 100 * fraction, rate,
               eta_seconds);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (enabled_ && drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace rat::client
