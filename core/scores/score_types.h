// Confidence score kinds and their parameters.
#ifndef RAT_CORE_SCORES_SCORE_TYPES_H_
#define RAT_CORE_SCORES_SCORE_TYPES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rat {

// Every score is larger when the prediction is more likely correct.
enum class ScoreKind {
  kMsr,         // max softmax probability at T = 1
  kOdin,        // ODIN: perturbed, temperature-scaled max softmax
  kRrFast,      // first-order robust radius estimate, pixel units (L-inf)
  kRrBs,        // robust radius by FGSM (or PGD) bisection, pixel units
  kMls,         // max logit
  kNegEntropy,  // negative entropy of softmax at T = 1
  kMargin,      // top-1 minus top-2 softmax probability
  kDoctor,      // sum_k p_T(x)_k^2
  kEnergy,      // T * logsumexp(logits / T)
};

// All kinds, in the order above.
const std::vector<ScoreKind>& AllScoreKinds();

// Lowercase name used in configs, metrics labels and reports: "msr", "odin",
// "rr_fast", "rr_bs", "mls", "neg_entropy", "margin", "doctor", "energy".
absl::string_view ScoreName(ScoreKind kind);

// Parses a name produced by ScoreName (also accepts '-' for '_', any case).
// INVALID_ARGUMENT naming the value and the allowed names otherwise.
absl::StatusOr<ScoreKind> ParseScoreKind(absl::string_view name);

// True for scores that need a backward pass to the input.
bool NeedsInputGradient(ScoreKind kind, double odin_epsilon);

// Parameters of every score. Distances are in pixel units of [0, 1] images.
struct ScoreParams {
  // ODIN temperature and input perturbation size.
  double odin_temperature = 1000.0;
  double odin_epsilon = 0.0;
  // RR-Fast: temperature shaping the direction, probe step, cap.
  double rr_fast_temperature = 1.0;
  double rr_fast_step = 1e-3;
  double rr_fast_max_radius = 1.0;
  // RR-BS: temperature of the attack gradient, start budget, iterations,
  // early-stop relative bracket width (0 disables early stop), PGD steps
  // (0 = FGSM). An image stops once hi - lo <= rel_tol * lo; the full search
  // would end inside that bracket, so the result moves by at most
  // rel_tol / 2 relative (5e-4 for the default).
  double rr_bs_temperature = 1.0;
  double rr_bs_initial_epsilon = 1e-6;
  int rr_bs_max_iterations = 24;
  double rr_bs_rel_tol = 1e-3;
  int rr_bs_pgd_steps = 0;
  // DOCTOR and energy temperatures.
  double doctor_temperature = 1.0;
  double energy_temperature = 1.0;
};

// Returns INVALID_ARGUMENT naming the first parameter that is out of range
// (temperatures > 0 and finite, epsilons >= 0, step > 0, ...).
absl::Status ValidateScoreParams(const ScoreParams& params);

}  // namespace rat

#endif  // RAT_CORE_SCORES_SCORE_TYPES_H_
