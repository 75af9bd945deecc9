#!/usr/bin/env bash
# PgBouncer (the pool container's pool.sh) against PostgreSQL alone, side by side in one run, with
# pgbench on loopback: connect-per-transaction at 50 clients, and 500 clients against
# max_connections 100. Goals: pooled at least 5x direct under connect-per-transaction, and no
# error at 500 clients; exits 1 when either is missed. See bench/pool.ts.
#
#   bench/pool.sh [RESULTS.md]      as root; BENCH_SECONDS (20) per run, BENCH_SCALE (10)
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ $(id -u) == 0 ]] || { echo "bench: run as root: the server runs as the OS user postgres" >&2; exit 1; }
[[ -x /usr/sbin/pgbouncer ]] || { echo "bench: PgBouncer is missing (apt-get install pgbouncer)" >&2; exit 1; }
# 500 clients: pgbench, PgBouncer and the server each hold a descriptor per connection.
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 4096)) || ulimit -n 4096
exec node --import tsx bench/pool.ts "$@"
