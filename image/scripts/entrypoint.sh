#!/usr/bin/env bash
# Starts PostgreSQL in the image. On the first start it creates the cluster, the role and the
# database, and runs the init files; on every start it renders the configuration; then it becomes
# the server (exec), so the container's stop signal reaches PostgreSQL itself.
#
# Sourcing this file only defines the functions (pgq_*), so that tests and health-check.sh can
# call them one at a time. Every path is an environment variable whose default is the container's.
set -Eeuo pipefail

# Present in PGDATA from the end of initdb until the first-start setup has finished: a data
# directory that still has it was left half-made by a failed first start, never used by a server.
pgq_incomplete_marker=.first-start-incomplete
# Holds the number of the last setup step done on the cluster (pgq_setup_steps): a cluster made by
# an older image gets the steps added since at its next start.
pgq_setup_file=pg-quadlet-setup

pgq_log() {
	printf 'entrypoint: %s\n' "$*" >&2
}

pgq_die() {
	printf 'entrypoint: error: %s\n' "$*" >&2
	exit 1
}

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
	DOMAIN="${DOMAIN:-}"
	pgq_validate_env
}

# Every value ends up in SQL, in a configuration file or in a path, so each is held to a charset
# that needs no quoting there. All problems are reported at once.
pgq_validate_env() {
	local -a problems=()
	local name
	for name in POSTGRES_USER POSTGRES_DB; do
		[[ ${!name} =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
			problems+=("$name='${!name}' must be 1-63 characters of a-z, 0-9 and _, not starting with a digit")
	done
	[[ $POSTGRES_DB != template0 && $POSTGRES_DB != template1 ]] ||
		problems+=("POSTGRES_DB='$POSTGRES_DB' names a template database")
	[[ $POSTGRES_PORT =~ ^[1-9][0-9]{0,4}$ ]] && ((POSTGRES_PORT <= 65535)) ||
		problems+=("POSTGRES_PORT='$POSTGRES_PORT' must be a port number")
	[[ $POSTGRES_MAX_CONNECTIONS =~ ^[1-9][0-9]{0,5}$ ]] ||
		problems+=("POSTGRES_MAX_CONNECTIONS='$POSTGRES_MAX_CONNECTIONS' must be a positive whole number")
	[[ $POSTGRES_SHARED_BUFFERS =~ ^[1-9][0-9]{0,9}(kB|MB|GB|TB)?$ ]] ||
		problems+=("POSTGRES_SHARED_BUFFERS='$POSTGRES_SHARED_BUFFERS' must be a size such as 256MB (units kB, MB, GB, TB)")
	[[ -z $DOMAIN || $DOMAIN =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
		problems+=("DOMAIN='$DOMAIN' must be a host name")
	for name in PGDATA POSTGRES_SOCKET_DIR POSTGRES_SSL_DIR POSTGRES_CERTIFICATES_DIR POSTGRES_INITDB_DIR POSTGRES_TEMPLATE_DIR; do
		[[ ${!name} == /* && ${!name} != *[\'\\$'\n']* ]] ||
			problems+=("$name='${!name}' must be an absolute path without quotes, backslashes or newlines")
	done
	if ((${#problems[@]})); then
		printf 'entrypoint: error: %s\n' "${problems[@]}" >&2
		exit 1
	fi
}

# Sets pgq_password. The password never reaches a command line or SQL text built by the shell.
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

# /run is an empty tmpfs in a read-only container: the socket directory may have to be made anew.
pgq_prepare_socket_dir() {
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
	pgq_ssl=on
	pgq_ssl_cert_file="$dir/fullchain.pem"
	pgq_ssl_key_file="$POSTGRES_SSL_DIR/server.key"
	pgq_log "TLS on with the certificate in $dir; TCP connections without TLS are refused"
}

# pgq_render TEMPLATE DEST NAME=VALUE...: replaces each @NAME@; a placeholder left over is an
# error, so a template never silently renders an empty setting.
pgq_render() {
	local template=$1 dest=$2 text pair
	shift 2
	text="$(<"$template")"
	for pair; do
		text="${text//"@${pair%%=*}@"/"${pair#*=}"}"
	done
	if [[ $text =~ @[A-Z_]+@ ]]; then
		pgq_die "$template has the placeholder ${BASH_REMATCH[0]}, which nothing fills"
	fi
	(umask 077 && printf '%s\n' "$text" >"$dest.tmp")
	mv -f -- "$dest.tmp" "$dest"
}

pgq_render_config() {
	local tcp=host
	[[ $pgq_ssl == off ]] || tcp=hostssl
	pgq_render "$POSTGRES_TEMPLATE_DIR/postgresql.conf.template" "$PGDATA/postgresql.conf" \
		"PORT=$POSTGRES_PORT" \
		"MAX_CONNECTIONS=$POSTGRES_MAX_CONNECTIONS" \
		"SHARED_BUFFERS=$POSTGRES_SHARED_BUFFERS" \
		"SOCKET_DIR=$POSTGRES_SOCKET_DIR" \
		"SSL=$pgq_ssl" \
		"SSL_CERT_FILE=$pgq_ssl_cert_file" \
		"SSL_KEY_FILE=$pgq_ssl_key_file"
	pgq_render "$POSTGRES_TEMPLATE_DIR/pg_hba.conf.template" "$PGDATA/pg_hba.conf" "TCP=$tcp"
}

pgq_is_initialized() {
	[[ -s $PGDATA/PG_VERSION && ! -e $PGDATA/$pgq_incomplete_marker ]]
}

pgq_init_database_dir() {
	if [[ -e $PGDATA/$pgq_incomplete_marker ]]; then
		pgq_log "the first start did not finish initializing $PGDATA: removing what it made and starting over"
		find "$PGDATA" -mindepth 1 -delete
	fi
	pgq_log "initializing a new cluster in $PGDATA"
	initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
		--data-checksums --auth-local=peer --auth-host=scram-sha-256 >&2
	: >"$PGDATA/$pgq_incomplete_marker"
}

# Socket only: nothing outside the container, the health check included, sees the server
# before the first-start setup is complete.
pgq_temp_server_start() {
	pg_ctl --pgdata="$PGDATA" --wait --timeout=60 --options="-c listen_addresses=''" start >&2
	trap pgq_temp_server_stop EXIT
}

pgq_temp_server_stop() {
	trap - EXIT
	pg_ctl --pgdata="$PGDATA" --mode=fast --wait --timeout=60 stop >&2
}

# pgq_wait_accepting SECONDS PG_ISREADY_ARGS...: succeeds as soon as pg_isready does, fails when
# SECONDS pass first. pg_isready sends no password, so its probes are not logged as failed logins.
pgq_wait_accepting() {
	local deadline=$((SECONDS + $1))
	shift
	until pg_isready --quiet --timeout=1 "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# The password travels in psql's environment and is quoted by psql (:'password'); the connection
# keeps the statement that carries it out of the server log and out of pg_stat_statements.
pgq_create_user_and_database() {
	PGQ_PASSWORD="$pgq_password" psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 \
		--host="$POSTGRES_SOCKET_DIR" --port="$POSTGRES_PORT" --username=postgres --dbname=postgres \
		--set=user="$POSTGRES_USER" --set=db="$POSTGRES_DB" <<-'SQL'
		\getenv password PGQ_PASSWORD
		SET log_statement = 'none';
		SET log_min_error_statement = 'panic';
		SET pg_stat_statements.track_utility = off;
		SELECT format('%s ROLE %I LOGIN PASSWORD %L',
		              CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') THEN 'ALTER' ELSE 'CREATE' END,
		              :'user', :'password') \gexec
		\unset password
		SELECT format('CREATE DATABASE %I', :'db')
		 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
		SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'user') \gexec
		\connect :"db"
		CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
		CREATE EXTENSION IF NOT EXISTS pgcrypto;
		CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
	SQL
}

# Runs one init file; its exit status is the file's. SQL runs as the database's owner (role set at
# connection), so the objects it makes belong to the application; `SET ROLE NONE` in a file gives
# it back the superuser for statements that need one.
pgq_run_init_file() {
	local file=$1
	case $file in
		*.sh)
			pgq_log "running $file"
			bash -- "$file"
			;;
		*.sql)
			pgq_log "running $file"
			psql --no-psqlrc --set=ON_ERROR_STOP=1 --file="$file"
			;;
		*.sql.gz)
			pgq_log "running $file"
			gzip --decompress --stdout -- "$file" | psql --no-psqlrc --set=ON_ERROR_STOP=1 --file=-
			;;
		*)
			pgq_log "ignoring $file (not *.sh, *.sql or *.sql.gz)"
			;;
	esac
}

pgq_process_init_files() {
	[[ -d $POSTGRES_INITDB_DIR ]] || return 0
	local LC_ALL=C file
	for file in "$POSTGRES_INITDB_DIR"/*; do
		[[ -e $file ]] || continue
		if ! (
			export PGHOST="$POSTGRES_SOCKET_DIR" PGPORT="$POSTGRES_PORT" PGUSER=postgres \
				PGDATABASE="$POSTGRES_DB" PGOPTIONS="-c role=$POSTGRES_USER"
			pgq_run_init_file "$file"
		); then
			pgq_die "init file $file failed (its error is above); the data directory stays marked incomplete and the next start initializes it again from the beginning"
		fi
	done
}

# The pool container's PgBouncer checks logins against the role's SCRAM secret and logs in to
# PostgreSQL with what a client's proof reveals, so it never needs the password; but only a
# superuser can read the secret. This function gives the login role its own, and nothing more. It
# lives in the maintenance database, out of the application's database and its backups.
pgq_create_secret_lookup() {
	psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --single-transaction --file=- \
		--host="$POSTGRES_SOCKET_DIR" --port="$POSTGRES_PORT" --username=postgres --dbname=postgres \
		--set=user="$POSTGRES_USER" <<-'SQL'
		CREATE SCHEMA IF NOT EXISTS pgquadlet;
		CREATE OR REPLACE FUNCTION pgquadlet.scram_secret() RETURNS text
		  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
		  AS $$ SELECT rolpassword FROM pg_authid
		         WHERE rolname = session_user AND rolpassword LIKE 'SCRAM-SHA-256$%' $$;
		COMMENT ON FUNCTION pgquadlet.scram_secret() IS
		  'The SCRAM secret of the role that logged in, for the PgBouncer of pg-quadlet''s pool container';
		REVOKE ALL ON FUNCTION pgquadlet.scram_secret() FROM PUBLIC;
		GRANT USAGE ON SCHEMA pgquadlet TO :"user";
		GRANT EXECUTE ON FUNCTION pgquadlet.scram_secret() TO :"user";
	SQL
}

# Setup that follows the role and the database, in order. A step is only ever appended, and is
# safe to repeat: a cluster made by an older image runs the ones it has not had at its next start.
pgq_setup_steps=(pgq_create_secret_lookup)

# pgq_run_setup_steps DONE: every step after the first DONE.
pgq_run_setup_steps() {
	local step
	for step in "${pgq_setup_steps[@]:$1}"; do
		"$step"
	done
}

pgq_setup_done() {
	local steps=0
	[[ -s $PGDATA/$pgq_setup_file ]] && steps=$(<"$PGDATA/$pgq_setup_file")
	[[ $steps =~ ^[0-9]+$ ]] ||
		pgq_die "$PGDATA/$pgq_setup_file holds '$steps', not the number of setup steps done: remove it, and every step runs again (each is safe to repeat)"
	echo "$steps"
}

pgq_record_setup_done() {
	printf '%s\n' "${#pgq_setup_steps[@]}" >"$PGDATA/$pgq_setup_file.tmp"
	mv -f -- "$PGDATA/$pgq_setup_file.tmp" "$PGDATA/$pgq_setup_file"
}

# Runs on a server that only the socket reaches, so no client sees the cluster half set up.
pgq_upgrade_setup() {
	local steps
	steps=$(pgq_setup_done)
	((steps < ${#pgq_setup_steps[@]})) || return 0
	pgq_log "adding what this image sets up that $PGDATA does not have yet (steps $((steps + 1)) to ${#pgq_setup_steps[@]})"
	pgq_temp_server_start
	pgq_run_setup_steps "$steps"
	pgq_temp_server_stop
	pgq_record_setup_done
	sync -- "$PGDATA"
}

pgq_mark_initialized() {
	pgq_record_setup_done
	rm -f -- "$PGDATA/$pgq_incomplete_marker"
	sync -- "$PGDATA"
}

pgq_initialize() {
	pgq_read_password
	pgq_init_database_dir
	pgq_render_config
	pgq_temp_server_start
	pgq_create_user_and_database
	pgq_run_setup_steps 0
	pgq_process_init_files
	pgq_temp_server_stop
	pgq_mark_initialized
	pgq_log "first start complete: role $POSTGRES_USER owns database $POSTGRES_DB"
}

pgq_main() {
	if [[ $# -eq 0 || $1 == -* ]]; then
		set -- postgres "$@"
	fi
	# Any other command (psql, pgbouncer, bash) runs as given, without touching the data.
	if [[ $1 != postgres ]]; then
		exec "$@"
	fi
	pgq_setup_env
	pgq_prepare_socket_dir
	pgq_setup_tls
	if pgq_is_initialized; then
		pgq_render_config
		pgq_upgrade_setup
	else
		pgq_initialize
	fi
	unset POSTGRES_PASSWORD pgq_password
	exec "$@"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_main "$@"
fi
