#!/usr/bin/env bash
# Maintainer check for the bundled Rust training corpus.
#
# For every data/corpus/**/*.rs file it checks that
#   - the file is plain std Rust: no `unsafe`, no `extern crate`, and every `use`
#     path starts with std, core, alloc, self, super, crate, a local type or a local module;
#   - it compiles as a test binary (rustc --edition 2021 --test) and its tests pass;
#   - with --clippy: clippy-driver reports no warnings for it;
#   - with --fmt: it is formatted as rustfmt (edition 2021) would format it;
#   - it does not define a function named like one of the evaluation problems in
#     data/problems/smelt_rust_problems.jsonl (that would contaminate `smelt eval`).
# It also prints the number of files, total size and files outside 4-12 KB.
#
# Usage: data/corpus/verify.sh [--clippy] [--fmt]
# Needs: bash, rustc (clippy-driver for --clippy, rustfmt for --fmt), jq for the contamination check.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
problems="$here/../problems/smelt_rust_problems.jsonl"
with_clippy=0
with_fmt=0
for arg in "$@"; do
    case "$arg" in
        --clippy) with_clippy=1 ;;
        --fmt) with_fmt=1 ;;
        *) echo "usage: data/corpus/verify.sh [--clippy] [--fmt]" >&2; exit 2 ;;
    esac
done

need=(rustc timeout)
[[ "$with_clippy" -eq 1 ]] && need+=(clippy-driver)
[[ "$with_fmt" -eq 1 ]] && need+=(rustfmt)
for tool in "${need[@]}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "verify.sh: '$tool' is not on PATH (add ~/.cargo/bin to PATH or install the Rust toolchain)." >&2
        exit 2
    fi
done

work="$(mktemp -d /tmp/smelt-verify-corpus.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Function names of the evaluation problems, one per line.
banned="$work/banned.txt"
: >"$banned"
if [[ -f "$problems" ]] && command -v jq >/dev/null 2>&1; then
    jq -r '.declaration' "$problems" | sed -n 's/^fn \([A-Za-z0-9_]*\).*/\1/p' | sort -u >"$banned"
else
    echo "note: skipping the contamination check (needs jq and $problems)"
fi

mapfile -t files < <(find "$here" -name '*.rs' -type f | sort)
if [[ "${#files[@]}" -eq 0 ]]; then
    echo "verify.sh: no .rs files under $here" >&2
    exit 1
fi

failed=0
total_bytes=0
i=0
for f in "${files[@]}"; do
    i=$((i + 1))
    rel="${f#"$here"/}"
    bytes=$(wc -c <"$f")
    total_bytes=$((total_bytes + bytes))
    problems_here=()

    if grep -nE '(^|[^A-Za-z_])unsafe([^A-Za-z_]|$)' "$f" | grep -v '^\s*[0-9]*:\s*//' >/dev/null; then
        problems_here+=("uses the word unsafe (no unsafe code allowed)")
    fi
    if grep -nE '^\s*extern\s+crate' "$f" >/dev/null; then
        problems_here+=("has extern crate")
    fi
    # A `use` must start at std/core/alloc/self/super/crate, at a local type
    # (upper-case first letter, e.g. `use Shape as S;`) or at a module of the file.
    while IFS= read -r use_line; do
        [[ -z "$use_line" ]] && continue
        first=$(sed -E 's/^[0-9]+:\s*(pub\s+)?use\s+:*([A-Za-z0-9_]+).*/\2/' <<<"$use_line")
        case "$first" in
            std | core | alloc | self | super | crate | [A-Z]*) ;;
            *)
                if ! grep -qE "^\s*(pub\s+)?mod\s+$first\b" "$f"; then
                    problems_here+=("non-std import at line ${use_line%%:*}: ${use_line#*:}")
                fi
                ;;
        esac
    done < <(grep -nE '^\s*(pub\s+)?use\s+' "$f")
    if [[ -s "$banned" ]]; then
        while IFS= read -r name; do
            if hit=$(grep -nE "fn\s+$name\s*[(<]" "$f" | head -1) && [[ -n "$hit" ]]; then
                problems_here+=("defines fn $name (line ${hit%%:*}), the name of an evaluation problem")
            fi
        done <"$banned"
    fi

    bin="$work/t$i"
    if ! rustc --edition 2021 --test "$f" -o "$bin" >"$bin.log" 2>&1; then
        problems_here+=("does not compile:")
    elif grep -q '^warning' "$bin.log"; then
        echo "warn $rel: rustc warnings:"; sed 's/^/    /' "$bin.log" | head -20
    fi
    if [[ -x "$bin" ]]; then
        if ! RUST_BACKTRACE=0 timeout 60 "$bin" -q >"$bin.out" 2>&1; then
            problems_here+=("tests fail:")
        fi
    fi
    if [[ "$with_clippy" -eq 1 && -x "$bin" ]]; then
        if ! clippy-driver --edition 2021 --test -D warnings "$f" -o "$work/c$i" >"$work/c$i.log" 2>&1; then
            problems_here+=("clippy warnings:")
        fi
    fi

    if [[ "$with_fmt" -eq 1 ]] && ! rustfmt --edition 2021 --check "$f" >/dev/null 2>&1; then
        problems_here+=("is not rustfmt-formatted (run: rustfmt --edition 2021 $rel)")
    fi

    if [[ "${#problems_here[@]}" -eq 0 ]]; then
        tests=$(grep -o '[0-9]* passed' "$bin.out" | head -1)
        echo "ok   $rel ($((bytes / 1024)) KB, $tests)"
    else
        failed=$((failed + 1))
        for p in "${problems_here[@]}"; do echo "FAIL $rel: $p"; done
        [[ -f "$bin.log" ]] && grep -q error "$bin.log" && sed 's/^/    /' "$bin.log" | head -30
        [[ -f "$bin.out" ]] && grep -q FAILED "$bin.out" && sed 's/^/    /' "$bin.out" | tail -30
        [[ -f "$work/c$i.log" ]] && sed 's/^/    /' "$work/c$i.log" | head -30
    fi
    if (( bytes < 4096 || bytes > 12288 )); then
        echo "note $rel is $bytes bytes (target 4-12 KB)"
    fi
done

echo "verified ${#files[@]} files, $((total_bytes / 1024)) KB in total: $((${#files[@]} - failed)) ok, $failed failed"
[[ "$failed" -eq 0 ]]
