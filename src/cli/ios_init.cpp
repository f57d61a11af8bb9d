// The berth binary links with -Wl,--wrap=_ZNSt8ios_base4InitC1Ev: every call of
// std::ios_base::Init::Init() in its objects and static libraries lands here. Those calls are
// the static initializers of the translation units that include <iostream> (yaml-cpp's, linked
// statically); each would build the classic locale before main (~0.9 ms here, for every
// command). They do nothing now, and berth::std_streams() initializes the streams when a
// command needs them (include/berth/util/std_streams.h). Their destructors stay harmless: the
// count they decrement never passes through 2 unless the streams were initialized, and then
// the first of them flushes, as usual.
#include "berth/util/std_streams.h"

extern "C" void __real__ZNSt8ios_base4InitC1Ev(std::ios_base::Init* self);

extern "C" void __wrap__ZNSt8ios_base4InitC1Ev(std::ios_base::Init* self) {
  if (berth::g_std_streams_wanted) __real__ZNSt8ios_base4InitC1Ev(self);
}
