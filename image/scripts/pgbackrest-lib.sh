#!/usr/bin/env bash
# pgBackRest as the image runs it: its settings, the configuration file written from them, the
# stanza, and the data directory moved aside for a restore. Sourced by entrypoint.sh (which writes
# the configuration at every start and creates the stanza) and by pgbackrest.sh (backup, restore,
# verification). Sourcing this file only defines functions; every path is an environment variable
# whose default is the container's. See docs/pgbackrest.md.
#
# The environment's names are pgBackRest's own (PGBACKREST_<OPTION>), which pgBackRest also reads
# by itself, so the value in the file and the one in the environment never disagree.
set -Eeuo pipefail

# shellcheck source=lib.sh
source "${BASH_SOURCE[0]%/*}/lib.sh"

# pgq_cpus CPU_MAX_FILE: the CPUs this container may use: its CPU set (nproc), and its CPU
# quota when it has one (podman --cpus sets a quota, which nproc does not see; cgroup v2's
# cpu.max holds "QUOTA PERIOD", or "max PERIOD" for none).
pgq_cpus() {
	local file=$1 cpus quota period
	cpus=$(nproc 2>/dev/null || echo 1)
	if [[ -r $file ]] && read -r quota period <"$file" &&
		[[ $quota =~ ^[0-9]+$ && $period =~ ^[1-9][0-9]*$ ]]; then
		quota=$(((quota + period - 1) / period))
		((quota >= 1 && quota < cpus)) && cpus=$quota
	fi
	echo "$cpus"
}

# Processes for a backup, a restore and asynchronous archiving: one per CPU, 1 to 4.
pgq_pgbackrest_default_processes() {
	local cpus
	cpus=$(pgq_cpus /sys/fs/cgroup/cpu.max)
	((cpus < 1)) && cpus=1
	((cpus > 4)) && cpus=4
	echo "$cpus"
}

# pgq_check_range NAME MIN MAX: the variable NAME is a whole number from MIN to MAX.
pgq_check_range() {
	local name=$1 min=$2 max=$3 value number
	value=${!name}
	if [[ $value =~ ^(-?)([0-9]{1,3})$ ]]; then
		number=$((10#${BASH_REMATCH[2]}))
		[[ -z ${BASH_REMATCH[1]} ]] || number=$((-number))
		((number >= min && number <= max)) && return 0
	fi
	pgq_problem "$name='$value' must be a whole number from $min to $max"
}

# The settings, with their defaults, checked; no file is touched. Needs pgq_setup_env first.
pgq_pgbackrest_setup_env() {
	POSTGRES_BACKUP_DIR="${POSTGRES_BACKUP_DIR:-/data/postgres/backups}"
	BACKUP_KEEP_DAYS="${BACKUP_KEEP_DAYS:-7}"
	POSTGRES_ARCHIVE_TIMEOUT="${POSTGRES_ARCHIVE_TIMEOUT:-60}"
	PGBACKREST_STANZA="${PGBACKREST_STANZA:-main}"
	PGBACKREST_REPO1_PATH="${PGBACKREST_REPO1_PATH:-$POSTGRES_BACKUP_DIR/pgbackrest}"
	# On the data volume, beside PGDATA, not on the tmpfs: its status files follow pg_wal across
	# restarts, and the WAL a recovery fetches ahead (up to 128 MB) would take memory there.
	PGBACKREST_SPOOL_PATH="${PGBACKREST_SPOOL_PATH:-${PGDATA%/*}/pgbackrest-spool}"
	PGBACKREST_PROCESS_MAX="${PGBACKREST_PROCESS_MAX:-$(pgq_pgbackrest_default_processes)}"
	PGBACKREST_COMPRESS_TYPE="${PGBACKREST_COMPRESS_TYPE:-zst}"
	PGBACKREST_COMPRESS_LEVEL="${PGBACKREST_COMPRESS_LEVEL:-3}"
	# Private, on the container's tmpfs: written anew at every start (the root is read-only).
	pgq_pgbackrest_dir="$POSTGRES_SOCKET_DIR/pgbackrest"
	export PGBACKREST_CONFIG="$pgq_pgbackrest_dir/pgbackrest.conf"
	pgq_pgbackrest_lock_path="$pgq_pgbackrest_dir/lock"
	pgq_check_begin
	pgq_check_path POSTGRES_BACKUP_DIR PGBACKREST_REPO1_PATH PGBACKREST_SPOOL_PATH
	# The configuration's path is part of archive_command, which a shell runs.
	pgq_check_match POSTGRES_SOCKET_DIR '^/[A-Za-z0-9._/+-]*$' \
		'must be a path of letters, digits and . _ / + - only (archive_command names a file in it)'
	pgq_check_match PGBACKREST_STANZA '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' \
		'must be 1-64 characters of A-Z, a-z, 0-9, _ and -, starting with a letter or digit'
	pgq_check_match BACKUP_KEEP_DAYS '^[0-9]{1,5}$' 'must be a whole number of days'
	pgq_check_match POSTGRES_ARCHIVE_TIMEOUT '^[0-9]{1,5}$' \
		'must be a whole number of seconds (0 turns the time limit off)'
	pgq_check_match PGBACKREST_PROCESS_MAX '^[1-9][0-9]?$' 'must be a number of processes from 1 to 99'
	case $PGBACKREST_COMPRESS_TYPE in
		zst) pgq_check_range PGBACKREST_COMPRESS_LEVEL -7 22 ;;
		lz4) pgq_check_range PGBACKREST_COMPRESS_LEVEL -5 12 ;;
		gz) pgq_check_range PGBACKREST_COMPRESS_LEVEL -1 9 ;;
		bz2) pgq_check_range PGBACKREST_COMPRESS_LEVEL 1 9 ;;
		none) ;;
		*) pgq_problem "PGBACKREST_COMPRESS_TYPE='$PGBACKREST_COMPRESS_TYPE' must be zst, lz4, gz, bz2 or none" ;;
	esac
	pgq_check_end
}

# What the server runs for each finished WAL segment.
pgq_pgbackrest_archive_command() {
	printf 'pgbackrest --config=%s --stanza=%s archive-push %%p\n' "$PGBACKREST_CONFIG" "$PGBACKREST_STANZA"
}

# What a restored server runs to fetch WAL: named in the restored postgresql.auto.conf, so the
# configuration must be at the same path when that server starts (it is: the same environment
# writes it at every start).
pgq_pgbackrest_restore_command() {
	printf 'pgbackrest --config=%s --stanza=%s archive-get %%f "%%p"\n' "$PGBACKREST_CONFIG" "$PGBACKREST_STANZA"
}

# Full backups are kept for BACKUP_KEEP_DAYS, so that point-in-time recovery reaches back that far:
# pgBackRest keeps the newest full backup older than that and everything after it, and never
# expires the only full backup. With 0 days, only the newest full backup (and what depends on it).
pgq_pgbackrest_retention() {
	if ((10#$BACKUP_KEEP_DAYS == 0)); then
		printf 'repo1-retention-full-type=count\nrepo1-retention-full=1\n'
	else
		printf 'repo1-retention-full-type=time\nrepo1-retention-full=%d\n' "$((10#$BACKUP_KEEP_DAYS))"
	fi
}

# The configuration file's text. Console output: info for the commands people run; archive-push
# and archive-get (one per WAL segment, in the server's log) say only what went wrong.
# Warnings and errors go to stderr, so a failing archive_command shows in the server's log.
pgq_pgbackrest_config_text() {
	cat <<-EOF
		# Written by pg-quadlet's scripts from the environment at every start: edits are lost.
		# See docs/pgbackrest.md.
		[global]
		repo1-path=$PGBACKREST_REPO1_PATH
		repo1-bundle=y
		$(pgq_pgbackrest_retention)
		compress-type=$PGBACKREST_COMPRESS_TYPE
		compress-level=$PGBACKREST_COMPRESS_LEVEL
		process-max=$PGBACKREST_PROCESS_MAX
		start-fast=y
		archive-async=y
		spool-path=$PGBACKREST_SPOOL_PATH
		lock-path=$pgq_pgbackrest_lock_path
		log-level-console=info
		log-level-stderr=warn
		log-level-file=off

		[global:archive-push]
		log-level-console=warn

		[global:archive-get]
		log-level-console=warn

		[$PGBACKREST_STANZA]
		pg1-path=$PGDATA
		pg1-socket-path=$POSTGRES_SOCKET_DIR
		pg1-port=$POSTGRES_PORT
		pg1-user=postgres
	EOF
}

# Writes the configuration into the private directory (made with the lock directory if missing).
# Safe while other scripts read the file: it is replaced whole, under a name of its own until then.
pgq_pgbackrest_write_config() {
	local text tmp
	install -d -m 0700 -- "$pgq_pgbackrest_dir" "$pgq_pgbackrest_lock_path" ||
		pgq_die "cannot create $pgq_pgbackrest_dir for pgBackRest's configuration and locks as $(id -un)"
	text=$(pgq_pgbackrest_config_text)
	if [[ -r $PGBACKREST_CONFIG && $(<"$PGBACKREST_CONFIG") == "$text" ]]; then
		return 0
	fi
	tmp=$(mktemp -- "$PGBACKREST_CONFIG.XXXXXX")
	printf '%s\n' "$text" >"$tmp"
	mv -f -- "$tmp" "$PGBACKREST_CONFIG"
}

# What archiving needs on the volumes (the entrypoint's part): the spool directory on the data
# volume and the repository in the backup volume. The backup volume itself is never made here, so
# a missing mount is an error instead of backups written into the container.
pgq_pgbackrest_prepare_volumes() {
	local repo=$PGBACKREST_REPO1_PATH
	if ! install -d -m 0700 -- "$PGBACKREST_SPOOL_PATH" 2>/dev/null || [[ ! -w $PGBACKREST_SPOOL_PATH ]]; then
		pgq_die --status "$PGQ_EXIT_CONFIG" "cannot create or write PGBACKREST_SPOOL_PATH=$PGBACKREST_SPOOL_PATH as $(id -un): it holds the WAL waiting to be archived, and must be on a writable volume"
	fi
	if [[ ! -d $repo ]]; then
		[[ -d ${repo%/*} ]] ||
			pgq_die --status "$PGQ_EXIT_CONFIG" "the pgBackRest repository's parent ${repo%/*} is missing: is the backup volume mounted?"
		mkdir -m 0750 -- "$repo" 2>/dev/null ||
			pgq_die --status "$PGQ_EXIT_CONFIG" "cannot create the pgBackRest repository $repo as $(id -un): the backup volume must be writable by it"
	fi
	[[ -w $repo ]] ||
		pgq_die --status "$PGQ_EXIT_CONFIG" "the pgBackRest repository $repo is not writable by $(id -un)"
}

# pgBackRest with the configuration, saying only what goes wrong (for the entrypoint's log).
pgq_pgbackrest_quiet() {
	pgbackrest --config="$PGBACKREST_CONFIG" --stanza="$PGBACKREST_STANZA" --log-level-console=warn "$@"
}

# pgBackRest with the configuration, its output on stderr (standard output is the scripts' own).
pgq_pgbackrest() {
	pgbackrest --config="$PGBACKREST_CONFIG" --stanza="$PGBACKREST_STANZA" "$@" >&2
}

# Whether the repository lacks the stanza (a new, emptied or replaced backup volume). The
# repository is a directory, so its info files tell, without asking the server.
pgq_pgbackrest_stanza_missing() {
	local info="$PGBACKREST_REPO1_PATH/archive/$PGBACKREST_STANZA/archive.info"
	[[ ! -e $info && ! -e $info.copy ]]
}

# The database system identifier the repository's stanza was made for, if it has one.
pgq_pgbackrest_repo_system_id() {
	local line file="$PGBACKREST_REPO1_PATH/archive/$PGBACKREST_STANZA/archive.info"
	[[ -r $file ]] || return 0
	while IFS= read -r line; do
		if [[ $line =~ ^db-system-id=([0-9]+)$ ]]; then
			echo "${BASH_REMATCH[1]}"
			return 0
		fi
	done <"$file"
}

# The cluster's database system identifier (pg_control), which pgBackRest ties a stanza to.
pgq_system_id() {
	LC_ALL=C pg_controldata -- "$PGDATA" 2>/dev/null | sed -n 's/^Database system identifier: *//p' || true
}

# Creates the stanza (or checks the one there matches this cluster); needs the server running.
# Safe to repeat. A repository that holds another cluster's stanza can never take this cluster's
# WAL: the start stops with the ways out, and the unit does not restart on it. The one exception
# is a stanza made for the cluster of a first start that failed and was discarded
# (pgq_pgbackrest_discarded_system_id): no one ever used it, so the stanza moves to this one
# (stanza-upgrade, which keeps what the repository holds).
pgq_pgbackrest_stanza_create() {
	local output status theirs ours
	pgq_pgbackrest_stanza_command stanza-create
	if ((status != 0)) && [[ $output == *'[028]'* ]]; then
		theirs=$(pgq_pgbackrest_repo_system_id)
		if [[ -n $theirs && $theirs == "${pgq_pgbackrest_discarded_system_id:-}" ]]; then
			pgq_log "the repository's stanza '$PGBACKREST_STANZA' was made for the cluster of a first start that did not finish (system identifier $theirs), now discarded: moving the stanza to this cluster"
			pgq_pgbackrest_stanza_command stanza-upgrade
		fi
	fi
	if ((status == 0)); then
		pgq_pgbackrest_stanza_ready=1
		pgq_log "pgBackRest stanza '$PGBACKREST_STANZA' is ready in $PGBACKREST_REPO1_PATH: WAL is archived there"
		return 0
	fi
	printf '%s\n' "$output" >&2
	if [[ $output == *'[028]'* ]]; then
		ours=$(pgq_system_id)
		pgq_die --status "$PGQ_EXIT_CONFIG" "the pgBackRest repository $PGBACKREST_REPO1_PATH holds stanza '$PGBACKREST_STANZA' of another cluster (system identifier ${theirs:-?}; this one is ${ours:-?}), so this cluster's WAL cannot be archived there. If the data volume was replaced or emptied and the backups hold the data, restore them (pgbackrest.sh restore, with the server stopped; docs/pgbackrest.md); to start afresh instead, move the repository aside on the backup volume, or set PGBACKREST_STANZA to a new name"
	fi
	pgq_die --status "$PGQ_EXIT_CONFIG" "pgBackRest could not create the stanza '$PGBACKREST_STANZA' in $PGBACKREST_REPO1_PATH (exit $status, its error is above): WAL cannot be archived"
}

# pgq_pgbackrest_stanza_command COMMAND: sets output and status (the caller's locals). The
# stanza commands take the archive lock, which an archive-push running in the background holds
# for a moment (after a promotion, say): that error [050] is waited out, for up to 30 s.
pgq_pgbackrest_stanza_command() {
	local tries=60
	while :; do
		status=0
		output=$(pgq_pgbackrest_quiet "$1" 2>&1) || status=$?
		((status == 50 && --tries > 0)) || return 0
		sleep 0.5
	done
}

# The setup step (entrypoint.sh) for a cluster made by an image without pgBackRest; the first
# start has created the stanza already, before the database was made.
pgq_pgbackrest_stanza_step() {
	[[ -n ${pgq_pgbackrest_stanza_ready:-} ]] || pgq_pgbackrest_stanza_create
}

# The data directory moved aside, on its volume (a rename, instantly, whatever its size), and
# back. A restore needs PGDATA absent or empty; the server must be stopped (there is no reliable
# check from another container: its postmaster.pid is what is refused).
pgq_pgdata_move_aside() {
	local aside
	[[ -e $PGDATA ]] || pgq_die "there is no $PGDATA to move aside"
	[[ ! -e $PGDATA/postmaster.pid ]] ||
		pgq_die "$PGDATA/postmaster.pid exists: stop the server first. If it was killed, start and stop it once (it then removes the file), or remove the file when sure no server uses this directory"
	aside="$PGDATA.before-restore-$(date --utc +%Y%m%dT%H%M%SZ)"
	[[ ! -e $aside ]] || pgq_die "$aside exists already: wait a second and try again"
	mv --no-target-directory -- "$PGDATA" "$aside"
	sync -- "${PGDATA%/*}"
	pgq_log "moved $PGDATA aside to $aside"
	printf '%s\n' "$aside"
}

# pgq_pgdata_put_back ASIDE: a data directory moved aside becomes PGDATA again. Refused while
# PGDATA holds anything (a restored cluster, say): move that aside first.
pgq_pgdata_put_back() {
	local aside=$1
	[[ $aside == "$PGDATA".before-restore-* && $aside != */../* && -d $aside ]] ||
		pgq_die "'$aside' is not a data directory moved aside ($PGDATA.before-restore-<time>)"
	pgq_pgdata_is_empty ||
		pgq_die "$PGDATA is not empty: move it aside first (pgbackrest.sh set-aside), then put $aside back"
	[[ ! -e $PGDATA ]] || rmdir -- "$PGDATA"
	mv --no-target-directory -- "$aside" "$PGDATA"
	sync -- "${PGDATA%/*}"
	pgq_log "put $aside back as $PGDATA"
}

pgq_pgdata_is_empty() {
	[[ ! -e $PGDATA ]] && return 0
	[[ -d $PGDATA && -z $(find "$PGDATA" -mindepth 1 -maxdepth 1 -print -quit) ]]
}
