#!/usr/bin/env bash
# What backup.sh and restore.sh share: their settings, the lock that keeps them from running at
# the same time, and how a backup is named, found and checked.
#
# A backup is a directory <database>_<UTC time>, e.g. poststack_20260101T020000Z, holding
#   database/    pg_dump's directory format (pg_restore -j restores it in parallel)
#   roles.sql    pg_dumpall --globals-only: the roles, their attributes, passwords and grants
#   B2SUMS       BLAKE2 checksums of every file above (fast to check: a restore reads them all first)
# It is written as .tmp-<name> and renamed only once it is complete, synced and checked, so a
# directory with a backup's name is always a whole backup. Sourcing this file only defines
# functions; every path is an environment variable whose default is the container's.
set -Eeuo pipefail

# shellcheck source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

pgq_backup_pattern='^[a-z_][a-z0-9_]*_([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z$'

# Jobs for pg_dump and pg_restore: one per CPU, within what a small server's connections allow.
pgq_default_jobs() {
	local cpus
	cpus=$(nproc 2>/dev/null || echo 1)
	((cpus > 8)) && cpus=8
	echo "$cpus"
}

pgq_backup_setup_env() {
	pgq_setup_env
	POSTGRES_BACKUP_DIR="${POSTGRES_BACKUP_DIR:-/data/postgres/backups}"
	BACKUP_KEEP_DAYS="${BACKUP_KEEP_DAYS:-7}"
	BACKUP_KEEP_MIN="${BACKUP_KEEP_MIN:-3}"
	BACKUP_JOBS="${BACKUP_JOBS:-$(pgq_default_jobs)}"
	BACKUP_COMPRESS_LEVEL="${BACKUP_COMPRESS_LEVEL:-5}"
	BACKUP_LOCK_TIMEOUT="${BACKUP_LOCK_TIMEOUT:-3600}"
	pgq_check_begin
	pgq_check_path POSTGRES_BACKUP_DIR
	pgq_check_match BACKUP_KEEP_DAYS '^[0-9]{1,5}$' 'must be a whole number of days'
	pgq_check_match BACKUP_KEEP_MIN '^[1-9][0-9]{0,4}$' 'must be at least 1: the backup just made is always kept'
	pgq_check_match BACKUP_JOBS '^[1-9][0-9]?$' 'must be a number of parallel jobs from 1 to 99'
	pgq_check_match BACKUP_COMPRESS_LEVEL '^[0-9]$' 'must be a gzip level from 0 to 9'
	pgq_check_match BACKUP_LOCK_TIMEOUT '^[0-9]{1,6}$' 'must be a number of seconds'
	pgq_check_end
	# The superuser over the socket, by peer: no password exists, so none can leak.
	export PGHOST="$POSTGRES_SOCKET_DIR" PGPORT="$POSTGRES_PORT" PGUSER=postgres PGDATABASE=postgres
	unset PGPASSWORD PGOPTIONS PGSERVICE
}

# One backup or restore at a time: a second one waits, so two runs never write, expire or
# restore the same files at once. The lock goes with the process, however it ends.
pgq_backup_lock() {
	[[ -d $POSTGRES_BACKUP_DIR && -w $POSTGRES_BACKUP_DIR ]] ||
		pgq_die "the backup directory $POSTGRES_BACKUP_DIR is missing or not writable by $(id -un): is the backup volume mounted?"
	exec {pgq_lock_fd}>>"$POSTGRES_BACKUP_DIR/.lock"
	if ! flock --nonblock "$pgq_lock_fd"; then
		pgq_log "another backup or restore is running: waiting up to $BACKUP_LOCK_TIMEOUT s for it"
		flock --wait "$BACKUP_LOCK_TIMEOUT" "$pgq_lock_fd" ||
			pgq_die "another backup or restore still holds $POSTGRES_BACKUP_DIR/.lock after $BACKUP_LOCK_TIMEOUT s"
	fi
}

# Prints "epoch<TAB>bytes<TAB>name" for every complete backup, newest first. The time is the
# one in the name (when the backup started), which survives copying the files elsewhere.
pgq_backup_list() {
	local path name
	local -a names=() times=()
	for path in "$POSTGRES_BACKUP_DIR"/*; do
		name=${path##*/}
		[[ -d $path && $name =~ $pgq_backup_pattern ]] || continue
		names+=("$name")
		times+=("${BASH_REMATCH[1]}-${BASH_REMATCH[2]}-${BASH_REMATCH[3]} ${BASH_REMATCH[4]}:${BASH_REMATCH[5]}:${BASH_REMATCH[6]}")
	done
	((${#names[@]})) || return 0
	paste \
		<(printf '%s\n' "${times[@]}" | date --utc --file=- +%s) \
		<(pgq_backup_bytes "${names[@]}") \
		<(printf '%s\n' "${names[@]}") |
		LC_ALL=C sort -t $'\t' -k1,1nr -k3,3r
}

# The bytes of the files in each named backup, one line per name, in the order given.
pgq_backup_bytes() {
	(cd -- "$POSTGRES_BACKUP_DIR" && find "$@" -type f -printf '%H\t%s\n') |
		awk -F '\t' -v names="$(printf '%s\n' "$@")" '
			{ bytes[$1] += $2 }
			END { n = split(names, order, "\n"); for (i = 1; i <= n; i++) print bytes[order[i]] + 0 }
		'
}

# The path of a backup given as a name in the backup directory, or as a path.
pgq_backup_path() {
	local given=$1
	if [[ $given == */* ]]; then
		printf '%s\n' "$given"
	else
		printf '%s\n' "$POSTGRES_BACKUP_DIR/$given"
	fi
}

# Succeeds when the backup directory is whole and unchanged since it was written; otherwise
# says why on stderr. Reads every file once.
pgq_backup_verify() {
	local dir=$1 sums
	[[ -f $dir/B2SUMS ]] || {
		pgq_log "$dir has no B2SUMS: it is not a complete backup"
		return 1
	}
	sums=$(<"$dir/B2SUMS")
	[[ $sums == *'  database/toc.dat'* && $sums == *'  roles.sql'* ]] || {
		pgq_log "$dir/B2SUMS does not cover database/toc.dat and roles.sql"
		return 1
	}
	(cd -- "$dir" && b2sum --check --strict --quiet B2SUMS) >&2 || {
		pgq_log "$dir does not match its checksums: a file is missing, truncated or damaged"
		return 1
	}
	pgq_backup_readable "$dir"
}

# pg_restore can read the archive's table of contents, and the roles file was written to its end.
pgq_backup_readable() {
	local dir=$1
	pg_restore --list -- "$dir/database" >/dev/null || {
		pgq_log "pg_restore cannot read $dir/database"
		return 1
	}
	pgq_dump_is_complete "$dir/roles.sql" '-- PostgreSQL database cluster dump complete' || {
		pgq_log "$dir/roles.sql is incomplete"
		return 1
	}
}

# pg_dump and pg_dumpall end a finished SQL dump with a closing comment; a cut-off one lacks it.
pgq_dump_is_complete() {
	local file=$1 trailer=$2
	tail -n 5 -- "$file" | grep --quiet --line-regexp --fixed-strings -- "$trailer"
}
