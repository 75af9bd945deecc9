#!/usr/bin/env bash
# Healthy only when the server accepts a real login over TCP as the configured role to the
# configured database. The first-start server listens on the socket only and a stopping server
# refuses new logins, so neither is ever reported healthy. With TLS on, the login uses TLS
# (sslmode=prefer); the host is loopback, so the certificate's name is not checked.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=entrypoint.sh
source "${BASH_SOURCE[0]%/*}/entrypoint.sh"
pgq_setup_env
pgq_read_password
# --wait SECONDS, for the start-up check: first wait up to SECONDS for the server to accept TCP
# connections. Podman runs the first start-up check as the container starts and the next ones a
# second or two apart, so without waiting a start is reported ready only at the next check.
if [[ ${1:-} == --wait ]]; then
	[[ ${2:-} =~ ^[0-9]{1,4}$ ]] || pgq_die "--wait takes a whole number of seconds, not '${2:-}'"
	pgq_wait_accepting "$2" --host=127.0.0.1 --port="$POSTGRES_PORT" || true
fi
PGPASSWORD="$pgq_password" PGCONNECT_TIMEOUT=5 PGSSLMODE=prefer PGOPTIONS='' exec psql \
	--no-psqlrc --quiet --no-password --tuples-only --no-align \
	--host=127.0.0.1 --port="$POSTGRES_PORT" --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" \
	--command='SELECT 1' >/dev/null
