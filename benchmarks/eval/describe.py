#!/usr/bin/env python3
"""Prints one summary.json (from `smelt eval --json`) as 'rate|description' for run.sh."""
import json
import sys

s = json.load(open(sys.argv[1]))
counts = ", ".join(f"{k} {v}" for k, v in s["status_counts"].items() if v)
print(f"{s['samples_per_second']}|{counts}; {s['n_samples']} samples in {s['eval_seconds']} s, sandbox {s['sandbox']}")
