#!/usr/bin/env bash
# README command (b): install what is missing, check the formatting, build, run the whole suite;
# then the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer, and under
# ThreadSanitizer (the nodes run an integrity actor thread beside their loop); then a short
# libFuzzer run of every decoder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-format.sh
scripts/build.sh build
(cd build && ctest --output-on-failure -j2 --timeout 300)
scripts/build.sh build-asan -DZCLUSTER_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   LSAN_OPTIONS=suppressions=$PWD/../tests/lsan.supp ctest --output-on-failure -j2 --timeout 600)
# libzmq, RocksDB and libsodium are not built with TSan: their accesses are not checked
# (ignore_noninstrumented_modules) and their frames are suppressed (tests/tsan.supp), so what
# TSan reports is a race in zcluster's own code.
scripts/build.sh build-tsan -DZCLUSTER_SANITIZE=thread
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 \
suppressions=$PWD/../tests/tsan.supp" ctest --output-on-failure -j2 --timeout 600)
# libFuzzer (clang) on every decoder for 20 s each, and every input that once crashed one.
CC=clang CXX=clang++ scripts/build.sh build-fuzz -DZCLUSTER_SANITIZE=fuzz
(cd build-fuzz && ctest --output-on-failure -j2 --timeout 300 -L fuzz)
