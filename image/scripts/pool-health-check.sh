#!/usr/bin/env bash
# Healthy only when PgBouncer accepts a real login on its port: the configured role signs in to
# the admin console with the password (TLS when the pool has it) and runs SHOW VERSION. Before
# PgBouncer listens nothing answers, and a pool whose auth file does not match the secret fails.
# PostgreSQL itself is not asked: its own container has its own health check, and a pool marked
# unhealthy while the server restarts would only be restarted for nothing.
set -Eeuo pipefail

pgq_tool=pool-health-check
# shellcheck source=pool.sh
source "${BASH_SOURCE[0]%/*}/pool.sh"

# Where PgBouncer can be reached from inside its own container.
pool_probe_host() {
	local first=${POOL_LISTEN_ADDR%%,*}
	case $first in
		'*' | 0.0.0.0) echo 127.0.0.1 ;;
		:: | '[::]') echo ::1 ;;
		*) echo "$first" ;;
	esac
}

# --wait SECONDS, for the start-up check (as health-check.sh has it): first wait up to SECONDS
# for PgBouncer to listen, so that a start is reported ready at the first check instead of the next.
pool_wait_listening() {
	pgq_check_wait_seconds "$1"
	# As the role, to the console: a probe PgBouncer does not log as a failed login.
	pgq_wait_accepting "$1" --host="$pool_host" --port="$POOL_PORT" --username="$POSTGRES_USER" --dbname=pgbouncer || true
}

pool_health_main() {
	pool_setup_env
	pgq_read_current_password
	pool_host=$(pool_probe_host)
	if [[ ${1:-} == --wait ]]; then
		pool_wait_listening "${2:-}"
	fi
	PGPASSWORD="$pgq_password" PGCONNECT_TIMEOUT=5 PGSSLMODE=prefer PGOPTIONS='' exec psql \
		--no-psqlrc --quiet --no-password --tuples-only --no-align \
		--host="$pool_host" --port="$POOL_PORT" --username="$POSTGRES_USER" --dbname=pgbouncer \
		--command='SHOW VERSION' >/dev/null
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pool_health_main "$@"
fi
