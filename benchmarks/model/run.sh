#!/usr/bin/env bash
# Model benchmark: matmul GFLOP/s (f32/bf16) beside prefill/decode tokens/s for the tiny and ~100M presets, batch 1 and 8.
# Usage: benchmarks/model/run.sh [--quick] [--presets tiny,100m] [--dtypes float32,bfloat16] [--prompt N] [--new N] [--threads N]
#        benchmarks/model/run.sh --load MODEL_DIR   (peak RSS while loading, against the weights size)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet build "$here/Smelt.Model.Bench/Smelt.Model.Bench.csproj" -c Release --nologo -v quiet -clp:ErrorsOnly >&2
exec dotnet "$here/Smelt.Model.Bench/bin/Release/net10.0/Smelt.Model.Bench.dll" "$@"
