#!/usr/bin/env python3
"""Writes a mixed samples file for the eval benchmark: 10 samples per HumanEval-X Rust task.

Per task: canonical body, body without its closing brace, fenced whole function, whole function with the
declaration's imports, body plus a model-style fn main, two wrong answers (panic / Default), two compile errors
(undefined name, wrong type), one syntax error. Every `loop_every`-th task's last sample is an infinite loop.
"""
import json
import sys


def signature(declaration: str) -> str:
    # The declaration ends with the entry function's signature, opened by '{'.
    idx = declaration.rfind("\nfn ")
    if idx < 0:
        idx = declaration.rfind("fn ")
    return declaration[idx:].strip()


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    loop_every = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    rows = [json.loads(line) for line in open(src, encoding="utf-8") if line.strip()]
    with open(dst, "w", encoding="utf-8") as out:
        for n, row in enumerate(rows):
            body = row["canonical_solution"]
            sig = signature(row["declaration"])
            no_brace = body.rstrip()
            if no_brace.endswith("}"):
                no_brace = no_brace[:-1] + "\n"
            shapes = [
                ("canonical", body),
                ("no_closing_brace", no_brace),
                ("fenced_whole", "Here is my solution:\n```rust\n" + sig + "\n" + body + "\n```\n"),
                ("whole_with_uses", row["declaration"] + body),
                ("body_with_main", body + "\nfn main() {\n    println!(\"done\");\n}\n"),
                ("wrong_panic", "    panic!(\"not implemented\")\n}\n"),
                ("wrong_default", "    Default::default()\n}\n"),
                ("compile_undefined", "    let _unused = undefined_helper_fn(1);\n" + body),
                ("compile_type", "    let _x: u8 = \"a string\";\n" + body),
                ("syntax", "    let x = ;\n" + body),
            ]
            if loop_every > 0 and n % loop_every == 0:
                shapes[-1] = ("infinite_loop", "    loop {}\n}\n")
            for i, (kind, completion) in enumerate(shapes):
                out.write(json.dumps({"task_id": row["task_id"], "completion": completion, "kind": kind, "sample_id": i}) + "\n")


if __name__ == "__main__":
    main()
