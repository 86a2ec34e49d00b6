#!/usr/bin/env bash
# Hub download throughput (loopback fake hub) vs a raw loopback socket copy, plus cache-hit times.
# Usage: benchmarks/hub/run.sh [SIZE_MB]   (default 100)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet build "$here/Smelt.Hub.Bench.csproj" -c Release --nologo -v quiet -clp:ErrorsOnly >&2
exec dotnet "$here/bin/Release/net10.0/Smelt.Hub.Bench.dll" "$@"
