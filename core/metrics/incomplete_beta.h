// The regularized incomplete beta function, the basis of the binomial
// (Clopper-Pearson) confidence bounds used by reject thresholds.
#ifndef RAT_CORE_METRICS_INCOMPLETE_BETA_H_
#define RAT_CORE_METRICS_INCOMPLETE_BETA_H_

namespace rat {

// I_x(a, b) = B(x; a, b) / B(a, b) for a > 0, b > 0 and x in [0, 1],
// evaluated by its continued fraction. Returns NaN for arguments outside
// these ranges. Thread-safe. Measured absolute error at x = 0.5: about 1e-15
// for a = b = 10, 3e-13 at 10^3 and 1e-9 at 10^5 to 10^6, because the
// log-gamma prefactor loses digits as a and b grow.
double RegularizedIncompleteBeta(double a, double b, double x);

}  // namespace rat

#endif  // RAT_CORE_METRICS_INCOMPLETE_BETA_H_
