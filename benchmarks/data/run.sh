#!/usr/bin/env bash
# Data pipeline and secrets-scanner benchmark: records/s and MB/s beside the raw read speed of the same file, and the
# scanner's precision/recall on tests/data/secrets/corpus.jsonl.gz.
# Usage: benchmarks/data/run.sh [RECORDS]     (default 10000 generated records)
#        benchmarks/data/run.sh scanner       (only the precision/recall table, a few seconds)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet build "$here/Smelt.Data.Bench/Smelt.Data.Bench.csproj" -c Release --nologo -v quiet -clp:ErrorsOnly >&2
exec dotnet "$here/Smelt.Data.Bench/bin/Release/net10.0/Smelt.Data.Bench.dll" "$@"
