#!/bin/bash
# Fuzz the Compose loader with libFuzzer (clang, ASan + UBSan + LeakSanitizer).
# Usage: bench/fuzz-loader.sh [SECONDS]   (default 600). Seeds: tests/unit/compose/data/fuzz-seeds/
# and compose-go's full example; new corpus entries go to a temp dir, crashes to ./fuzz-artifacts/.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_TO_RUN=${1:-600}
OUT=${FUZZ_BUILD_DIR:-$SRC/build-fuzz}
mkdir -p "$OUT" "$OUT/corpus" "$SRC/fuzz-artifacts"
FLAGS="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$SRC/include -I$SRC/src"
clang++ $FLAGS -DBERTH_VERSION=\"fuzz\" \
  "$SRC"/src/compose/*.cpp "$SRC"/src/util/*.cpp "$SRC/tests/unit/compose/fuzz_loader.cc" \
  -lyaml-cpp -o "$OUT/fuzz-loader"
cp "$SRC"/tests/unit/compose/data/fuzz-seeds/* "$OUT/corpus/"
# compose-go's full example, when the shared corpus sits beside the project (not copied into it).
cp "$SRC/../shared/corpus/compose-go-full-example/full-example.yml" "$OUT/corpus/" 2>/dev/null || true
"$OUT/fuzz-loader" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$SRC/fuzz-artifacts/" -print_final_stats=1 "$OUT/corpus"
