#!/usr/bin/env bash
# Starts PgBouncer in the image, in front of the PostgreSQL container: the pool container runs it
# as its command. It renders pgbouncer.ini and the auth file into a private directory on a tmpfs,
# then becomes PgBouncer (exec), so the container's stop signal reaches PgBouncer itself.
#
# The auth file holds the role's password in plain text: PgBouncer needs the password itself to
# log in to PostgreSQL with SCRAM, and a SCRAM secret in its place would only work if it were the
# server's own, which only a superuser can read. So the file lives only in memory, in a 0700
# directory, as a 0600 file, and this script never puts the password on a command line or in
# another process's environment.
#
# Sourcing this file only defines the functions (pool_*, and entrypoint.sh's pgq_*), so that tests
# and pool-health-check.sh can call them one at a time. Every path is an environment variable
# whose default is the container's.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR source=entrypoint.sh
source "${BASH_SOURCE[0]%/*}/entrypoint.sh"

# PgBouncer 1.18 refuses longer passwords at login, with nothing in its log that says why.
pool_max_password_bytes=1024

pool_log() {
	printf 'pool: %s\n' "$*" >&2
}

pool_die() {
	printf 'pool: error: %s\n' "$*" >&2
	exit 1
}

pool_setup_env() {
	pgq_setup_env
	POOL_SERVER_HOST="${POOL_SERVER_HOST:-}"
	POOL_MODE="${POOL_MODE:-transaction}"
	POOL_MAX_CLIENT_CONN="${POOL_MAX_CLIENT_CONN:-1000}"
	POOL_DEFAULT_POOL_SIZE="${POOL_DEFAULT_POOL_SIZE:-20}"
	POOL_LISTEN_ADDR="${POOL_LISTEN_ADDR:-0.0.0.0}"
	POOL_PORT="${POOL_PORT:-6432}"
	POOL_RUN_DIR="${POOL_RUN_DIR:-$POSTGRES_SOCKET_DIR/pool}"
	pool_validate_env
}

# pgbouncer.ini has no quoting that every setting honours, so each value written into it is held
# to characters that need none. All problems are reported at once.
pool_validate_env() {
	local -a problems=()
	local name
	[[ $POOL_SERVER_HOST =~ ^[A-Za-z0-9][A-Za-z0-9._:-]*$ ]] ||
		problems+=("POOL_SERVER_HOST='$POOL_SERVER_HOST' must name the PostgreSQL server: a host name or an IP address")
	[[ $POOL_MODE == transaction || $POOL_MODE == session || $POOL_MODE == statement ]] ||
		problems+=("POOL_MODE='$POOL_MODE' must be transaction, session or statement")
	for name in POOL_MAX_CLIENT_CONN POOL_DEFAULT_POOL_SIZE; do
		[[ ${!name} =~ ^[1-9][0-9]{0,5}$ ]] ||
			problems+=("$name='${!name}' must be a positive whole number")
	done
	[[ $POOL_PORT =~ ^[1-9][0-9]{0,4}$ ]] && ((POOL_PORT <= 65535)) ||
		problems+=("POOL_PORT='$POOL_PORT' must be a port number")
	[[ $POOL_LISTEN_ADDR =~ ^[A-Za-z0-9.:*_-]+(,[A-Za-z0-9.:*_-]+)*$ ]] ||
		problems+=("POOL_LISTEN_ADDR='$POOL_LISTEN_ADDR' must be a comma-separated list of addresses, or *")
	for name in POOL_RUN_DIR POSTGRES_CERTIFICATES_DIR; do
		[[ ${!name} =~ ^/[A-Za-z0-9._/+@-]*$ ]] ||
			problems+=("$name='${!name}' must be an absolute path of letters, digits and . _ / + @ -")
	done
	if ((${#problems[@]})); then
		printf 'pool: error: %s\n' "${problems[@]}" >&2
		exit 1
	fi
}

# The auth file is read line by line, so a newline would end the password early.
pool_check_password() {
	local LC_ALL=C
	[[ $pgq_password != *$'\n'* && $pgq_password != *$'\r'* ]] ||
		pool_die "the password of $POSTGRES_USER contains a line break, which PgBouncer's auth file cannot hold: choose another"
	((${#pgq_password} <= pool_max_password_bytes)) ||
		pool_die "the password of $POSTGRES_USER is ${#pgq_password} bytes long; PgBouncer accepts at most $pool_max_password_bytes"
}

# The container's /run is a tmpfs only under a read-only root, as the unit runs it; anywhere else
# the auth file would put the password on a disk, which is said at every start.
pool_prepare_run_dir() {
	pgq_prepare_socket_dir
	install -d -m 0700 -- "$POOL_RUN_DIR" ||
		pool_die "cannot create the private directory $POOL_RUN_DIR as $(id -un): point POOL_RUN_DIR at a writable directory on a tmpfs"
	local filesystem
	filesystem=$(stat --file-system --format=%T -- "$POOL_RUN_DIR")
	[[ $filesystem == tmpfs || $filesystem == ramfs ]] ||
		pool_log "warning: $POOL_RUN_DIR is on $filesystem, not a tmpfs: the auth file writes the password to that disk"
}

# pool_write_private FILE TEXT: the file is complete before it appears, and never readable by
# others, not even while it is written. TEXT is a function argument, never a process's.
pool_write_private() {
	local dest=$1 text=$2
	(umask 077 && printf '%s\n' "$text" >"$dest.tmp")
	mv -f -- "$dest.tmp" "$dest"
}

# "user" "password", with every double quote in a field doubled: the format's only escape.
pool_render_auth_file() {
	local quote='"'
	pool_write_private "$POOL_RUN_DIR/users.txt" \
		"\"$POSTGRES_USER\" \"${pgq_password//"$quote"/"$quote$quote"}\""
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
	pool_write_private "$POOL_RUN_DIR/pgbouncer.ini" "$(
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
	pool_check_password
	pool_prepare_run_dir
	POSTGRES_SSL_DIR=$POOL_RUN_DIR
	pgq_setup_tls
	pool_render_auth_file
	pool_render_ini
	unset pgq_password
	pool_log "PgBouncer on $POOL_LISTEN_ADDR:$POOL_PORT, $POOL_MODE pooling of $POSTGRES_DB at $POOL_SERVER_HOST:$POSTGRES_PORT"
	exec pgbouncer "$POOL_RUN_DIR/pgbouncer.ini"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pool_main "$@"
fi
