#!/usr/bin/env python3
"""Builds smelt_rust_samples_demo.jsonl: hand-written sample completions for demos and docs.

Each record is {"task_id", "completion"}, the shape a generation step writes. The
completions come in the shapes models really produce: a body that continues the
declaration, a whole function with its signature, a fenced ```rust block with prose
around it, plus deliberately bad ones (wrong answer, compile error, endless loop).

`python3 build_samples_demo.py --check` also assembles every sample against its
problem (a simple stand-in for the harness: strip a code fence; if the code holds
the function's own `fn name(`, use the declaration's preamble plus that code,
otherwise declaration + completion), compiles it with rustc, runs it with a
timeout, and compares the outcome with the expectation noted here.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap

SAMPLES = []


def sample(task_id, expect, completion):
    """expect is one of: pass, fail (tests fail), compile_error, timeout."""
    SAMPLES.append((task_id, expect, textwrap.dedent(completion).lstrip("\n")))


# Smelt/0 run_length_encode: three correct shapes and one wrong answer.
sample("Smelt/0", "pass", """
        let mut out = String::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let mut j = i;
            while j < chars.len() && chars[j] == chars[i] {
                j += 1;
            }
            out.push(chars[i]);
            if j - i > 1 {
                out += &(j - i).to_string();
            }
            i = j;
        }
        out
    }
""")
sample("Smelt/0", "pass", """
    fn run_length_encode(s: &str) -> String {
        let mut out = String::new();
        let mut current: Option<(char, usize)> = None;
        for c in s.chars() {
            current = match current {
                Some((p, n)) if p == c => Some((p, n + 1)),
                Some((p, n)) => {
                    out.push(p);
                    if n > 1 {
                        out.push_str(&n.to_string());
                    }
                    Some((c, 1))
                }
                None => Some((c, 1)),
            };
        }
        if let Some((p, n)) = current {
            out.push(p);
            if n > 1 {
                out.push_str(&n.to_string());
            }
        }
        out
    }
""")
sample("Smelt/0", "pass", """
    Here is an implementation that walks the string once:

    ```rust
    fn run_length_encode(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            let mut n = 1;
            while chars.next_if_eq(&c).is_some() {
                n += 1;
            }
            out.push(c);
            if n > 1 {
                out.push_str(&n.to_string());
            }
        }
        out
    }
    ```

    It runs in O(n) time.
""")
sample("Smelt/0", "fail", """
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            let mut n = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                n += 1;
            }
            out.push(c);
            out.push_str(&n.to_string());
        }
        out
    }
""")

# Smelt/7 hamming_distance (fn main test style): a correct body and a byte-based wrong one.
sample("Smelt/7", "pass", """
        let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        if x.len() != y.len() {
            return None;
        }
        Some(x.iter().zip(&y).filter(|(p, q)| p != q).count())
    }
""")
sample("Smelt/7", "fail", """
        if a.len() != b.len() {
            return None;
        }
        Some(a.bytes().zip(b.bytes()).filter(|(p, q)| p != q).count())
    }
""")

# Smelt/22 longest_increasing_run: correct, compile error, endless loop.
sample("Smelt/22", "pass", """
        let mut best = 0;
        let mut run = 0;
        let mut previous: Option<i32> = None;
        for &v in values {
            run = match previous {
                Some(p) if v > p => run + 1,
                _ => 1,
            };
            best = best.max(run);
            previous = Some(v);
        }
        best
    }
""")
sample("Smelt/22", "compile_error", """
        let mut best: i32 = 0;
        for w in values.windows(2) {
            if w[1] > w[0] {
                best += 1;
            }
        }
        best
    }
""")
sample("Smelt/22", "timeout", """
        let mut best = 0;
        let mut i = 0;
        while i < values.len() {
            let mut j = i + 1;
            while j < values.len() && values[j] > values[j - 1] {
                j += 1;
            }
            best = best.max(j - i);
            if j == i + 1 {
                continue;
            }
            i = j;
        }
        best
    }
""")

# Smelt/28 rotate_left_by: a body using the std method, and a whole function that panics on empty input.
sample("Smelt/28", "pass", """
        if !values.is_empty() {
            let k = k % values.len();
            values.rotate_left(k);
        }
    }
""")
sample("Smelt/28", "fail", """
    fn rotate_left_by(values: &mut Vec<i32>, k: usize) {
        let k = k % values.len();
        values.rotate_left(k);
    }
""")

# Smelt/13 parse_settings: a fenced answer with prose, and a body that unwraps.
sample("Smelt/13", "pass", """
    Sure! The function below splits on ';' and reports the segment that failed.

    ```rust
    fn parse_settings(input: &str) -> Result<HashMap<String, i64>, String> {
        let mut out = HashMap::new();
        for raw in input.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = raw.split_once('=') else {
                return Err(format!("bad segment: {raw}"));
            };
            let k = k.trim();
            if k.is_empty() {
                return Err(format!("bad segment: {raw}"));
            }
            let v = v.trim().parse::<i64>().map_err(|e| format!("bad segment: {raw} ({e})"))?;
            out.insert(k.to_string(), v);
        }
        Ok(out)
    }
    ```
""")
sample("Smelt/13", "fail", """
        let mut out = HashMap::new();
        for raw in input.split(';').filter(|s| !s.trim().is_empty()) {
            let (k, v) = raw.split_once('=').unwrap();
            out.insert(k.trim().to_string(), v.trim().parse().unwrap());
        }
        Ok(out)
    }
""")

# Smelt/33 digital_root (fn main test style): a closed form, and a body that truncates to u32.
sample("Smelt/33", "pass", """
        if n == 0 { 0 } else { 1 + (n - 1) % 9 }
    }
""")
sample("Smelt/33", "fail", """
        let mut n = n as u32;
        while n >= 10 {
            n = n.to_string().chars().map(|c| c.to_digit(10).unwrap()).sum();
        }
        n as u64
    }
""")

# Smelt/40 apply_transactions: correct, and one that silently saturates instead of refusing.
sample("Smelt/40", "pass", """
        let mut balance = start;
        for (i, tx) in txs.iter().enumerate() {
            let next = match tx {
                Tx::Deposit(a) => balance.checked_add(*a),
                Tx::Withdraw(a) => balance.checked_sub(*a),
            };
            match next {
                Some(b) => balance = b,
                None => return Err(i),
            }
        }
        Ok(balance)
    }
""")
sample("Smelt/40", "fail", """
        let mut balance = start;
        for tx in txs {
            match tx {
                Tx::Deposit(a) => balance = balance.saturating_add(*a),
                Tx::Withdraw(a) => balance = balance.saturating_sub(*a),
            }
        }
        Ok(balance)
    }
""")

# Smelt/19 merge_intervals: a fence without a language tag, and a borrow-checker error.
sample("Smelt/19", "pass", """
    ```
    fn merge_intervals(mut intervals: Vec<(i32, i32)>) -> Vec<(i32, i32)> {
        intervals.sort();
        let mut out: Vec<(i32, i32)> = Vec::new();
        for (s, e) in intervals {
            if let Some(last) = out.last_mut() {
                if s <= last.1 {
                    last.1 = last.1.max(e);
                    continue;
                }
            }
            out.push((s, e));
        }
        out
    }
    ```
""")
sample("Smelt/19", "compile_error", """
        intervals.sort();
        let mut out: Vec<(i32, i32)> = Vec::new();
        for (s, e) in intervals {
            let last = out.last_mut();
            out.push((s, e));
            if let Some(l) = last {
                l.1 = l.1.max(e);
            }
        }
        out
    }
""")

# Smelt/43 count_islands: a flood fill that never pops its stack.
sample("Smelt/43", "timeout", """
        let g: Vec<Vec<char>> = grid.iter().map(|r| r.chars().collect()).collect();
        let mut seen = std::collections::HashSet::new();
        let mut count = 0;
        for r in 0..g.len() {
            for c in 0..g[r].len() {
                if g[r][c] != '#' || seen.contains(&(r, c)) {
                    continue;
                }
                count += 1;
                let mut stack = vec![(r, c)];
                while let Some(&(y, x)) = stack.last() {
                    seen.insert((y, x));
                    if x + 1 < g[y].len() && g[y][x + 1] == '#' && !seen.contains(&(y, x + 1)) {
                        stack.push((y, x + 1));
                    }
                }
            }
        }
        count
    }
""")


def extract_code(completion):
    """Returns the code of the first fenced block, or the completion itself."""
    m = re.search(r"```[a-zA-Z]*\n(.*?)```", completion, re.S)
    return m.group(1) if m else completion


def assemble(problem, completion):
    code = extract_code(completion)
    decl = problem["declaration"]
    fn_at = decl.rfind("fn ")
    fn_name = re.match(r"fn\s+(\w+)", decl[fn_at:]).group(1)
    if re.search(r"\bfn\s+" + re.escape(fn_name) + r"\s*[(<]", code):
        program = decl[:fn_at] + code
    else:
        program = decl + code
    return program + "\n" + problem["test"]


def check(samples, problems):
    failures = 0
    with tempfile.TemporaryDirectory(prefix="smelt-demo-") as work:
        for i, (task_id, expect, completion) in enumerate(samples):
            problem = problems[task_id]
            src = os.path.join(work, f"s{i}.rs")
            with open(src, "w", encoding="utf-8") as f:
                f.write(assemble(problem, completion))
            mode = [] if re.search(r"fn main\s*\(", problem["test"]) else ["--test"]
            build = subprocess.run(
                ["rustc", "--edition", "2021", "-A", "warnings", *mode, src, "-o", src + ".bin"],
                capture_output=True, text=True,
            )
            if build.returncode != 0:
                outcome = "compile_error"
            else:
                try:
                    run = subprocess.run([src + ".bin"], capture_output=True, timeout=5)
                    outcome = "pass" if run.returncode == 0 else "fail"
                except subprocess.TimeoutExpired:
                    outcome = "timeout"
            status = "ok  " if outcome == expect else "FAIL"
            if outcome != expect:
                failures += 1
            print(f"{status} sample {i} ({task_id}): expected {expect}, got {outcome}")
    print(f"checked {len(samples)} samples: {len(samples) - failures} as expected, {failures} not")
    return failures == 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    problems = {}
    with open(os.path.join(here, "smelt_rust_problems.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                p = json.loads(line)
                problems[p["task_id"]] = p
    out_path = os.path.join(here, "smelt_rust_samples_demo.jsonl")
    with open(out_path + ".tmp", "w", encoding="utf-8", newline="\n") as out:
        for task_id, _, completion in SAMPLES:
            assert task_id in problems, task_id
            out.write(json.dumps({"task_id": task_id, "completion": completion}, ensure_ascii=False) + "\n")
    os.replace(out_path + ".tmp", out_path)
    print(f"wrote {len(SAMPLES)} samples to {out_path}")
    if "--check" in sys.argv[1:]:
        sys.exit(0 if check(SAMPLES, problems) else 1)


if __name__ == "__main__":
    main()
