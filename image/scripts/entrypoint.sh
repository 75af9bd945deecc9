#!/usr/bin/env bash
# Starts PostgreSQL in the image. On the first start it creates the cluster, pgBackRest's stanza,
# the role and the database, and runs the init files; on every start it writes pgBackRest's
# configuration and renders the server's; then it becomes the server (exec), so the container's
# stop signal reaches PostgreSQL itself.
#
# Sourcing this file only defines the functions (pgq_*), so that tests can call them one at a
# time; lib.sh holds what the other scripts share with it.
set -Eeuo pipefail

pgq_tool=entrypoint
# shellcheck source=pgbackrest-lib.sh
source "${BASH_SOURCE[0]%/*}/pgbackrest-lib.sh"

# Present in PGDATA from the end of initdb until the first-start setup has finished: a data
# directory that still has it was left half-made by a failed first start, never used by a server.
pgq_incomplete_marker=.first-start-incomplete
# Holds the number of the last setup step done on the cluster (pgq_setup_steps): a cluster made by
# an older image gets the steps added since at its next start.
pgq_setup_file=pg-quadlet-setup
# Who the cluster was made for, as NAME=VALUE lines (database, user): read before every start, so
# a container configured for another database or role stops at once instead of never becoming
# healthy, and read by pg-quadlet install to refuse such a config before it is written.
pgq_identity_file=pg-quadlet-identity

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
	# Unchanged since the last start, as it mostly is: left as it is (a write costs a process).
	[[ -f $dest && $(<"$dest") == "$text" ]] && return 0
	pgq_write_private "$dest" "$text"
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
		"SSL_KEY_FILE=$pgq_ssl_key_file" \
		"ARCHIVE_COMMAND=$(pgq_pgbackrest_archive_command)" \
		"ARCHIVE_TIMEOUT=$POSTGRES_ARCHIVE_TIMEOUT"
	pgq_render "$POSTGRES_TEMPLATE_DIR/pg_hba.conf.template" "$PGDATA/pg_hba.conf" "TCP=$tcp"
}

pgq_is_initialized() {
	[[ -s $PGDATA/PG_VERSION && ! -e $PGDATA/$pgq_incomplete_marker ]]
}

pgq_init_database_dir() {
	if [[ -e $PGDATA/$pgq_incomplete_marker ]]; then
		pgq_log "the first start did not finish initializing $PGDATA: removing what it made and starting over"
		# The stanza that start may have made is this cluster's, which no one ever used.
		pgq_pgbackrest_discarded_system_id=$(pgq_system_id)
		find "$PGDATA" -mindepth 1 -delete
	fi
	pgq_log "initializing a new cluster in $PGDATA"
	pgq_initdb
	# On disk before anything else the first start does: until it is removed, whatever a crash
	# left of the cluster is discarded at the next start, so nothing else needs to be durable yet.
	: >"$PGDATA/$pgq_incomplete_marker"
	sync -- "$PGDATA/$pgq_incomplete_marker" "$PGDATA"
}

# Without initdb's own sync, which fsync()s every file it wrote, one at a time (PostgreSQL 15's
# initdb has no --sync-method=syncfs): pgq_mark_initialized makes them durable with one syncfs()
# before the cluster is marked complete.
pgq_initdb() {
	initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
		--data-checksums --auth-local=peer --auth-host=scram-sha-256 --no-sync >&2
}

# One syncfs() of the file system that holds PGDATA: everything written there is on disk when it
# returns (Linux 5.8 and newer report a failed write-back here), as initdb's sync or a checkpoint's
# fsync() of each file would make it, in one call. It also writes out what other programs left
# dirty on that file system, which PostgreSQL's recovery_init_sync_method=syncfs accepts as well.
pgq_sync_volume() {
	sync --file-system -- "$PGDATA"
}

pgq_temp_server_start() {
	pgq_temp_server_launch
	pgq_temp_server_wait
}

# pgq_temp_server_launch [SERVER_OPTION...]: socket only: nothing outside the container, the
# health check included, sees the server before the setup is complete. A child of this shell, so
# that its stop is waited for, not polled (pg_ctl's --wait looks every 100 ms, at start and stop).
pgq_temp_server_launch() {
	postgres -D "$PGDATA" -c listen_addresses='' "$@" >&2 </dev/null &
	pgq_temp_server_pid=$!
	trap pgq_temp_server_stop EXIT
}

# Until the server takes connections on its socket (a restored cluster: read-only ones, as with
# pg_ctl --wait); fails when it exits first, or after 60 s.
pgq_temp_server_wait() {
	local deadline=$((SECONDS + 60))
	until pg_isready --quiet --host="$POSTGRES_SOCKET_DIR" --port="$POSTGRES_PORT"; do
		kill -0 "$pgq_temp_server_pid" 2>/dev/null ||
			pgq_die "the server on $PGDATA exited before it took connections (its log is above)"
		((SECONDS < deadline)) || pgq_die "the server on $PGDATA did not take connections within 60 s"
		sleep 0.02
	done
}

# Fast shutdown (clients are disconnected, then a checkpoint), waited for to its end: the server
# exits 0 only after a clean shutdown.
pgq_temp_server_stop() {
	local status=0
	trap - EXIT
	kill -INT "$pgq_temp_server_pid" 2>/dev/null || true
	wait "$pgq_temp_server_pid" || status=$?
	((status == 0)) || pgq_die "the server on $PGDATA did not stop cleanly (exit status $status, its log is above)"
}

pgq_create_user_and_database() {
	pgq_set_role_password
	pgq_superuser_psql --dbname=postgres --set=user="$POSTGRES_USER" --set=db="$POSTGRES_DB" <<-'SQL'
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
	pgq_superuser_psql --single-transaction --file=- --dbname=postgres --set=user="$POSTGRES_USER" <<-'SQL'
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
pgq_setup_steps=(pgq_create_secret_lookup pgq_pgbackrest_stanza_step)

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

# pgq_identity_value FIELD: the field's value in the identity record, empty when it has none.
pgq_identity_value() {
	local line
	[[ -r $PGDATA/$pgq_identity_file ]] || return 0
	while IFS= read -r line; do
		if [[ $line == "$1="* ]]; then
			printf '%s\n' "${line#*=}"
			return 0
		fi
	done <"$PGDATA/$pgq_identity_file"
}

pgq_identity_matches() {
	[[ $(pgq_identity_value database) == "$POSTGRES_DB" && $(pgq_identity_value user) == "$POSTGRES_USER" ]]
}

pgq_record_identity() {
	printf 'database=%s\nuser=%s\n' "$POSTGRES_DB" "$POSTGRES_USER" >"$PGDATA/$pgq_identity_file.tmp"
	mv -f -- "$PGDATA/$pgq_identity_file.tmp" "$PGDATA/$pgq_identity_file"
}

# On a cluster whose record names another database or role, or that has none (made by an older
# image): the configured ones must exist, else no login could ever succeed. When they do (renamed
# with ALTER DATABASE/ROLE ... RENAME, say), the record follows them.
pgq_confirm_identity() {
	local was_db was_user found
	was_db=$(pgq_identity_value database)
	was_user=$(pgq_identity_value user)
	found=$(pgq_superuser_psql --dbname=postgres --tuples-only --no-align \
		--set=db="$POSTGRES_DB" --set=user="$POSTGRES_USER" <<-'SQL'
		SELECT concat_ws(' ',
		  CASE WHEN NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') THEN 'database' END,
		  CASE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') THEN 'user' END);
	SQL
	)
	if [[ -n $found ]]; then
		pgq_die --status "$PGQ_EXIT_CONFIG" "this cluster was made for database '${was_db:-?}' owned by '${was_user:-?}', but the container is set for database '$POSTGRES_DB' (POSTGRES_DB) owned by '$POSTGRES_USER' (POSTGRES_USER), and the cluster has no such ${found// / or }: set database and user back in the config, or rename them in the cluster first (ALTER DATABASE ... RENAME TO, ALTER ROLE ... RENAME TO)"
	fi
	[[ -z $was_db ]] || pgq_log "the cluster's database and role are now '$POSTGRES_DB' and '$POSTGRES_USER' (were '$was_db' and '$was_user')"
	pgq_record_identity
}

# A restored cluster (recovery.signal) replays WAL from the archive and promotes itself;
# pgq_temp_server_wait returns before that, when it takes read-only logins. Nothing can be set up
# until then.
pgq_wait_recovered() {
	[[ -e $PGDATA/recovery.signal ]] || return 0
	pgq_log "$PGDATA is being recovered (recovery.signal: a restore): waiting until it has replayed the archived WAL and is promoted"
	pgq_wait_promoted "" || pgq_die "the restored cluster in $PGDATA did not finish its recovery (the server's log above says why)"
	pgq_log "recovery finished: the cluster is promoted"
}

# Runs on a server that only the socket reaches, so no client sees the cluster half set up.
pgq_prepare_existing() {
	local steps
	steps=$(pgq_setup_done)
	if pgq_identity_matches && ((steps >= ${#pgq_setup_steps[@]})) && ! pgq_pgbackrest_stanza_missing &&
		! pgq_pgbackrest_repo2_pending; then
		return 0
	fi
	# A restore onto a new backup volume: the stanza must be there before the server promotes, or
	# the new timeline's history file meets a repository without one and the stop waits on it.
	# pgBackRest makes it from pg_control (offline): a server in recovery is no primary to ask.
	if [[ -e $PGDATA/recovery.signal ]] && pgq_pgbackrest_stanza_missing; then
		pgq_log "the pgBackRest repository $PGBACKREST_REPO1_PATH has no stanza '$PGBACKREST_STANZA' (a new or emptied backup volume): creating it from the restored cluster"
		pgq_pgbackrest_stanza_create --no-online
	fi
	pgq_temp_server_start
	pgq_wait_recovered
	# First, so that the segments this server ends (its stop ends one) can be archived.
	if pgq_pgbackrest_stanza_missing; then
		pgq_log "the pgBackRest repository $PGBACKREST_REPO1_PATH has no stanza '$PGBACKREST_STANZA' (a new or emptied backup volume): creating it"
		pgq_pgbackrest_stanza_create
	elif pgq_pgbackrest_repo2_pending; then
		pgq_log "adding the stanza '$PGBACKREST_STANZA' to the off-host repository $(pgq_pgbackrest_repo2_id)"
		pgq_pgbackrest_stanza_create
	fi
	pgq_identity_matches || pgq_confirm_identity
	if ((steps < ${#pgq_setup_steps[@]})); then
		pgq_log "adding what this image sets up that $PGDATA does not have yet (steps $((steps + 1)) to ${#pgq_setup_steps[@]})"
		pgq_run_setup_steps "$steps"
	fi
	pgq_temp_server_stop
	pgq_record_setup_done
	sync -- "$PGDATA"
}

pgq_mark_initialized() {
	pgq_record_identity
	pgq_record_setup_done
	# What initdb and the setup server wrote without syncing, on disk before the marker goes.
	pgq_sync_volume
	rm -f -- "$PGDATA/$pgq_incomplete_marker"
	sync -- "$PGDATA"
}

pgq_initialize() {
	pgq_init_database_dir
	pgq_render_config
	# Without archiving: a new cluster has no backup that its WAL could be needed for, and the
	# stop of an archiving server ends its segment and archives it, which takes a moment. The
	# segment it was writing is archived by the server that follows, once full. Without fsync, as
	# initdb runs its own setup: a crash before pgq_mark_initialized's syncfs() discards the
	# cluster anyway (the marker), and a clean stop has written every page out to the kernel.
	pgq_temp_server_launch -c archive_mode=off -c fsync=off
	# Before the server archives anything (until the stanza exists, archiving fails and WAL piles
	# up), and from pg_control while the server starts: pgBackRest's client takes 100 ms a query,
	# 0.6 s online. What it reads (system identifier, versions) never changes.
	pgq_pgbackrest_stanza_create --no-online
	pgq_temp_server_wait
	pgq_create_user_and_database
	pgq_run_setup_steps 0
	pgq_process_init_files
	pgq_temp_server_stop
	pgq_mark_initialized
	pgq_log "first start complete: role $POSTGRES_USER owns database $POSTGRES_DB"
}

# pgBackRest writes backup.manifest into the directory it restores into first and removes it last:
# a directory that still has it is not a whole cluster (pgbackrest.sh restores elsewhere and
# renames, so only a restore run by other means can leave one).
pgq_refuse_unfinished_restore() {
	[[ -e $PGDATA/backup.manifest ]] || return 0
	pgq_die --status "$PGQ_EXIT_CONFIG" "$PGDATA holds backup.manifest: a pgBackRest restore into it did not finish, and the server must not run on it. Restore again into an empty PGDATA (pgbackrest.sh restore), or put back the data directory moved aside before it"
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
	pgq_pgbackrest_setup_env
	pgq_prepare_socket_dir
	pgq_read_password
	pgq_store_current_password
	pgq_pgbackrest_write_config
	pgq_pgbackrest_prepare_volumes
	pgq_pgbackrest_check_cipher
	pgq_setup_tls
	pgq_refuse_unfinished_restore
	if pgq_is_initialized; then
		pgq_render_config
		pgq_prepare_existing
	else
		pgq_initialize
	fi
	unset pgq_password
	exec "$@"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_main "$@"
fi
