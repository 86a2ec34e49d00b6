#!/usr/bin/env bash
# Installs what Smelt's tests and default run need on a fresh Debian 12 machine (run as root; idempotent).
set -euo pipefail
pkgs=(bubblewrap firejail libseccomp-dev librust-rand-dev librust-regex-dev librust-md5-dev python3-protobuf)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "setup: please install as root: apt-get install ${missing[*]}" >&2; exit 2; fi
  echo "setup: apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
command -v rustc >/dev/null || { echo "setup: rustc not found (install a Rust toolchain, e.g. rustup, 1.80 or newer)" >&2; exit 2; }
if ! command -v clippy-driver >/dev/null; then
  if command -v rustup >/dev/null; then echo "setup: rustup component add clippy" >&2; rustup component add clippy; else
    echo "setup: clippy-driver not found (install clippy for your Rust toolchain)" >&2; exit 2; fi
fi
