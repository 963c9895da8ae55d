#!/usr/bin/env bash
# README command (c): install what is missing, build (release with debug info, no sanitizers),
# then run every bench scenario at its target size. The table goes to stdout and
# bench/results/latest.txt, the figures to bench/results/latest.json and the latency plot to
# bench/results/latest.svg. Extra arguments go to zcluster-bench (e.g. `qa --duration 60`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
mkdir -p bench/results
if [ $# -eq 0 ]; then set -- all; fi
build/bench/zcluster-bench "$@" --json bench/results/latest.json | tee bench/results/latest.txt
