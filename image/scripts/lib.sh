#!/usr/bin/env bash
# What every script in the image shares: logging, the container's settings with their defaults,
# one way to validate them, the password, and waiting for a server. Sourcing this file only
# defines functions and constants; each script sets pgq_tool (the name its lines start with)
# first. Every path is an environment variable whose default is the container's.
set -Eeuo pipefail

# Exit status for a setting that can never work: the unit does not restart on it
# (RestartPreventExitStatus=), so a wrong config fails once, at once, instead of looping.
# shellcheck disable=SC2034 # for the scripts that source this file
PGQ_EXIT_CONFIG=78

pgq_log() {
	printf '%s: %s\n' "${pgq_tool:-pg-quadlet}" "$*" >&2
}

# pgq_die [--status N] MESSAGE: exits with N, 1 by default.
pgq_die() {
	local status=1
	if [[ ${1:-} == --status ]]; then
		status=$2
		shift 2
	fi
	printf '%s: error: %s\n' "${pgq_tool:-pg-quadlet}" "$*" >&2
	exit "$status"
}

# Validation collects every problem before it fails, so one run names them all:
# pgq_check_begin, then pgq_check_match / pgq_check_path / pgq_problem, then pgq_check_end.
pgq_check_begin() {
	pgq_problems=()
}

pgq_problem() {
	pgq_problems+=("$*")
}

# pgq_check_match NAME REGEX RULE: the variable NAME must match REGEX; RULE says what it must be.
pgq_check_match() {
	local name=$1 pattern=$2 rule=$3
	[[ ${!name} =~ $pattern ]] || pgq_problem "$name='${!name}' $rule"
}

# Paths end up in configuration files and SQL quoted with single quotes: none may hold a quote,
# a backslash or a line break.
pgq_check_path() {
	local name
	for name; do
		[[ ${!name} == /* && ${!name} != *[\'\\$'\n']* ]] ||
			pgq_problem "$name='${!name}' must be an absolute path without quotes, backslashes or newlines"
	done
}

pgq_check_end() {
	local problem
	((${#pgq_problems[@]} == 0)) && return 0
	for problem in "${pgq_problems[@]}"; do
		printf '%s: error: %s\n' "${pgq_tool:-pg-quadlet}" "$problem" >&2
	done
	exit 1
}

# The settings every script needs: who the database is for and where the server is.
pgq_setup_env() {
	export PGDATA="${PGDATA:-/data/postgres/pgdata}"
	export POSTGRES_USER="${POSTGRES_USER:-poststack}"
	export POSTGRES_DB="${POSTGRES_DB:-poststack}"
	export POSTGRES_PORT="${POSTGRES_PORT:-5432}"
	POSTGRES_MAX_CONNECTIONS="${POSTGRES_MAX_CONNECTIONS:-100}"
	POSTGRES_SHARED_BUFFERS="${POSTGRES_SHARED_BUFFERS:-256MB}"
	POSTGRES_SOCKET_DIR="${POSTGRES_SOCKET_DIR:-/run/postgresql}"
	POSTGRES_SSL_DIR="${POSTGRES_SSL_DIR:-$POSTGRES_SOCKET_DIR/ssl}"
	POSTGRES_CERTIFICATES_DIR="${POSTGRES_CERTIFICATES_DIR:-/data/certificates}"
	POSTGRES_INITDB_DIR="${POSTGRES_INITDB_DIR:-/data/init.d}"
	POSTGRES_TEMPLATE_DIR="${POSTGRES_TEMPLATE_DIR:-/etc/postgresql}"
	POSTGRES_CURRENT_PASSWORD_FILE="${POSTGRES_CURRENT_PASSWORD_FILE:-$POSTGRES_SOCKET_DIR/current-password}"
	DOMAIN="${DOMAIN:-}"
	pgq_validate_env
}

# Every value ends up in SQL, in a configuration file or in a path, so each is held to a charset
# that needs no quoting there.
pgq_validate_env() {
	local name
	pgq_check_begin
	for name in POSTGRES_USER POSTGRES_DB; do
		pgq_check_match "$name" '^[a-z_][a-z0-9_]{0,62}$' 'must be 1-63 characters of a-z, 0-9 and _, not starting with a digit'
	done
	[[ $POSTGRES_DB != template0 && $POSTGRES_DB != template1 ]] ||
		pgq_problem "POSTGRES_DB='$POSTGRES_DB' names a template database"
	pgq_check_port POSTGRES_PORT
	pgq_check_match POSTGRES_MAX_CONNECTIONS '^[1-9][0-9]{0,5}$' 'must be a positive whole number'
	pgq_check_match POSTGRES_SHARED_BUFFERS '^[1-9][0-9]{0,9}(kB|MB|GB|TB)?$' 'must be a size such as 256MB (units kB, MB, GB, TB)'
	[[ -z $DOMAIN ]] || pgq_check_match DOMAIN '^[A-Za-z0-9][A-Za-z0-9._-]*$' 'must be a host name'
	pgq_check_path PGDATA POSTGRES_SOCKET_DIR POSTGRES_SSL_DIR POSTGRES_CERTIFICATES_DIR POSTGRES_INITDB_DIR \
		POSTGRES_TEMPLATE_DIR POSTGRES_CURRENT_PASSWORD_FILE
	pgq_check_end
}

pgq_check_port() {
	local name=$1
	if ! [[ ${!name} =~ ^[1-9][0-9]{0,4}$ ]] || ((${!name} > 65535)); then
		pgq_problem "$name='${!name}' must be a port number"
	fi
}

# Sets pgq_password from the Podman secret (or POSTGRES_PASSWORD). The password never reaches a
# command line or SQL text built by the shell.
pgq_read_password() {
	if [[ -n ${POSTGRES_PASSWORD_FILE:-} && -n ${POSTGRES_PASSWORD:-} ]]; then
		pgq_die "both POSTGRES_PASSWORD_FILE and POSTGRES_PASSWORD are set: set only one"
	fi
	if [[ -n ${POSTGRES_PASSWORD_FILE:-} ]]; then
		[[ -r $POSTGRES_PASSWORD_FILE ]] ||
			pgq_die "POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE is missing or not readable by $(id -un)"
		pgq_password="$(<"$POSTGRES_PASSWORD_FILE")"
	else
		pgq_password="${POSTGRES_PASSWORD:-}"
	fi
	unset POSTGRES_PASSWORD
	[[ -n $pgq_password ]] ||
		pgq_die "no password for $POSTGRES_USER: set POSTGRES_PASSWORD_FILE (a Podman secret) or POSTGRES_PASSWORD"
}

# The role's password as it is now. The secret is mounted when the container is made and a
# rotation (password.sh) cannot change that copy, so the scripts keep the current one in a private
# file on the container's tmpfs; until the first start wrote it, the secret is current.
pgq_read_current_password() {
	if [[ -r $POSTGRES_CURRENT_PASSWORD_FILE ]]; then
		pgq_password="$(<"$POSTGRES_CURRENT_PASSWORD_FILE")"
		[[ -n $pgq_password ]] || pgq_die "$POSTGRES_CURRENT_PASSWORD_FILE is empty"
	else
		pgq_read_password
	fi
}

pgq_store_current_password() {
	pgq_write_private "$POSTGRES_CURRENT_PASSWORD_FILE" "$pgq_password"
}

# pgq_write_private FILE TEXT: the file is complete before it appears, and never readable by
# others, not even while it is written. TEXT is a function argument, never a process's.
pgq_write_private() {
	local dest=$1 text=$2
	(umask 077 && printf '%s\n' "$text" >"$dest.tmp")
	mv -f -- "$dest.tmp" "$dest"
}

# Reads all of standard input into pgq_password: how a new password reaches a running container
# (podman exec -i), never as an argument.
pgq_password_from_stdin() {
	pgq_password="$(cat)"
	[[ -n $pgq_password ]] || pgq_die "no password on standard input"
}

# /run is an empty tmpfs in a read-only container: the socket directory may have to be made anew.
pgq_prepare_socket_dir() {
	[[ -d $POSTGRES_SOCKET_DIR ]] && return 0
	mkdir -p -- "$POSTGRES_SOCKET_DIR" ||
		pgq_die "cannot create the socket directory $POSTGRES_SOCKET_DIR as $(id -un): point POSTGRES_SOCKET_DIR at a writable directory"
}

# Sets pgq_ssl, pgq_ssl_cert_file and pgq_ssl_key_file. DOMAIN asks for TLS, so missing or
# unreadable certificates stop the start instead of quietly serving plain text. PostgreSQL
# refuses a key that others can read unless root owns it, and the certificate mount is read-only:
# the server gets its own 0600 copy of the key, on a tmpfs in the container, never on the volume.
pgq_setup_tls() {
	pgq_ssl=off pgq_ssl_cert_file='' pgq_ssl_key_file=''
	[[ -n $DOMAIN ]] || return 0
	local dir="$POSTGRES_CERTIFICATES_DIR/$DOMAIN" file
	for file in "$dir/fullchain.pem" "$dir/privkey.pem"; do
		[[ -f $file && -r $file ]] ||
			pgq_die "DOMAIN=$DOMAIN asks for TLS, but $file is missing or not readable by $(id -un) (groups: $(id -Gn)); the certificates directory must hold fullchain.pem and privkey.pem, readable by this user or its certgroup"
	done
	install -d -m 0700 -- "$POSTGRES_SSL_DIR" ||
		pgq_die "cannot create $POSTGRES_SSL_DIR for the private copy of the TLS key"
	install -m 0600 -- "$dir/privkey.pem" "$POSTGRES_SSL_DIR/server.key" ||
		pgq_die "cannot copy $dir/privkey.pem to $POSTGRES_SSL_DIR/server.key"
	# shellcheck disable=SC2034 # read by the scripts that source this file
	pgq_ssl=on
	# shellcheck disable=SC2034
	pgq_ssl_cert_file="$dir/fullchain.pem"
	# shellcheck disable=SC2034
	pgq_ssl_key_file="$POSTGRES_SSL_DIR/server.key"
	pgq_log "TLS on with the certificate in $dir; TCP connections without TLS are refused"
}

# psql as the superuser over the socket, by peer: no password exists for it, so none can leak.
pgq_superuser_psql() {
	psql --no-psqlrc --quiet --no-password --set=ON_ERROR_STOP=1 \
		--host="$POSTGRES_SOCKET_DIR" --port="$POSTGRES_PORT" --username=postgres "$@"
}

# Gives POSTGRES_USER (created when missing) the password in pgq_password. The password travels
# in psql's environment and is quoted by psql (:'password'); the session keeps the statement that
# carries it out of the server log and out of pg_stat_statements.
pgq_set_role_password() {
	PGQ_PASSWORD="$pgq_password" pgq_superuser_psql --dbname=postgres --set=user="$POSTGRES_USER" <<-'SQL'
		\getenv password PGQ_PASSWORD
		SET log_statement = 'none';
		SET log_min_error_statement = 'panic';
		SET pg_stat_statements.track_utility = off;
		SELECT format('%s ROLE %I LOGIN PASSWORD %L',
		              CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') THEN 'ALTER' ELSE 'CREATE' END,
		              :'user', :'password') \gexec
		\unset password
	SQL
}

# pgq_wait_accepting SECONDS PG_ISREADY_ARGS...: succeeds as soon as pg_isready does, fails when
# SECONDS pass first. pg_isready sends no password, so its probes are not logged as failed logins.
pgq_wait_accepting() {
	local deadline=$((SECONDS + $1))
	shift
	until pg_isready --quiet --timeout=1 "$@"; do
		((SECONDS < deadline)) || return 1
		# A server is ready about 0.1 s after its start: a coarser step would be most of that again.
		sleep 0.02
	done
}

# The health checks' --wait SECONDS argument.
pgq_check_wait_seconds() {
	[[ $1 =~ ^[0-9]{1,4}$ ]] || pgq_die "--wait takes a whole number of seconds, not '$1'"
}

# Sizes and times in the lines the scripts print (backup.sh, pgbackrest.sh).
# "13.6 MiB" for 14304847.
pgq_human_bytes() {
	local bytes=$1 unit=0 scaled
	local -a units=(B KiB MiB GiB TiB)
	scaled=$((bytes * 10))
	while ((scaled >= 10240 && unit < 4)); do
		scaled=$((scaled / 1024))
		unit=$((unit + 1))
	done
	if ((unit == 0)); then
		printf '%d B\n' "$bytes"
	else
		printf '%d.%d %s\n' $((scaled / 10)) $((scaled % 10)) "${units[unit]}"
	fi
}

# Seconds since START (an $EPOCHREALTIME), with two decimals.
pgq_elapsed() {
	local start=$1 now=$EPOCHREALTIME micros
	micros=$((10#${now//[.,]/} - 10#${start//[.,]/}))
	printf '%d.%02d\n' $((micros / 1000000)) $((micros % 1000000 / 10000))
}

# Succeeds while a server runs on PGDATA (its postmaster.pid names a live process). Meaningful
# only where the server's processes are visible: in its own container, or on the same host.
pgq_server_running() {
	pg_ctl --pgdata="$PGDATA" status >/dev/null 2>&1
}

# pgq_wait_promoted [SECONDS]: waits until the server on the socket has left recovery. A restored
# cluster replays WAL from the archive and then promotes, and both pg_ctl --wait and a hot
# standby's first logins come before that. Says every 30 s how far the replay has come. Fails when
# the server stops first (recovery can end in an error, e.g. a target beyond the archived WAL: the
# server's log says why), or when SECONDS pass; without SECONDS it waits as long as recovery takes.
pgq_wait_promoted() {
	local limit=${1:-} start=$SECONDS next_note=$((SECONDS + 30)) state
	while :; do
		if state=$(pgq_superuser_psql --dbname=postgres --tuples-only --no-align --command="SELECT CASE WHEN pg_is_in_recovery() THEN concat_ws(' ', 'replayed up to', pg_last_wal_replay_lsn(), 'of', to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')) ELSE 'promoted' END" 2>/dev/null); then
			[[ $state == promoted ]] && return 0
		elif ! pgq_server_running; then
			pgq_log "the server stopped before it left recovery: its log says why"
			return 1
		fi
		if [[ -n $limit ]] && ((SECONDS - start >= limit)); then
			pgq_log "the server is still in recovery after $limit s (${state:-not accepting connections yet})"
			return 1
		fi
		if ((SECONDS >= next_note)); then
			pgq_log "waiting for the server to finish recovery: ${state:-not accepting connections yet}"
			next_note=$((SECONDS + 30))
		fi
		sleep 0.2
	done
}
