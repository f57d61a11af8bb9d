// berth/util/numeric.h against libm (which the tests may link; berth does not).
#include "berth/util/numeric.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>


using namespace berth;

TEST_CASE("round_to_int64 rounds as llround does") {
  for (long double x : {0.0L, 0.4L, 0.5L, 0.6L, 1.5L, 2.5L, -0.5L, -1.5L, -2.4L, 1e9L + 0.5L,
                        0.49999999999999994L, 9.2e18L, 123456789.987654321L})
    CHECK(num::round_to_int64(x) == std::llround(x));
}

TEST_CASE("pow2 is exact") {
  for (int n = 0; n < 64; ++n) CHECK(num::pow2(n) == std::ldexp(1.0, n));
}

TEST_CASE("log2_of and exp10_of agree with libm") {
  for (uint64_t x = 1; x < 300000; x += (x < 5000 ? 1 : 97))
    CHECK(std::fabs(static_cast<double>(num::log2_of(x)) - std::log2(static_cast<double>(x))) < 1e-13);
  for (double e = -3; e < 17; e += 0.0137)
    CHECK(std::fabs(static_cast<double>(num::exp10_of(e)) / std::pow(10.0, e) - 1) < 1e-14);
}
