#!/usr/bin/env bash
# Start-up cost of `pg-quadlet render` against a bare Node start, measured side by side with
# hyperfine in one run. Goal: render within 2x of `node -e 0`.
# Usage: bench/render.sh [RESULTS.md]   (default: print only)
set -Eeuo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
[ -f dist/bin/pg-quadlet.js ] || npm run build >/dev/null

json=$(mktemp)
trap 'rm -f "$json"' EXIT
hyperfine --shell=none --warmup 5 --runs "${RUNS:-40}" --export-json "$json" \
  --command-name 'node -e 0' 'node -e 0' \
  --command-name 'pg-quadlet render' 'node dist/bin/pg-quadlet.js render' \
  --command-name 'pg-quadlet --help' 'node dist/bin/pg-quadlet.js --help'

report=$(node -e '
const { results } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const base = results[0].mean;
const ms = (s) => (s * 1000).toFixed(1);
const rows = results.map((r) => `| \`${r.command}\` | ${ms(r.mean)} ± ${ms(r.stddev)} | ${(r.mean / base).toFixed(2)}x |`);
console.log(["| command | mean ms | vs node -e 0 |", "| --- | --- | --- |", ...rows].join("\n"));
const ratio = results[1].mean / base;
console.log(`\nrender / node -e 0 = ${ratio.toFixed(2)} (goal: at most 2.00)`);
' "$json")
echo "$report"
if [ -n "${1:-}" ]; then
  { echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, Node $(node --version), hyperfine $(hyperfine --version | cut -d" " -f2)."; echo; echo "$report"; } > "$1"
  echo "bench: results written to $1"
fi
