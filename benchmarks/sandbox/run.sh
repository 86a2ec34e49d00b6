#!/usr/bin/env bash
# Per-launch overhead of each sandbox backend vs a bare process start. Usage: benchmarks/sandbox/run.sh [iterations]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet build "$here/SandboxBench/SandboxBench.csproj" -c Release --nologo -v quiet -clp:ErrorsOnly >&2
echo "bwrap: $(bwrap --version 2>/dev/null || echo absent); firejail: $(firejail --version 2>/dev/null | head -1 || echo absent)"
exec dotnet "$here/SandboxBench/bin/Release/net10.0/SandboxBench.dll" "$@"
