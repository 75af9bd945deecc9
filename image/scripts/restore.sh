#!/usr/bin/env bash
# Restores a backup into the configured database (POSTGRES_DB) of the running server.
#
#   restore.sh [--latest]   the newest complete backup in the backup volume
#   restore.sh NAME         a backup in the backup volume (poststack_20260101T020000Z)
#   restore.sh PATH         a backup directory, or a plain pg_dump file *.sql.gz (the spec's format)
#
# The file is checked completely before the server is touched: a damaged or cut-off backup is
# refused and nothing changes. The backup then goes into a new database, with parallel jobs; only
# when all of it is in is that database swapped in under the configured name, in one transaction,
# and the database as it was is kept under another name. A failure at any step before the swap
# leaves the configured database as it was. Roles come first (created when missing, never
# dropped); the application role keeps its current password, which is the container's secret.
set -Eeuo pipefail

pgq_tool=restore
# shellcheck source=backup-lib.sh
source "${BASH_SOURCE[0]%/*}/backup-lib.sh"

pgq_psql() {
	psql --no-psqlrc --no-password --quiet --set=ON_ERROR_STOP=1 "$@"
}

# Sets pgq_restore_source and pgq_restore_kind (archive or plain).
pgq_restore_resolve() {
	local given=${1:---latest} newest
	if [[ $given == --latest ]]; then
		newest=$(pgq_backup_list | head -n 1 | cut -f3)
		[[ -n $newest ]] || pgq_die "there is no backup in $POSTGRES_BACKUP_DIR to restore"
		given=$newest
	fi
	pgq_restore_source=$(pgq_backup_path "$given")
	if [[ -d $pgq_restore_source ]]; then
		pgq_restore_kind=archive
	elif [[ -f $pgq_restore_source && $pgq_restore_source == *.sql.gz ]]; then
		pgq_restore_kind=plain
	elif [[ -e $pgq_restore_source ]]; then
		pgq_die "refused $pgq_restore_source: it is neither a backup directory nor a *.sql.gz file; nothing was changed"
	else
		pgq_die "there is no backup $pgq_restore_source; nothing was changed"
	fi
}

pgq_restore_verify() {
	local source=$pgq_restore_source
	local verdict="refused $source: nothing was changed"
	pgq_log "checking $source"
	if [[ $pgq_restore_kind == archive ]]; then
		pgq_backup_verify "$source" || pgq_die "$verdict"
	else
		gzip --test -- "$source" ||
			pgq_die "$source is not a whole gzip file (cut off or damaged); $verdict"
		gzip --decompress --stdout -- "$source" | tail -n 5 |
			grep --line-regexp --fixed-strings -- '-- PostgreSQL database dump complete' >/dev/null ||
			pgq_die "$source does not end as a finished pg_dump does (the dump was cut off); $verdict"
	fi
}

# Names within PostgreSQL's 63 bytes: POSTGRES_DB is 1-63 characters of a-z, 0-9 and _.
pgq_restore_names() {
	pgq_restore_tmp="${POSTGRES_DB:0:53}_restoring"
	pgq_restore_saved="${POSTGRES_DB:0:35}_pre_restore_$(date --utc +%Y%m%d_%H%M%S)"
}

pgq_restore_check_server() {
	pgq_psql --command='SELECT 1' >/dev/null ||
		pgq_die "cannot reach the server over $PGHOST as postgres: is it running? Nothing was changed"
}

# A restore killed before its swap leaves its new database behind; under the lock no restore is
# using it.
pgq_restore_drop_leftover() {
	local found
	found=$(pgq_psql --tuples-only --no-align --set=tmp="$pgq_restore_tmp" <<-'SQL'
		SELECT 1 FROM pg_database WHERE datname = :'tmp';
	SQL
	)
	[[ -n $found ]] || return 0
	pgq_log "dropping $pgq_restore_tmp, left by an interrupted restore"
	pgq_psql --set=tmp="$pgq_restore_tmp" <<-'SQL'
		DROP DATABASE :"tmp" WITH (FORCE);
	SQL
}

# roles.sql as pg_dumpall wrote it, made safe to run on a server that has some of the roles:
# CREATE ROLE is skipped for a role that exists, and the application role keeps its password.
pgq_restore_roles_sql() {
	local file=$1 line tag
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line =~ ^CREATE\ ROLE\ (.+)\;$ ]]; then
			# The body's dollar quote must not occur in the role's name, or it would end there.
			tag=pgq_role
			while [[ $line == *"\$$tag\$"* ]]; do tag+=_; done
			# shellcheck disable=SC2016 # a dollar-quoted SQL body, not a shell expansion
			printf 'DO $%s$ BEGIN CREATE ROLE %s; EXCEPTION WHEN duplicate_object THEN NULL; END $%s$;\n' "$tag" "${BASH_REMATCH[1]}" "$tag"
		elif [[ ($line == "ALTER ROLE $POSTGRES_USER WITH "* || $line == "ALTER ROLE \"$POSTGRES_USER\" WITH "*) &&
			$line == *" PASSWORD '"* ]]; then
			printf '%s;\n' "${line% PASSWORD \'*}"
		else
			printf '%s\n' "$line"
		fi
	done <"$file"
}

pgq_restore_roles() {
	pgq_log "restoring roles"
	# Quiet about grants that already exist; errors still stop it.
	pgq_restore_roles_sql "$pgq_restore_source/roles.sql" |
		PGOPTIONS='-c client_min_messages=warning' pgq_psql --single-transaction --file=- >/dev/null
}

# The archive's database-level SQL, as pg_restore --create writes it: CREATE DATABASE (with the
# encoding and locale), its owner, settings, comment and privileges. No table is named '', so
# only those entries come out.
pgq_restore_database_sql() {
	pg_restore --create --schema-only --table='' --file=- -- "$pgq_restore_source/database"
}

# Sets pgq_restore_create (CREATE DATABASE for the new database, with the backup's encoding and
# locale) and pgq_restore_properties (the other database-level statements, for the name the
# database has after the swap). Reads only the file, so it runs before anything changes.
pgq_restore_read_database_sql() {
	local sql line dumped=''
	local -a props=()
	pgq_restore_create='' pgq_restore_properties=''
	if [[ $pgq_restore_kind == plain ]]; then
		return 0
	fi
	sql=$(pgq_restore_database_sql)
	while IFS= read -r line; do
		if [[ $line =~ ^CREATE\ DATABASE\ (.+)\ (WITH\ TEMPLATE\ =\ .*)$ ]]; then
			dumped=${BASH_REMATCH[1]}
			pgq_restore_create="CREATE DATABASE \"$pgq_restore_tmp\" ${BASH_REMATCH[2]}"
		elif [[ $line != '\connect '* ]]; then
			props+=("$line")
		fi
	done <<<"$sql"
	[[ -n $pgq_restore_create ]] || pgq_die "refused $pgq_restore_source: its archive has no CREATE DATABASE entry; nothing was changed"
	pgq_restore_properties=$(pgq_restore_rename_properties "$dumped" "${props[@]}")
}

pgq_restore_create_database() {
	if [[ $pgq_restore_kind == plain ]]; then
		pgq_psql --set=tmp="$pgq_restore_tmp" --set=owner="$POSTGRES_USER" <<-'SQL'
			CREATE DATABASE :"tmp" OWNER :"owner" TEMPLATE template0;
		SQL
	else
		printf '%s\n' "$pgq_restore_create" | pgq_psql --file=-
	fi
	pgq_restore_created=1
}

# A backup of a database by another name is restored under POSTGRES_DB: its statements about the
# database are pointed at that name.
pgq_restore_rename_properties() {
	local dumped=$1 line
	shift
	for line; do
		if [[ $dumped != "$POSTGRES_DB" && $line =~ ^(ALTER\ DATABASE|COMMENT\ ON\ DATABASE|ALTER\ ROLE|GRANT|REVOKE|SECURITY\ LABEL)\  ]]; then
			line=${line/"DATABASE $dumped "/"DATABASE \"$POSTGRES_DB\" "}
		fi
		printf '%s\n' "$line"
	done
}

# Reads pg_restore --verbose; prints one line per finished entry of the archive's list, and
# pg_restore's errors and warnings.
pgq_restore_progress() {
	local total=$1 ids=$2 done=0 line id
	local -A listed=()
	local -a id_list
	mapfile -t id_list <<<"$ids"
	# No ids (an archive of a database without objects) reads as one empty line.
	for id in "${id_list[@]}"; do [[ -z $id ]] || listed[$id]=1; done
	while IFS= read -r line; do
		if [[ $line =~ ^pg_restore:\ (processing|processing\ missed|finished)\ item\ ([0-9]+)\ (.*)$ ]]; then
			id=${BASH_REMATCH[2]}
			[[ -n ${listed[$id]:-} ]] || continue
			unset 'listed[$id]'
			done=$((done + 1))
			printf 'restore: [%d/%d] %s\n' "$done" "$total" "${BASH_REMATCH[3]}" >&2
		elif [[ $line == *error:* || $line == *warning:* || $line == *detail:* || $line == *hint:* ]]; then
			printf '%s\n' "$line" >&2
		fi
	done
}

pgq_restore_load() {
	local list ids total
	if [[ $pgq_restore_kind == plain ]]; then
		pgq_log "loading $pgq_restore_source into a new database (one SQL stream, no parallel jobs for this format)"
		gzip --decompress --stdout -- "$pgq_restore_source" |
			pgq_psql --single-transaction --dbname="$pgq_restore_tmp" --file=- >/dev/null
		return 0
	fi
	list=$(pg_restore --list -- "$pgq_restore_source/database" | grep -v '^;' | grep -v '^$' || true)
	ids=$(cut -d';' -f1 <<<"$list")
	total=$(grep -c . <<<"$list" || true)
	pgq_log "loading $total entries into a new database with $BACKUP_JOBS parallel jobs"
	# Commits need not wait for the disk here: the swap's own commit makes all of it durable.
	PGOPTIONS='-c synchronous_commit=off' pg_restore --no-password --verbose --exit-on-error \
		--jobs="$BACKUP_JOBS" --no-tablespaces --dbname="$pgq_restore_tmp" -- "$pgq_restore_source/database" 2>&1 |
		pgq_restore_progress "$total" "$ids"
}

# Swaps the new database in: new connections to the current one are refused and existing ones
# ended, then both renames and the backup's database settings commit together.
pgq_restore_swap() {
	local live
	live=$(pgq_psql --tuples-only --no-align --set=db="$POSTGRES_DB" <<-'SQL'
		SELECT 1 FROM pg_database WHERE datname = :'db';
	SQL
	)
	if [[ -n $live ]]; then
		pgq_restore_closed=1
		pgq_psql --set=db="$POSTGRES_DB" >/dev/null <<-'SQL'
			ALTER DATABASE :"db" ALLOW_CONNECTIONS false;
			SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
			 WHERE datname = :'db' AND pid <> pg_backend_pid();
		SQL
	fi
	{
		[[ -z $live ]] || printf '%s\n' 'ALTER DATABASE :"db" RENAME TO :"saved";'
		printf '%s\n' 'ALTER DATABASE :"tmp" RENAME TO :"db";'
		printf '%s\n' "$pgq_restore_properties"
	} | pgq_psql --single-transaction --set=db="$POSTGRES_DB" --set=tmp="$pgq_restore_tmp" \
		--set=saved="$pgq_restore_saved" --file=- >/dev/null
	pgq_restore_created='' pgq_restore_closed=''
	[[ -n $live ]] || pgq_restore_saved=''
}

pgq_restore_on_exit() {
	local status=$?
	((status == 0)) && return 0
	if [[ -n ${pgq_restore_closed:-} ]]; then
		pgq_psql --set=db="$POSTGRES_DB" <<-'SQL' || true
			ALTER DATABASE :"db" ALLOW_CONNECTIONS true;
		SQL
	fi
	if [[ -n ${pgq_restore_created:-} ]]; then
		pgq_psql --set=tmp="$pgq_restore_tmp" <<-'SQL' || true
			DROP DATABASE IF EXISTS :"tmp" WITH (FORCE);
		SQL
	fi
	pgq_log "error: the restore failed (exit $status): the database $POSTGRES_DB was not changed"
}

pgq_restore_main() {
	local start=$EPOCHREALTIME kept
	case ${1:-} in
		-h | --help)
			sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
			return 0
			;;
	esac
	(($# <= 1)) || pgq_die "give one backup (a name, a path or --latest), not $#"
	pgq_backup_setup_env
	pgq_backup_lock
	pgq_restore_resolve "$@"
	pgq_restore_verify
	pgq_restore_check_server
	pgq_restore_names
	pgq_restore_read_database_sql
	trap pgq_restore_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	pgq_restore_drop_leftover
	if [[ $pgq_restore_kind == archive ]]; then
		pgq_restore_roles
	else
		pgq_log "$pgq_restore_source holds no roles (the spec's format): the roles stay as they are"
	fi
	pgq_restore_create_database
	pgq_restore_load
	pgq_restore_swap
	kept='there was no database by that name before'
	[[ -z $pgq_restore_saved ]] ||
		kept="the database as it was is kept as $pgq_restore_saved (connections refused; DROP DATABASE it once the restore is checked)"
	printf 'restore: restored %s into %s in %s s; %s\n' \
		"${pgq_restore_source##*/}" "$POSTGRES_DB" "$(pgq_elapsed "$start")" "$kept"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_restore_main "$@"
fi
