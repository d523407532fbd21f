// Tunes score parameters on held-out data by lowest AURC and picks the
// default reject threshold, for the model card's calibration.
#ifndef RAT_TRAINER_CALIBRATION_H_
#define RAT_TRAINER_CALIBRATION_H_

#include <ATen/ATen.h>
#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rat/v1/model_card.pb.h"

namespace rat {

// Temperatures tried for ODIN, RR-Fast and RR-BS: {0.2, 0.4, 0.6, 0.8, 1,
// 1.1, 1.2, 1.3, 1.4, 1.5, 2, 2.5, 3, 100, 1000}.
const std::vector<double>& TemperatureGrid();

// ODIN input perturbations tried, pixel units: {0, 5e-5, 1e-4, ..., 1e-3}.
const std::vector<double>& OdinEpsilonGrid();

struct CalibrationOptions {
  int64_t batch_size = 512;  // images per scoring call
  // The reject policy accepts this fraction of the tuning images, ranked by
  // RR-Fast at its tuned temperature.
  double reject_coverage = 0.95;
  // Description of the tuning data for the card, e.g. "fashion-mnist train
  // hold-out (6000 images)".
  std::string tuned_on;
  // true: every (T, eps) pair of the ODIN grids (165 extra passes). false:
  // T at eps = 0 first, then eps at that T (11 extra passes), which can miss
  // a better pair off those two lines.
  bool full_odin_grid = false;
  // Tune the RR-BS temperature over the grid; otherwise T = 1, because every
  // grid point costs a bisection of up to 24 forwards per image.
  bool tune_rr_bs = false;
};

// Scores `images` (float32 N x C x H x W in [0, 1]) with every grid point
// and returns the parameters of lowest AURC against `labels` (int64 N): ODIN
// (T, eps), RR-Fast T and RR-BS T, the AURC of every score on this data
// (cheap logit scores at their default temperature), and a "coverage" reject
// policy on rr_fast. CalibrationOptions sets how much of the grids is
// searched. Ties in AURC keep the earlier grid point. Each grid
// point costs one ScoreEngine call, which shares one forward pass and one
// input backward among the scores of that temperature.
//
// Errors: INVALID_ARGUMENT for an empty set or mismatched shapes; scoring
// and metric errors are passed on with the grid point named.
absl::StatusOr<rat::v1::Calibration> CalibrateScores(
    torch::jit::Module& model, const at::Tensor& images,
    const at::Tensor& labels, const CalibrationOptions& options);

}  // namespace rat

#endif  // RAT_TRAINER_CALIBRATION_H_
