#!/usr/bin/env bash
# benchmarks/workflow/run.sh: how much memory `smelt export` (streaming LoRA merge) needs, against the model size and
# the shard size, and how fast it writes compared with this machine's own sequential disk write speed.
#
#   benchmarks/workflow/run.sh            # 100m preset (about 400 MB in f32), shard sizes 25MB, 100MB, 2GB
#   PRESET=tiny benchmarks/workflow/run.sh
#
# It builds the CLI, creates the preset model, trains a real LoRA adapter for 2 steps (so B != 0), then exports it
# with each shard size and reports the process peak RSS (getrusage max RSS via /usr/bin/time) next to the model bytes.
# Peak memory that follows the shard size and stays well below the model size is what "streams layer by layer" means.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PRESET=${PRESET:-100m}
SHARDS=${SHARDS:-"25MB 100MB 2GB"}
WORK=$(mktemp -d /tmp/smelt-bench-workflow.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if [ -z "${SKIP_BUILD:-}" ]; then   # SKIP_BUILD=1 uses the CLI already built in src/Smelt.Cli/bin/Release
  dotnet build "$ROOT/src/Smelt.Cli" -c Release -v q -nologo >/dev/null || { echo "building the CLI failed (run: dotnet build src/Smelt.Cli -c Release)"; exit 1; }
fi
SMELT=(dotnet "$ROOT/src/Smelt.Cli/bin/Release/net10.0/smelt.dll")

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -r)"
"${SMELT[@]}" model init --preset "$PRESET" --out "$WORK/base" >/dev/null
"${SMELT[@]}" model init --preset tiny --out "$WORK/tiny" >/dev/null
for i in $(seq 1 24); do
  printf '{"prompt": "/// Adds two numbers and an offset.\\nfn add_%d(a: i64, b: i64) -> i64 {\\n", "gen": "    let offset: i64 = %d;\\n    a.wrapping_add(b).wrapping_add(offset)\\n}\\n"}\n' "$i" "$i"
done > "$WORK/data.jsonl"

train() { # model dir, run dir
  "${SMELT[@]}" train --set "model.path=$1" --set "data.sources=[{path: $WORK/data.jsonl}]" --set train.max_steps=2 \
    --set train.warmup_steps=0 --set train.batch_size=1 --set data.max_seq_len=64 --set logging.progress=never \
    --set logging.tensorboard=false --set "output.dir=$2" >/dev/null
}
train "$WORK/base" "$WORK/run"
train "$WORK/tiny" "$WORK/run-tiny"

model_bytes=$(find "$WORK/base" -name '*.safetensors' -printf '%s\n' | awk '{s+=$1} END {print s}')
export_once() { # adapter, out, shard size -> prints "peak_rss_kib peak_anon_kib seconds"
  local t0 t1 rss json
  t0=$(date +%s.%N)
  rss=$( { /usr/bin/time -o "$WORK/time.txt" -f '%M' "${SMELT[@]}" export --adapter "$1" --out "$2" --dtype f32 --max-shard-size "$3" --json > "$WORK/export.json"; } 2>&1; cat "$WORK/time.txt")
  t1=$(date +%s.%N)
  anon=$(grep -o '"peak_anonymous_bytes":[0-9]*' "$WORK/export.json" | cut -d: -f2)
  echo "$(echo "$rss" | tail -1) $((anon / 1024)) $(echo "$t1 - $t0" | bc)"
}

read -r floor_kib floor_anon _ < <(export_once "$WORK/run-tiny/adapter" "$WORK/merged-tiny" 2GB)
echo "runtime floor (export of the 4 MB tiny model): peak RSS $((floor_kib / 1024)) MiB, anonymous $((floor_anon / 1024)) MiB"
echo "model: preset $PRESET, $((model_bytes / 1048576)) MiB of f32 weights"
echo "peak RSS counts the memory-mapped base's page-cache pages (clean, reclaimable); anonymous memory is what the merge holds"
printf '%-8s %7s %10s %12s %16s %16s %8s\n' shard shards "RSS MiB" "anon MiB" "anon-floor MiB" "(anon-floor)/model" "MB/s"
for s in $SHARDS; do
  read -r kib anon secs < <(export_once "$WORK/run/adapter" "$WORK/merged-$s" "$s")
  shards=$(find "$WORK/merged-$s" -name '*.safetensors' | wc -l)
  above=$(( (anon - floor_anon) / 1024 ))
  printf '%-8s %7d %10d %12d %16d %16.2f %8.1f\n' "$s" "$shards" $((kib / 1024)) $((anon / 1024)) "$above" "$(echo "($anon - $floor_anon) * 1024 / $model_bytes" | bc -l)" \
    "$(echo "$model_bytes / 1000000 / $secs" | bc -l)"
  rm -rf "$WORK/merged-$s"
done
dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=$((model_bytes / 1048576)) conv=fdatasync 2>&1 | tail -1 | sed 's/^/disk write (dd, same size, fdatasync): /'
echo "(MB/s includes process start-up, libtorch load and the fsyncs of every shard; compare with the dd figure)"
