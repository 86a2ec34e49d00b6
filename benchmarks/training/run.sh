#!/usr/bin/env bash
# Training benchmark: tokens/s and peak memory of the LoRA / QLoRA training step for the tiny and ~100M presets (f32 and bf16),
# beside this machine's measured f32/bf16 matmul GFLOP/s, reported as model FLOPs utilisation (MFU).
# Usage: benchmarks/training/run.sh [--quick] [--presets tiny,100m] [--methods lora,qlora] [--dtypes f32,bf16] [--steps N] [--seq N] [--batch N]
#        [--checkpointing PRESET|none] [--checkpointing-only]   (gradient checkpointing off vs on, LoRA, first dtype; default preset 100m)
# With MALLOC_MMAP_THRESHOLD_=65536 in the environment, peak RSS follows the live tensors instead of glibc's cached heap.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet build "$here/Smelt.Training.Bench/Smelt.Training.Bench.csproj" -c Release --nologo -v quiet -clp:ErrorsOnly >&2
exec dotnet "$here/Smelt.Training.Bench/bin/Release/net10.0/Smelt.Training.Bench.dll" "$@"
