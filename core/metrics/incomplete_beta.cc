#include "core/metrics/incomplete_beta.h"

#include <math.h>

#include <cmath>
#include <initializer_list>
#include <limits>

namespace rat {
namespace {

constexpr double kTiny = 1e-300;
constexpr double kRelativeTolerance = 1e-15;

// Continued fraction for I_x(a, b) without its prefactor, evaluated with the
// modified Lentz method. It converges fast for x < (a + 1) / (a + b + 2);
// the caller uses the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) otherwise.
double BetaContinuedFraction(double a, double b, double x) {
  // Convergence takes O(sqrt(max(a, b))) terms; the cap leaves a wide margin.
  const int max_terms = 1000 + static_cast<int>(10 * std::sqrt(a + b));

  double c = 1;
  double d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double fraction = d;
  for (int m = 1; m <= max_terms; ++m) {
    // Even term d_{2m}, then odd term d_{2m+1} of the fraction.
    const double even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    const double odd =
        -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
    for (double coefficient : {even, odd}) {
      d = 1 + coefficient * d;
      if (std::fabs(d) < kTiny) d = kTiny;
      c = 1 + coefficient / c;
      if (std::fabs(c) < kTiny) c = kTiny;
      d = 1 / d;
      fraction *= c * d;
    }
    if (std::fabs(c * d - 1) < kRelativeTolerance) break;
  }
  return fraction;
}

// std::lgamma writes the global signgam, so concurrent calls race; the
// reentrant lgamma_r (glibc, BSD and macOS libm) does not.
double LogGamma(double x) {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

}  // namespace

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (x == 0) return 0;
  if (x == 1) return 1;

  // x^a (1 - x)^b / B(a, b), in logs to avoid overflow for large a and b.
  const double log_prefactor = a * std::log(x) + b * std::log1p(-x) +
                               LogGamma(a + b) - LogGamma(a) - LogGamma(b);
  const double prefactor = std::exp(log_prefactor);
  if (x < (a + 1) / (a + b + 2)) {
    return prefactor * BetaContinuedFraction(a, b, x) / a;
  }
  return 1 - prefactor * BetaContinuedFraction(b, a, 1 - x) / b;
}

}  // namespace rat
