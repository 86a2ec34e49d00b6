#!/usr/bin/env bash
# Maintainer check for the bundled evaluation problems (not the evaluation harness).
#
# For every record of a problems JSONL file it
#   1. checks the record has exactly the keys task_id, prompt, declaration,
#      canonical_solution, test, and that the declaration ends with "{\n";
#   2. assembles declaration + canonical_solution + "\n" + test, compiles it with
#      rustc (--test for #[cfg(test)] modules, a plain binary for `fn main` tests)
#      and runs it: it must pass;
#   3. replaces the body with obviously wrong ones (Default::default(), Ok(..),
#      Err(..), Some(..) of a default) and requires every variant that compiles to
#      FAIL, and at least one variant to compile, so the tests have teeth.
#
# Usage: data/problems/verify.sh [problems.jsonl]   (default: the bundled file)
# Needs: bash, jq, rustc (edition 2021). Exit status 0 only if every problem passes.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
file="${1:-$here/smelt_rust_problems.jsonl}"
timeout_s="${VERIFY_TIMEOUT_S:-10}"

for tool in jq rustc timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "verify.sh: '$tool' is not on PATH; install it (rustc: rustup, or add ~/.cargo/bin to PATH)." >&2
        exit 2
    fi
done
if [[ ! -f "$file" ]]; then
    echo "verify.sh: no such file: $file" >&2
    exit 2
fi

work="$(mktemp -d /tmp/smelt-verify-problems.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Compiles $1 (a .rs file) in mode $2 (test|main) to $1.bin; prints rustc output on failure.
compile() {
    local src="$1" mode="$2" flags=()
    [[ "$mode" == test ]] && flags=(--test)
    rustc --edition 2021 -A warnings "${flags[@]}" "$src" -o "$src.bin" >"$src.log" 2>&1
}

# Runs the binary built from $1; success means every test/assert passed.
run_bin() {
    RUST_BACKTRACE=0 timeout "$timeout_s" "$1.bin" >"$1.out" 2>&1
}

wrong_bodies=(
    '    Default::default()'
    '    Ok(Default::default())'
    '    Err(Default::default())'
    '    Some(Default::default())'
)

total=0
failed=0
line_no=0
expected_keys='["canonical_solution","declaration","prompt","task_id","test"]'
while IFS= read -r record || [[ -n "$record" ]]; do
    line_no=$((line_no + 1))
    [[ -z "${record// /}" ]] && continue
    total=$((total + 1))
    problem_ok=1
    fail() {
        echo "FAIL $file:$line_no ($task): $*"
        [[ "$problem_ok" -eq 1 ]] && failed=$((failed + 1))
        problem_ok=0
    }

    task="$(jq -r '.task_id // "?"' <<<"$record" 2>/dev/null || echo '?')"
    if ! jq -e --argjson k "$expected_keys" 'keys == $k' <<<"$record" >/dev/null 2>&1; then
        fail "keys must be exactly $expected_keys, got $(jq -c keys <<<"$record" 2>/dev/null || echo 'invalid JSON')"
        continue
    fi
    if [[ "$task" != "Smelt/$((total - 1))" ]]; then
        fail "task_id should be Smelt/$((total - 1))"
    fi
    if ! jq -e '.declaration | endswith("{\n")' <<<"$record" >/dev/null; then
        fail "declaration must end with \"{\\n\""
        continue
    fi

    mode=test
    if jq -e '.test | test("fn main\\s*\\(")' <<<"$record" >/dev/null; then
        mode=main
    fi

    src="$work/p$total.rs"
    jq -r '.declaration + .canonical_solution + "\n" + .test' <<<"$record" >"$src"
    if ! compile "$src" "$mode"; then
        fail "canonical solution does not compile:"; sed 's/^/    /' "$src.log" | head -20
        continue
    fi
    if ! run_bin "$src"; then
        fail "canonical solution fails its tests:"; sed 's/^/    /' "$src.out" | tail -15
        continue
    fi

    compiled=0
    for body in "${wrong_bodies[@]}"; do
        bad="$work/p${total}_wrong.rs"
        jq -r --arg body "$body" '.declaration + $body + "\n}\n" + "\n" + .test' <<<"$record" >"$bad"
        compile "$bad" "$mode" || continue
        compiled=$((compiled + 1))
        if run_bin "$bad"; then
            fail "tests pass with the wrong body \`$(sed 's/^ *//' <<<"$body")\`; add an assert that catches it"
        fi
    done
    if [[ "$compiled" -eq 0 ]]; then
        fail "none of the wrong bodies compiled, so the tests' teeth were not checked"
        continue
    fi
    [[ "$problem_ok" -eq 1 ]] && echo "ok   $task ($mode style, $compiled wrong bodies rejected)"
done <"$file"

echo "verified $total problems from $file: $((total - failed)) ok, $failed failed"
[[ "$failed" -eq 0 && "$total" -gt 0 ]]
