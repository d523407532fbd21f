// The regularized incomplete beta function, the basis of the binomial
// (Clopper-Pearson) confidence bounds used by reject thresholds.
#ifndef RAT_CORE_METRICS_INCOMPLETE_BETA_H_
#define RAT_CORE_METRICS_INCOMPLETE_BETA_H_

namespace rat {

// I_x(a, b) = B(x; a, b) / B(a, b) for a > 0, b > 0 and x in [0, 1],
// evaluated by its continued fraction. Returns NaN for arguments outside
// these ranges. Thread-safe. Absolute error is about 1e-12 for a, b up to
// 10^6 (the log-gamma prefactor loses a few digits at that size).
double RegularizedIncompleteBeta(double a, double b, double x);

}  // namespace rat

#endif  // RAT_CORE_METRICS_INCOMPLETE_BETA_H_
