#!/usr/bin/env bash
# Eval benchmark: samples/s of `smelt eval` on the 164 HumanEval-X Rust canonical solutions and on a mixed file
# (10 samples per task), sandbox on (bwrap) and off (none), against a one-rustc-per-sample baseline measured in
# the same run. Prints figures, ratios and the machine's own floors (one bare rustc, one bare bwrap launch).
#
#   benchmarks/eval/run.sh            # full run (a few minutes on 2 cores)
#   NAIVE_SAMPLES=200 benchmarks/eval/run.sh   # size of the mixed subset the sequential baseline evaluates
#   REPEAT=2 benchmarks/eval/run.sh            # rounds; each figure is the best of its rounds (default 2)
# "bwrap" runs each batch's tests in a bwrap session (one sandbox, fresh namespaces per run; docs/sandbox.md);
# "bwrap_launch_per_run" is the same with SMELT_SANDBOX_SESSIONS=0 (one bwrap launch per test run).
# Baselines: "per_sample" = the same harness with --batch-size 1 (one rustc per sample, same workers, same sandbox);
# "naive_sequential" = --batch-size 1 --workers 1 --sandbox none: one rustc at a time, unsandboxed, as a simple harness does.
#
# Needs: ../shared/data/humaneval-rust/humaneval_x_rust.jsonl (or SMELT_SHARED_DATA), rustc, bwrap, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
data="${SMELT_SHARED_DATA:-$here/../shared/data}/humaneval-rust/humaneval_x_rust.jsonl"
[[ -f "$data" ]] || { echo "benchmark: $data not found (set SMELT_SHARED_DATA)" >&2; exit 2; }
smelt="${SMELT:-$here/smelt}"
naive_n="${NAIVE_SAMPLES:-200}"
repeat="${REPEAT:-2}"
timeout_s="${RUN_TIMEOUT:-2}"
work="$(mktemp -d /tmp/smelt-eval-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

python3 "$here/benchmarks/eval/make_mixed.py" "$data" "$work/mixed.jsonl" 20
head -n "$naive_n" "$work/mixed.jsonl" > "$work/mixed_subset.jsonl"
python3 - "$data" "$work/canonical.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        out.write(json.dumps({"task_id": r["task_id"], "completion": r["canonical_solution"]}) + "\n")
PY

# Warm-up: builds the CLI and the crate set once, so no run below pays for them.
"$smelt" eval --problems "$data" --samples "$work/mixed_subset.jsonl" --out "$work/warm" --timeout "$timeout_s" --json >/dev/null 2>&1 || true

declare -A rate runs
run() { # name samples-file extra-args...   (keeps the best of the repeats: the machine is shared, noise only slows runs down)
  local name="$1" samples="$2"; shift 2
  local out="$work/$name"
  rm -rf "$out"
  "$smelt" eval --problems "$data" --samples "$samples" --out "$out" --timeout "$timeout_s" --json "$@" > "$out.json" 2>"$out.err" || {
    echo "run $name failed:" >&2; cat "$out.err" >&2; exit 3; }
  local line; line="$(python3 "$here/benchmarks/eval/describe.py" "$out.json")"
  local r="${line%%|*}"
  runs[$name]="${runs[$name]:-}${runs[$name]:+ }$r"
  if [[ -z "${rate[$name]:-}" ]] || python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$r" "${rate[$name]}"; then rate[$name]="$r"; fi
  printf '  %-34s %8s samples/s  (%s)\n' "$name" "$r" "${line#*|}"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(rustc --version)"
sysroot="$(rustc --print sysroot)"
printf 'fn f() -> i32 { 1 }\n#[test]\nfn t() { assert_eq!(f(), 1); }\n' > "$work/floor.rs"
t0=$(date +%s%N); for i in 1 2 3 4 5; do "$sysroot/bin/rustc" --test --edition 2021 -C debuginfo=0 "$work/floor.rs" -o "$work/floor" 2>/dev/null; "$work/floor" -q >/dev/null; done; t1=$(date +%s%N)
floor_ms=$(( (t1 - t0) / 5000000 ))
t0=$(date +%s%N); for i in $(seq 10); do bwrap --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --unshare-all --die-with-parent /bin/true; done; t1=$(date +%s%N)
bwrap_ms=$(( (t1 - t0) / 10000000 ))
echo "floors: one bare rustc --test + run of a 3-line file: ${floor_ms} ms (=> at most $(( 1000 * $(nproc) / (floor_ms > 0 ? floor_ms : 1) )) samples/s on $(nproc) cores for any one-rustc-per-sample harness); one bare bwrap launch: ${bwrap_ms} ms"
for round in $(seq "$repeat"); do
  echo
  echo "round $round of $repeat, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo " 164 HumanEval-X canonical solutions:"
  run canonical_bwrap "$work/canonical.jsonl" --sandbox bwrap
  run canonical_none "$work/canonical.jsonl" --sandbox none --allow-unsandboxed
  SMELT_SANDBOX_SESSIONS=0 run canonical_bwrap_launch_per_run "$work/canonical.jsonl" --sandbox bwrap
  run canonical_per_sample_bwrap "$work/canonical.jsonl" --sandbox bwrap --batch-size 1
  run canonical_naive_sequential "$work/canonical.jsonl" --sandbox none --allow-unsandboxed --batch-size 1 --workers 1
  echo " mixed file ($(wc -l < "$work/mixed.jsonl") samples: 5 correct shapes, 2 wrong, 3 compile/syntax errors per task, infinite loops every 20th task; subset: first $naive_n):"
  run mixed_bwrap "$work/mixed.jsonl" --sandbox bwrap
  run mixed_none "$work/mixed.jsonl" --sandbox none --allow-unsandboxed
  run mixed_subset_bwrap "$work/mixed_subset.jsonl" --sandbox bwrap
  run mixed_subset_naive_sequential "$work/mixed_subset.jsonl" --sandbox none --allow-unsandboxed --batch-size 1 --workers 1
done
echo
echo "best of $repeat (samples/s):"
for k in canonical_bwrap canonical_none canonical_bwrap_launch_per_run canonical_per_sample_bwrap canonical_naive_sequential mixed_bwrap mixed_none mixed_subset_bwrap mixed_subset_naive_sequential; do
  printf '  %-34s %8s   (all: %s)\n' "$k" "${rate[$k]}" "${runs[$k]}"
done
echo
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b>0 else 'n/a')" "$1" "$2"; }
echo "ratios:"
echo "  canonical: batched+bwrap vs naive sequential one-rustc-per-sample : $(ratio "${rate[canonical_bwrap]}" "${rate[canonical_naive_sequential]}")x  (target >= 10)"
echo "  canonical: batched+bwrap vs per-sample+bwrap, same workers       : $(ratio "${rate[canonical_bwrap]}" "${rate[canonical_per_sample_bwrap]}")x"
echo "  canonical: bwrap sessions vs one bwrap launch per test run         : $(ratio "${rate[canonical_bwrap]}" "${rate[canonical_bwrap_launch_per_run]}")x"
echo "  mixed:     batched+bwrap vs naive sequential (subset)              : $(ratio "${rate[mixed_subset_bwrap]}" "${rate[mixed_subset_naive_sequential]}")x  (target >= 10)"
echo "  sandbox cost, canonical (none/bwrap - 1)                        : $(python3 -c "import sys; print(f'{(float(sys.argv[1])/float(sys.argv[2])-1)*100:.1f}%')" "${rate[canonical_none]}" "${rate[canonical_bwrap]}")  (target < 15%)"
echo "  sandbox cost, mixed (none/bwrap - 1)                            : $(python3 -c "import sys; print(f'{(float(sys.argv[1])/float(sys.argv[2])-1)*100:.1f}%')" "${rate[mixed_none]}" "${rate[mixed_bwrap]}")  (target < 15%)"
floor_rate=$(python3 -c "import sys; print(f'{1000*int(sys.argv[1])/max(1,int(sys.argv[2])):.2f}')" "$(nproc)" "$floor_ms")
echo "  canonical: batched+bwrap vs the floor of any one-rustc-per-sample harness ($floor_rate samples/s): $(ratio "${rate[canonical_bwrap]}" "$floor_rate")x"
