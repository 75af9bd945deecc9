#!/usr/bin/env bash
# Healthy only when the server accepts a real login over TCP as the configured role to the
# configured database, with the role's current password. The first-start server listens on the
# socket only and a stopping server refuses new logins, so neither is ever reported healthy. With
# TLS on, the login uses TLS (sslmode=prefer); the host is loopback, so the certificate's name is
# not checked.
#
#   health-check.sh              the periodic check (HealthCmd=)
#   health-check.sh --wait SECS  the start-up check (HealthStartupCmd=): first waits up to SECS for
#                                the server to take TCP connections; and when the login fails in a
#                                way no retry can mend (no such database or role, a password that
#                                does not match), stops the server at once with the reason in its
#                                log, so the start fails now instead of at its timeout.
set -Eeuo pipefail

pgq_tool=health-check
# shellcheck source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

# Prints psql's error, if any.
pgq_health_login() {
	{
		PGPASSWORD="$pgq_password" PGCONNECT_TIMEOUT=5 PGSSLMODE=prefer PGOPTIONS='' psql \
			--no-psqlrc --quiet --no-password --tuples-only --no-align \
			--host=127.0.0.1 --port="$POSTGRES_PORT" --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" \
			--command='SELECT 1' >/dev/null
	} 2>&1
}

# pgq_health_hopeless OUTPUT: why a failed login can never succeed on this server, if it cannot.
pgq_health_hopeless() {
	case $1 in
		*"database \"$POSTGRES_DB\" does not exist"*)
			echo "the database '$POSTGRES_DB' (POSTGRES_DB) does not exist in this cluster" ;;
		*"role \"$POSTGRES_USER\" does not exist"*)
			echo "the role '$POSTGRES_USER' (POSTGRES_USER) does not exist in this cluster" ;;
		*"password authentication failed for user \"$POSTGRES_USER\""*)
			echo "the password in the secret is not the password of the role '$POSTGRES_USER': set both at once with pg-quadlet password" ;;
	esac
}

# Stops the server the way its unit does (SIGINT: fast shutdown). The reason goes into the
# server's own log (the container's, and so the journal), where the failed start is looked into.
pgq_health_stop_server() {
	local message="$1; stopping the server, which can never become healthy" pid
	pgq_log "error: $message"
	pgq_superuser_psql --dbname=postgres --set=message="health-check: $message" >/dev/null <<-'SQL' || true
		SELECT set_config('pgquadlet.message', :'message', false);
		DO $$ BEGIN RAISE LOG '%', current_setting('pgquadlet.message'); END $$;
	SQL
	pid=$(head -n 1 -- "$PGDATA/postmaster.pid" 2>/dev/null) || pid=''
	[[ $pid =~ ^[1-9][0-9]*$ ]] && kill -INT "$pid"
}

pgq_health_main() {
	local startup='' output reason
	if [[ ${1:-} == --wait ]]; then
		pgq_check_wait_seconds "${2:-}"
		startup=$2
	fi
	pgq_setup_env
	pgq_read_current_password
	# Podman runs the first start-up check as the container starts and the next ones a second or
	# two apart: without waiting, a start is reported ready only at the next check.
	[[ -z $startup ]] || pgq_wait_accepting "$startup" --host=127.0.0.1 --port="$POSTGRES_PORT" || true
	if output=$(pgq_health_login); then
		return 0
	fi
	printf '%s\n' "$output" >&2
	reason=$(pgq_health_hopeless "$output")
	if [[ -n $startup && -n $reason ]]; then
		pgq_health_stop_server "$reason"
	elif [[ -n $reason ]]; then
		pgq_log "error: $reason"
	fi
	return 1
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_health_main "$@"
fi
