// A one-line progress bar with throughput and ETA, drawn on stderr only
// when stderr is a terminal.
#ifndef RAT_CLIENT_PROGRESS_H_
#define RAT_CLIENT_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace rat::client {

// Not thread-safe; call from the thread that drives the work.
class ProgressBar {
 public:
  // Enabled when `enabled` is true and stderr is a terminal.
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar();

  // Redraws at most every 100 ms, and always for done == total.
  void Update(int64_t done, int64_t total);
  // Starts a new stage with a new label; the previous line is finished.
  void SetLabel(std::string label);
  // Ends the line so later output starts on a fresh line.
  void Finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace rat::client

#endif  // RAT_CLIENT_PROGRESS_H_
