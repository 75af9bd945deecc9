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
	POSTGRES_BACKUP_ENCRYPT="${POSTGRES_BACKUP_ENCRYPT:-none}"
	POSTGRES_BACKUP_PASSPHRASE_FILE="${POSTGRES_BACKUP_PASSPHRASE_FILE:-/run/secrets/backup-passphrase}"
	PGBACKREST_REPO2_TYPE="${PGBACKREST_REPO2_TYPE:-}"
	pgq_pgbackrest_repos=(1)
	if [[ -n $PGBACKREST_REPO2_TYPE ]]; then
		pgq_pgbackrest_repos+=(2)
		PGBACKREST_REPO2_PATH="${PGBACKREST_REPO2_PATH:-/pgbackrest}"
		PGBACKREST_REPO2_S3_URI_STYLE="${PGBACKREST_REPO2_S3_URI_STYLE:-host}"
		POSTGRES_BACKUP_S3_KEYS_FILE="${POSTGRES_BACKUP_S3_KEYS_FILE:-/run/secrets/backup-s3-keys}"
	fi
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
	pgq_check_match POSTGRES_BACKUP_ENCRYPT '^(none|aes-256-cbc)$' 'must be aes-256-cbc or none'
	[[ $POSTGRES_BACKUP_ENCRYPT == none ]] || pgq_check_path POSTGRES_BACKUP_PASSPHRASE_FILE
	[[ -z $PGBACKREST_REPO2_TYPE ]] || pgq_pgbackrest_check_s3
	pgq_check_end
}

# The off-host repository (repo2), when PGBACKREST_REPO2_TYPE is set: S3 or an S3-compatible
# store. Values reach a configuration file whose lines end at a newline, so none may hold one.
pgq_pgbackrest_check_s3() {
	local name
	pgq_check_match PGBACKREST_REPO2_TYPE '^s3$' 'must be s3 (the off-host repository), or unset'
	for name in PGBACKREST_REPO2_S3_ENDPOINT PGBACKREST_REPO2_S3_BUCKET PGBACKREST_REPO2_S3_REGION; do
		pgq_check_match "$name" '^[A-Za-z0-9][A-Za-z0-9._:-]*$' 'is needed for the S3 repository: a host name, bucket or region (letters, digits, . _ : -)'
	done
	pgq_check_match PGBACKREST_REPO2_PATH '^/[A-Za-z0-9._/+-]*$' 'must be an absolute path in the bucket, of letters, digits and . _ / + -'
	pgq_check_match PGBACKREST_REPO2_S3_URI_STYLE '^(host|path)$' 'must be host (bucket.endpoint) or path (endpoint/bucket)'
	pgq_check_path POSTGRES_BACKUP_S3_KEYS_FILE
	[[ -z ${PGBACKREST_REPO2_STORAGE_HOST:-} ]] ||
		pgq_check_match PGBACKREST_REPO2_STORAGE_HOST '^[A-Za-z0-9][A-Za-z0-9.:-]*$' 'must be a host name or address'
	[[ -z ${PGBACKREST_REPO2_STORAGE_PORT:-} ]] ||
		pgq_check_match PGBACKREST_REPO2_STORAGE_PORT '^[1-9][0-9]{0,4}$' 'must be a port number'
	[[ -z ${PGBACKREST_REPO2_STORAGE_CA_FILE:-} ]] || pgq_check_path PGBACKREST_REPO2_STORAGE_CA_FILE
}

# What the server runs for each finished WAL segment: archive-push.sh, beside this file, which
# chooses pgBackRest's mode. Its path is absolute (the server runs it from PGDATA) and goes into a
# quoted setting that a shell runs: letters, digits and . _ / + - only, as the configuration's.
pgq_pgbackrest_archive_command() {
	local dir=${BASH_SOURCE[0]%/*}
	[[ $dir == /* ]] || dir=$PWD/$dir
	[[ $dir =~ ^/[A-Za-z0-9._/+-]*$ ]] ||
		pgq_die "the image's scripts are in $dir: archive_command needs a path of letters, digits and . _ / + - only"
	printf '%s/archive-push.sh %s %s %%p\n' "$dir" "$PGBACKREST_CONFIG" "$PGBACKREST_STANZA"
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
# pgq_pgbackrest_retention REPO
pgq_pgbackrest_retention() {
	if ((10#$BACKUP_KEEP_DAYS == 0)); then
		printf 'repo%d-retention-full-type=count\nrepo%d-retention-full=1\n' "$1" "$1"
	else
		printf 'repo%d-retention-full-type=time\nrepo%d-retention-full=%d\n' "$1" "$1" "$((10#$BACKUP_KEEP_DAYS))"
	fi
}

# pgq_pgbackrest_secret_line FILE WHAT: the first line of a secret file (a Podman secret), which
# must hold one. Its value reaches only the configuration file, never an argument.
pgq_pgbackrest_secret_line() {
	local file=$1 what=$2 line=''
	[[ -r $file ]] || pgq_die --status "$PGQ_EXIT_CONFIG" "cannot read $what from $file as $(id -un): is the Podman secret there?"
	IFS= read -r line <"$file" || true
	[[ -n $line && $line != *[[:cntrl:]]* ]] ||
		pgq_die --status "$PGQ_EXIT_CONFIG" "$file must hold $what on its first line"
	printf '%s' "$line"
}

# Reads the secrets the configuration needs into pgq_pgbackrest_cipher_pass, pgq_pgbackrest_s3_key
# and pgq_pgbackrest_s3_key_secret. The S3 keys file holds the access key ID on its first line and
# the secret access key on its second.
pgq_pgbackrest_read_secrets() {
	local key='' secret=''
	pgq_pgbackrest_cipher_pass=''
	[[ $POSTGRES_BACKUP_ENCRYPT == none ]] ||
		pgq_pgbackrest_cipher_pass=$(pgq_pgbackrest_secret_line "$POSTGRES_BACKUP_PASSPHRASE_FILE" 'the backup passphrase')
	[[ -n $PGBACKREST_REPO2_TYPE ]] || return 0
	[[ -r $POSTGRES_BACKUP_S3_KEYS_FILE ]] ||
		pgq_die --status "$PGQ_EXIT_CONFIG" "cannot read the S3 keys from $POSTGRES_BACKUP_S3_KEYS_FILE as $(id -un): is the Podman secret there?"
	{ IFS= read -r key && IFS= read -r secret; } <"$POSTGRES_BACKUP_S3_KEYS_FILE" || true
	[[ $key =~ ^[^[:space:][:cntrl:]]+$ && $secret =~ ^[^[:space:][:cntrl:]]+$ ]] ||
		pgq_die --status "$PGQ_EXIT_CONFIG" "$POSTGRES_BACKUP_S3_KEYS_FILE must hold the S3 access key ID on its first line and the secret access key on its second"
	pgq_pgbackrest_s3_key=$key
	pgq_pgbackrest_s3_key_secret=$secret
}

# pgq_pgbackrest_repo_text REPO: one repository's lines.
pgq_pgbackrest_repo_text() {
	local repo=$1
	if ((repo == 1)); then
		printf 'repo1-path=%s\n' "$PGBACKREST_REPO1_PATH"
	else
		printf '%s\n' "repo2-type=s3" "repo2-path=$PGBACKREST_REPO2_PATH" \
			"repo2-s3-endpoint=$PGBACKREST_REPO2_S3_ENDPOINT" "repo2-s3-bucket=$PGBACKREST_REPO2_S3_BUCKET" \
			"repo2-s3-region=$PGBACKREST_REPO2_S3_REGION" "repo2-s3-uri-style=$PGBACKREST_REPO2_S3_URI_STYLE" \
			"repo2-s3-key=$pgq_pgbackrest_s3_key" "repo2-s3-key-secret=$pgq_pgbackrest_s3_key_secret"
		[[ -z ${PGBACKREST_REPO2_STORAGE_HOST:-} ]] || printf 'repo2-storage-host=%s\n' "$PGBACKREST_REPO2_STORAGE_HOST"
		[[ -z ${PGBACKREST_REPO2_STORAGE_PORT:-} ]] || printf 'repo2-storage-port=%s\n' "$PGBACKREST_REPO2_STORAGE_PORT"
		[[ -z ${PGBACKREST_REPO2_STORAGE_CA_FILE:-} ]] || printf 'repo2-storage-ca-file=%s\n' "$PGBACKREST_REPO2_STORAGE_CA_FILE"
	fi
	printf 'repo%d-bundle=y\n' "$repo"
	pgq_pgbackrest_retention "$repo"
	[[ $POSTGRES_BACKUP_ENCRYPT == none ]] ||
		printf 'repo%d-cipher-type=%s\nrepo%d-cipher-pass=%s\n' "$repo" "$POSTGRES_BACKUP_ENCRYPT" "$repo" "$pgq_pgbackrest_cipher_pass"
}

# The configuration file's text. Console output: info for the commands people run; archive-push
# and archive-get (one per WAL segment, in the server's log) say only what went wrong.
# archive-get is synchronous: replay, not fetching, bounds a long recovery (500 MB of WAL took as
# long either way), and each asynchronous lookup of the segment after the last costs about 0.4 s,
# a second of every restore's start. PGBACKREST_ARCHIVE_ASYNC=y in the environment turns it back on.
# Warnings and errors go to stderr, so a failing archive_command shows in the server's log.
pgq_pgbackrest_config_text() {
	local text
	# read, not cat: a builtin, no process.
	IFS= read -r -d '' text <<-EOF || true
		# Written by pg-quadlet's scripts from the environment at every start: edits are lost.
		# See docs/pgbackrest.md.
		[global]
		$(for repo in "${pgq_pgbackrest_repos[@]}"; do pgq_pgbackrest_repo_text "$repo"; done)
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
		archive-async=n

		[$PGBACKREST_STANZA]
		pg1-path=$PGDATA
		pg1-socket-path=$POSTGRES_SOCKET_DIR
		pg1-port=$POSTGRES_PORT
		pg1-user=postgres
	EOF
	printf '%s' "$text"
}

# Writes the configuration into the private directory (made with the lock directory if missing).
# Safe while other scripts read the file: it is replaced whole, under a name of its own until then.
pgq_pgbackrest_write_config() {
	local text tmp
	install -d -m 0700 -- "$pgq_pgbackrest_dir" "$pgq_pgbackrest_lock_path" ||
		pgq_die "cannot create $pgq_pgbackrest_dir for pgBackRest's configuration and locks as $(id -un)"
	pgq_pgbackrest_read_secrets
	text=$(pgq_pgbackrest_config_text)
	if [[ -r $PGBACKREST_CONFIG && $(<"$PGBACKREST_CONFIG") == "$text" ]]; then
		return 0
	fi
	# A name of this process's own in the private directory (pgbackrest.sh may write it meanwhile).
	tmp="$PGBACKREST_CONFIG.$$"
	(umask 077 && printf '%s\n' "$text" >"$tmp")
	mv -f -- "$tmp" "$PGBACKREST_CONFIG"
}

# What archiving needs on the volumes (the entrypoint's part): the spool directory on the data
# volume and the repository in the backup volume. The backup volume itself is never made here, so
# a missing mount is an error instead of backups written into the container.
pgq_pgbackrest_prepare_volumes() {
	local repo=$PGBACKREST_REPO1_PATH
	# Made by the first start: later ones find it, without a process to make it.
	[[ -d $PGBACKREST_SPOOL_PATH ]] || install -d -m 0700 -- "$PGBACKREST_SPOOL_PATH" 2>/dev/null || true
	if [[ ! -d $PGBACKREST_SPOOL_PATH || ! -w $PGBACKREST_SPOOL_PATH ]]; then
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

# The repositories, as a log line names them.
pgq_pgbackrest_repo_names() {
	if [[ -n $PGBACKREST_REPO2_TYPE ]]; then
		printf '%s and %s' "$PGBACKREST_REPO1_PATH" "$(pgq_pgbackrest_repo2_id)"
	else
		printf '%s' "$PGBACKREST_REPO1_PATH"
	fi
}

pgq_pgbackrest_repo2_id() {
	printf 's3://%s/%s%s' "$PGBACKREST_REPO2_S3_ENDPOINT" "$PGBACKREST_REPO2_S3_BUCKET" "$PGBACKREST_REPO2_PATH"
}

# The off-host repository whose stanza this cluster made is recorded on the data volume, so a start
# asks the network only when it changed (a repository added, moved, or never reached yet).
pgq_pgbackrest_repo2_marker() {
	printf '%s/repo2-stanza' "$PGBACKREST_SPOOL_PATH"
}

pgq_pgbackrest_repo2_pending() {
	local recorded=''
	[[ -n $PGBACKREST_REPO2_TYPE ]] || return 1
	[[ ! -r $(pgq_pgbackrest_repo2_marker) ]] || IFS= read -r recorded <"$(pgq_pgbackrest_repo2_marker)" || true
	[[ $recorded != "$(pgq_pgbackrest_repo2_id) $PGBACKREST_STANZA" ]]
}

pgq_pgbackrest_record_repo2() {
	[[ -n $PGBACKREST_REPO2_TYPE ]] || return 0
	printf '%s %s\n' "$(pgq_pgbackrest_repo2_id)" "$PGBACKREST_STANZA" >"$(pgq_pgbackrest_repo2_marker)"
}

# An encrypted repository's info files are OpenSSL's format ("Salted__" first); pgBackRest cannot
# change a repository's encryption, so a setting that disagrees with what is there stops the start
# with the way out, instead of an archiver that fails on every segment.
pgq_pgbackrest_check_cipher() {
	local info="$PGBACKREST_REPO1_PATH/archive/$PGBACKREST_STANZA/archive.info" head=''
	[[ -r $info ]] || return 0
	read -r -N 8 head <"$info" || true
	if [[ $head == Salted__ && $POSTGRES_BACKUP_ENCRYPT == none ]]; then
		pgq_die --status "$PGQ_EXIT_CONFIG" "the pgBackRest repository $PGBACKREST_REPO1_PATH is encrypted, and POSTGRES_BACKUP_ENCRYPT is none: set it to aes-256-cbc with the repository's passphrase (backup.encrypt)"
	elif [[ $head != Salted__ && $POSTGRES_BACKUP_ENCRYPT != none ]]; then
		pgq_die --status "$PGQ_EXIT_CONFIG" "the pgBackRest repository $PGBACKREST_REPO1_PATH was made without encryption, and pgBackRest cannot encrypt a repository that holds backups: turn encryption off again (backup.encrypt), or move the repository aside on the backup volume so that the next start makes an encrypted one (then take a full backup)"
	fi
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
# Options go to pgBackRest, for the upgrade too (entrypoint.sh passes --no-online for a new
# cluster and for one still in recovery: pgBackRest then reads pg_control instead of the server).
# shellcheck disable=SC2120 # pgbackrest.sh, which also sources this file, passes none
pgq_pgbackrest_stanza_create() {
	local output status theirs ours
	pgq_pgbackrest_stanza_command stanza-create "$@"
	if ((status != 0)) && [[ $output == *'[028]'* ]]; then
		theirs=$(pgq_pgbackrest_repo_system_id)
		if [[ -n $theirs && $theirs == "${pgq_pgbackrest_discarded_system_id:-}" ]]; then
			pgq_log "the repository's stanza '$PGBACKREST_STANZA' was made for the cluster of a first start that did not finish (system identifier $theirs), now discarded: moving the stanza to this cluster"
			pgq_pgbackrest_stanza_command stanza-upgrade "$@"
		fi
	fi
	if ((status == 0)); then
		pgq_pgbackrest_stanza_ready=1
		pgq_log "pgBackRest stanza '$PGBACKREST_STANZA' is ready in $(pgq_pgbackrest_repo_names): WAL is archived there"
		pgq_pgbackrest_record_repo2
		return 0
	fi
	printf '%s\n' "$output" >&2
	ours=$(pgq_system_id)
	if [[ $output == *'[028]'* && -n $PGBACKREST_REPO2_TYPE && $(pgq_pgbackrest_repo_system_id) == "$ours" ]]; then
		pgq_die --status "$PGQ_EXIT_CONFIG" "the off-host repository $(pgq_pgbackrest_repo2_id) holds stanza '$PGBACKREST_STANZA' of another cluster, so this cluster's WAL cannot be archived there. If this host lost its volumes, restore from it (pg-quadlet restore --repo 2; docs/runbook.md); if two services share the path, give each its own PGBACKREST_REPO2_PATH"
	fi
	if [[ $output != *'[028]'* && -n $PGBACKREST_REPO2_TYPE ]] && ! pgq_pgbackrest_stanza_missing; then
		# The local repository is ready: the server runs and archives there, and the WAL the
		# off-host one has not taken waits in pg_wal (status reports the failing archiver).
		pgq_pgbackrest_stanza_ready=1
		pgq_log "WARNING: the off-host repository $(pgq_pgbackrest_repo2_id) cannot be reached or refused the stanza (pgBackRest's error is above): WAL is archived into $PGBACKREST_REPO1_PATH, and kept in pg_wal for the off-host repository until it works; the next start tries again"
		return 0
	fi
	if [[ $output == *'[028]'* ]]; then
		pgq_die --status "$PGQ_EXIT_CONFIG" "the pgBackRest repository $PGBACKREST_REPO1_PATH holds stanza '$PGBACKREST_STANZA' of another cluster (system identifier ${theirs:-?}; this one is ${ours:-?}), so this cluster's WAL cannot be archived there. If the data volume was replaced or emptied and the backups hold the data, restore them (pgbackrest.sh restore, with the server stopped; docs/pgbackrest.md); to start afresh instead, move the repository aside on the backup volume, or set PGBACKREST_STANZA to a new name"
	fi
	pgq_die --status "$PGQ_EXIT_CONFIG" "pgBackRest could not create the stanza '$PGBACKREST_STANZA' in $PGBACKREST_REPO1_PATH (exit $status, its error is above): WAL cannot be archived"
}

# pgq_pgbackrest_stanza_command COMMAND [OPTION...]: sets output and status (the caller's locals). The
# stanza commands take the archive lock, which an archive-push running in the background holds
# for a moment (after a promotion, say): that error [050] is waited out, for up to 30 s.
pgq_pgbackrest_stanza_command() {
	local tries=60
	while :; do
		status=0
		output=$(pgq_pgbackrest_quiet "$@" 2>&1) || status=$?
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
# `--stopped`: the caller has stopped the service (systemctl stop returned), so a postmaster.pid
# left there is a killed server's; the directory is only renamed, never changed.
pgq_pgdata_move_aside() {
	local aside
	[[ -e $PGDATA ]] || pgq_die "there is no $PGDATA to move aside"
	[[ ! -e $PGDATA/postmaster.pid || ${1:-} == --stopped ]] ||
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
