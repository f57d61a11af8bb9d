#pragma once
// <iostream> without its start-up cost. With GCC 12's libstdc++ every translation unit that
// includes <iostream> carries a static std::ios_base::Init, whose constructor builds the classic
// locale and its facets before main: ~0.9 ms a process on this VM (each first-touched page traps
// to the hypervisor), for every command, `berth --version` included. CLI11 includes <iostream>.
//
// Include this header instead of <iostream>, and before CLI/CLI.hpp: it declares the standard
// streams as <iostream> does, but without the static initializer. The streams then work only
// after std_streams() has run: call it before anything reads std::cin or lets CLI11 print
// (CLI::App::exit). A stream used before that is a crash, not silent output loss.
#include <istream>
#include <ostream>

#ifndef _GLIBCXX_IOSTREAM
#define _GLIBCXX_IOSTREAM 1  // libstdc++'s include guard: a later #include <iostream> adds nothing
namespace std {
extern istream cin;
extern ostream cout;
extern ostream cerr;
extern ostream clog;
extern wistream wcin;
extern wostream wcout;
extern wostream wcerr;
extern wostream wclog;
}  // namespace std
#endif

namespace berth {
// Initializes std::cin/cout/cerr/clog (once; they are flushed at exit as usual).
void std_streams();
// Set by std_streams(). The berth binary is linked with --wrap on std::ios_base::Init's
// constructor (src/cli/ios_init.cpp): the static Init objects of statically linked yaml-cpp,
// which includes <iostream> in most of its files, do nothing until this is set.
extern bool g_std_streams_wanted;
}  // namespace berth
