#pragma once
// The few floating-point functions Berth needs, written out so that `berth` does not link libm:
// one shared object fewer for the dynamic loader to map and relocate at every start
// (docs/startup.md). Each is checked against libm in tests/unit/util/numeric_test.cpp (and
// cpu_shares_to_weight, which uses them, in tests/unit/cgroup/fake_cgroupfs.cpp).
#include <bit>
#include <cstdint>

namespace berth::num {

constexpr long double kLn2 = 0.693147180559945309417232121458176568L;

// Rounds half away from zero, as llround and Go's math.Round do. |x| must fit in int64_t.
inline int64_t round_to_int64(long double x) {
  if (x < 0) return -static_cast<int64_t>(-x + 0.5L);
  return static_cast<int64_t>(x + 0.5L);
}

// 2^n for 0 <= n < 64, exactly.
inline double pow2(int n) { return static_cast<double>(uint64_t{1} << n); }

// log2(x) for x >= 1: the exponent from the bit width, the mantissa m in [1, 2) through
// ln(m) = 2 atanh((m-1)/(m+1)), whose series converges fast for m < 2 (z < 1/3).
inline long double log2_of(uint64_t x) {
  int n = std::bit_width(x) - 1;
  long double m = static_cast<long double>(x) / static_cast<long double>(uint64_t{1} << n);
  long double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;
  for (int k = 1; k < 80; k += 2, term *= z2) sum += term / k;
  return n + 2 * sum / kLn2;
}

// 10^e for |e| < 18: 2^t with t = e log2(10), as 2^floor(t) times the Taylor series of
// exp((t - floor(t)) ln 2).
inline long double exp10_of(long double e) {
  constexpr long double kLog2of10 = 3.321928094887362347870319429489390176L;
  long double t = e * kLog2of10;
  auto whole = static_cast<int64_t>(t);
  if (whole > t) --whole;  // floor for negative t
  long double y = (t - static_cast<long double>(whole)) * kLn2, term = 1, sum = 1;
  for (int i = 1; i < 30; ++i) sum += (term *= y / i);
  for (; whole > 0; --whole) sum *= 2;
  for (; whole < 0; ++whole) sum /= 2;
  return sum;
}

}  // namespace berth::num
