#!/usr/bin/env bash
# Starts PgBouncer in the image, in front of the PostgreSQL container: the pool container runs it
# as its command. It renders pgbouncer.ini and the auth file into a private directory on a tmpfs,
# then becomes PgBouncer (exec), so the container's stop signal reaches PgBouncer itself.
#
# The auth file holds the role's SCRAM secret, the server's own, which this script reads once at
# start by logging in to PostgreSQL with the password (the Podman secret) and asking
# pgquadlet.scram_secret(), which the server's entrypoint creates. With the server's secret,
# PgBouncer checks a client's login without deriving keys from a password, and logs in to
# PostgreSQL with the key the client's proof reveals: the password itself is in no file
# PgBouncer reads, and never on a command line or in another process's environment than psql's.
#
# Sourcing this file only defines the functions (pool_*, and lib.sh's pgq_*), so that tests and
# pool-health-check.sh can call them one at a time. `pool.sh reload` takes a new password after a
# rotation (pg-quadlet password). Every path is an environment variable whose default is the
# container's.
set -Eeuo pipefail

pgq_tool=${pgq_tool:-pool}
# shellcheck source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

pool_setup_env() {
	pgq_setup_env
	POOL_SERVER_HOST="${POOL_SERVER_HOST:-}"
	POOL_MODE="${POOL_MODE:-transaction}"
	POOL_MAX_CLIENT_CONN="${POOL_MAX_CLIENT_CONN:-1000}"
	POOL_DEFAULT_POOL_SIZE="${POOL_DEFAULT_POOL_SIZE:-20}"
	POOL_LISTEN_ADDR="${POOL_LISTEN_ADDR:-0.0.0.0}"
	POOL_PORT="${POOL_PORT:-6432}"
	POOL_RUN_DIR="${POOL_RUN_DIR:-$POSTGRES_SOCKET_DIR/pool}"
	POOL_SERVER_WAIT="${POOL_SERVER_WAIT:-60}"
	pool_validate_env
}

# pgbouncer.ini has no quoting that every setting honours, so each value written into it is held
# to characters that need none. All problems are reported at once.
pool_validate_env() {
	local name
	pgq_check_begin
	pgq_check_match POOL_SERVER_HOST '^[A-Za-z0-9][A-Za-z0-9._:-]*$' 'must name the PostgreSQL server: a host name or an IP address'
	pgq_check_match POOL_MODE '^(transaction|session|statement)$' 'must be transaction, session or statement'
	for name in POOL_MAX_CLIENT_CONN POOL_DEFAULT_POOL_SIZE; do
		pgq_check_match "$name" '^[1-9][0-9]{0,5}$' 'must be a positive whole number'
	done
	pgq_check_match POOL_SERVER_WAIT '^[0-9]{1,5}$' 'must be a whole number of seconds'
	pgq_check_port POOL_PORT
	pgq_check_match POOL_LISTEN_ADDR '^[A-Za-z0-9.:*_-]+(,[A-Za-z0-9.:*_-]+)*$' 'must be a comma-separated list of addresses, or *'
	for name in POOL_RUN_DIR POSTGRES_CERTIFICATES_DIR; do
		pgq_check_match "$name" '^/[A-Za-z0-9._/+@-]*$' 'must be an absolute path of letters, digits and . _ / + @ -'
	done
	pgq_check_end
}

# The server may still be starting (a first start initializes the cluster): it is waited for.
pool_wait_for_server() {
	pgq_wait_accepting "$POOL_SERVER_WAIT" --host="$POOL_SERVER_HOST" --port="$POSTGRES_PORT" --username="$POSTGRES_USER" --dbname=postgres ||
		pgq_die "PostgreSQL at $POOL_SERVER_HOST:$POSTGRES_PORT did not accept connections within $POOL_SERVER_WAIT s (POOL_SERVER_WAIT): is its container running?"
}

# Sets pool_secret to the role's SCRAM secret as the server keeps it.
pool_read_secret() {
	local output
	if ! output=$(PGPASSWORD="$pgq_password" PGCONNECT_TIMEOUT=10 PGSSLMODE=prefer PGOPTIONS='' psql \
		--no-psqlrc --quiet --no-password --tuples-only --no-align --set=ON_ERROR_STOP=1 \
		--host="$POOL_SERVER_HOST" --port="$POSTGRES_PORT" --username="$POSTGRES_USER" --dbname=postgres \
		--command='SELECT pgquadlet.scram_secret()' 2>&1); then
		case $output in
			*pgquadlet*does\ not\ exist*) pgq_die "PostgreSQL has no pgquadlet.scram_secret(), which its container's entrypoint creates at start: restart the PostgreSQL container with this image ($output)" ;;
			*permission\ denied\ for\ function\ scram_secret* | *permission\ denied\ for\ schema\ pgquadlet*) pgq_die "$POSTGRES_USER may not call pgquadlet.scram_secret(), which is granted to the role the cluster was made for: POSTGRES_USER must be the same in both containers ($output)" ;;
			*) pgq_die "cannot read the SCRAM secret of $POSTGRES_USER from PostgreSQL at $POOL_SERVER_HOST:$POSTGRES_PORT: $output" ;;
		esac
	fi
	[[ $output =~ ^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$ ]] ||
		pgq_die "the password of $POSTGRES_USER is not stored as a SCRAM-SHA-256 secret on the server: set it again with password_encryption = scram-sha-256"
	pool_secret=$output
}

# The container's /run is a tmpfs only under a read-only root, as the unit runs it; anywhere else
# the auth file and the TLS key would be written to a disk, which is said at every start.
pool_prepare_run_dir() {
	pgq_prepare_socket_dir
	install -d -m 0700 -- "$POOL_RUN_DIR" ||
		pgq_die "cannot create the private directory $POOL_RUN_DIR as $(id -un): point POOL_RUN_DIR at a writable directory on a tmpfs"
	local filesystem
	filesystem=$(stat --file-system --format=%T -- "$POOL_RUN_DIR")
	[[ $filesystem == tmpfs || $filesystem == ramfs ]] ||
		pgq_log "warning: $POOL_RUN_DIR is on $filesystem, not a tmpfs: the auth file (the role's SCRAM secret) and the TLS key are written to that disk"
}

# "user" "secret": the secret has no double quote, the format's only character to escape.
pool_render_auth_file() {
	pgq_write_private "$POOL_RUN_DIR/users.txt" "\"$POSTGRES_USER\" \"$pool_secret\""
}

# TLS: clients must use it, and PgBouncer uses it to the server too, whose TCP is then TLS only.
# The server's certificate is not verified: PgBouncer reaches it by container name, which the
# certificate (made for DOMAIN) does not carry, over the containers' own network.
# PgBouncer will not set up TLS for clients without a CA file, even when it asks clients for no
# certificate, and the image has no system CA bundle: it gets the certificate's own chain.
pool_tls_settings() {
	[[ $pgq_ssl == on ]] || return 0
	printf '%s\n' \
		'client_tls_sslmode = require' \
		"client_tls_cert_file = $pgq_ssl_cert_file" \
		"client_tls_key_file = $pgq_ssl_key_file" \
		"client_tls_ca_file = $pgq_ssl_cert_file" \
		'server_tls_sslmode = require'
}

pool_render_ini() {
	pgq_write_private "$POOL_RUN_DIR/pgbouncer.ini" "$(
		cat <<-INI
			;; Rendered by pool.sh on every start; edits here are lost.
			[databases]
			$POSTGRES_DB = host=$POOL_SERVER_HOST port=$POSTGRES_PORT dbname=$POSTGRES_DB

			[pgbouncer]
			listen_addr = $POOL_LISTEN_ADDR
			listen_port = $POOL_PORT
			;; TCP only: nothing in the container needs a socket, and none is left behind.
			unix_socket_dir =
			auth_type = scram-sha-256
			auth_file = $POOL_RUN_DIR/users.txt
			;; Where pool.sh reload finds PgBouncer to tell it to read the auth file again.
			pidfile = $POOL_RUN_DIR/pgbouncer.pid
			;; SHOW POOLS, SHOW STATS and the like for the application's role, and nothing more:
			;; no admin_users, so no one can PAUSE, KILL or SHUTDOWN through the console.
			stats_users = $POSTGRES_USER
			pool_mode = $POOL_MODE
			max_client_conn = $POOL_MAX_CLIENT_CONN
			;; A burst of as many clients as are allowed waits in the kernel's queue instead of
			;; losing its first connection attempt and retrying a second later.
			listen_backlog = $POOL_MAX_CLIENT_CONN
			default_pool_size = $POOL_DEFAULT_POOL_SIZE
			;; JDBC and lib/pq send it at every login. Other startup parameters, options among
			;; them, are refused rather than silently dropped.
			ignore_startup_parameters = extra_float_digits
			;; Off, as in PostgreSQL: the health check logs in every 10 s. Failed logins are still logged.
			log_connections = 0
			log_disconnections = 0
		INI
		pool_tls_settings
	)"
}

pool_main() {
	pool_setup_env
	pgq_read_password
	pool_prepare_run_dir
	pgq_store_current_password
	POSTGRES_SSL_DIR=$POOL_RUN_DIR
	pgq_setup_tls
	pool_wait_for_server
	pool_read_secret
	unset pgq_password
	pool_render_auth_file
	pool_render_ini
	pgq_log "PgBouncer on $POOL_LISTEN_ADDR:$POOL_PORT, $POOL_MODE pooling of $POSTGRES_DB at $POOL_SERVER_HOST:$POSTGRES_PORT"
	exec pgbouncer "$POOL_RUN_DIR/pgbouncer.ini"
}

# After a password rotation (pg-quadlet password): the new password arrives on standard input;
# the role's new SCRAM secret is read from the server with it, and PgBouncer reads the auth file
# again (SIGHUP, its RELOAD). Clients already connected stay connected.
pool_reload() {
	local pid
	pool_setup_env
	pgq_password_from_stdin
	pool_read_secret
	pid=$(<"$POOL_RUN_DIR/pgbouncer.pid") || pgq_die "PgBouncer's pid file $POOL_RUN_DIR/pgbouncer.pid is missing: is the pool running?"
	pool_render_auth_file
	pgq_store_current_password
	kill -HUP "$pid" || pgq_die "cannot signal PgBouncer (pid $pid) to reload its auth file"
	pgq_log "PgBouncer reloaded the role's SCRAM secret: the new password works through the pool"
}

pool_dispatch() {
	case ${1:-} in
		'') pool_main ;;
		reload) pool_reload ;;
		*) pgq_die "unknown argument '$1': pool.sh runs PgBouncer; 'pool.sh reload' takes a new password on standard input" ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pool_dispatch "$@"
fi
