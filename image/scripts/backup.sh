#!/usr/bin/env bash
# Backs up the database and the roles into the backup volume, then removes expired backups.
# Run by the backup service (podman exec <container> backup.sh) as the OS user postgres.
#
#   backup.sh        take a backup; on success print one line: name, size, duration, expiry
#   backup.sh list   print "epoch<TAB>bytes<TAB>name" per complete backup, newest first
#
# Any failure exits non-zero, so the service fails where systemctl and `pg-quadlet status` show
# it; a failed run leaves no backup-named directory and removes nothing. See backup-lib.sh for
# the layout and docs/backup-restore.md for the choices behind it.
set -Eeuo pipefail

pgq_tool=backup
# shellcheck source=backup-lib.sh
source "${BASH_SOURCE[0]%/*}/backup-lib.sh"

# What a killed backup (.tmp-*) or an interrupted expiry (.del-*) left never looks like a backup;
# under the lock nothing else is writing them, so they can go.
pgq_backup_sweep() {
	local path
	for path in "$POSTGRES_BACKUP_DIR"/.tmp-* "$POSTGRES_BACKUP_DIR"/.del-*; do
		[[ -e $path ]] || continue
		pgq_log "removing $path, left by an interrupted run"
		rm -rf -- "$path"
	done
}

# A new name, distinct from every existing backup's even when runs follow within a second.
pgq_backup_new_name() {
	local name
	while :; do
		name="${POSTGRES_DB}_$(date --utc +%Y%m%dT%H%M%SZ)"
		[[ -e $POSTGRES_BACKUP_DIR/$name ]] || break
		sleep 1
	done
	printf '%s\n' "$name"
}

pgq_backup_dump() {
	local dir=$1
	pg_dump --no-password --format=directory --jobs="$BACKUP_JOBS" --compress="$BACKUP_COMPRESS_LEVEL" \
		--file="$dir/database" --dbname="$POSTGRES_DB"
	pg_dumpall --no-password --globals-only --no-tablespaces --file="$dir/roles.sql"
}

pgq_backup_seal() {
	local dir=$1 sums
	pgq_backup_readable "$dir" || pgq_die "the backup just written in $dir does not check out"
	sums=$(cd -- "$dir" && find database roles.sql -type f -print0 | LC_ALL=C sort -z | xargs -0 b2sum --)
	printf '%s\n' "$sums" >"$dir/B2SUMS"
	# pg_dump syncs its own files; this covers the rest, and every directory entry.
	find "$dir" -print0 | xargs -0 sync --
}

# Keeps the newest BACKUP_KEEP_MIN backups whatever their age, and every backup younger than
# BACKUP_KEEP_DAYS; removes the rest. Sets pgq_backup_kept and pgq_backup_removed.
pgq_backup_expire() {
	local listing epoch bytes name rank=0 cutoff
	cutoff=$(($(date +%s) - BACKUP_KEEP_DAYS * 86400))
	listing=$(pgq_backup_list)
	pgq_backup_kept=0 pgq_backup_removed=()
	while IFS=$'\t' read -r epoch bytes name; do
		[[ -n $name ]] || continue
		rank=$((rank + 1))
		if ((rank <= BACKUP_KEEP_MIN || epoch >= cutoff)); then
			pgq_backup_kept=$((pgq_backup_kept + 1))
			continue
		fi
		# Renamed first, so a removal cut short leaves a .del- directory, never half a backup.
		mv --no-target-directory -- "$POSTGRES_BACKUP_DIR/$name" "$POSTGRES_BACKUP_DIR/.del-$name"
		rm -rf -- "$POSTGRES_BACKUP_DIR/.del-$name"
		pgq_backup_removed+=("$name")
	done <<<"$listing"
}

pgq_backup_on_exit() {
	local status=$?
	[[ -z ${pgq_backup_tmp:-} ]] || rm -rf -- "$pgq_backup_tmp"
	((status == 0)) && return 0
	if [[ -n ${pgq_backup_written:-} ]]; then
		pgq_log "error: $pgq_backup_written was written, but removing expired backups failed (exit $status)"
	else
		pgq_log "error: the backup failed (exit $status): no backup was written and none was removed"
	fi
}

pgq_backup_run() {
	local start=$EPOCHREALTIME name bytes removed=''
	pgq_backup_setup_env
	umask 077
	pgq_backup_lock
	pgq_backup_sweep
	name=$(pgq_backup_new_name)
	pgq_backup_tmp="$POSTGRES_BACKUP_DIR/.tmp-$name"
	trap pgq_backup_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -- "$pgq_backup_tmp"
	pgq_backup_dump "$pgq_backup_tmp"
	pgq_backup_seal "$pgq_backup_tmp"
	mv --no-target-directory -- "$pgq_backup_tmp" "$POSTGRES_BACKUP_DIR/$name"
	pgq_backup_tmp=''
	sync -- "$POSTGRES_BACKUP_DIR"
	pgq_backup_written=$name
	bytes=$(pgq_backup_bytes "$name")
	pgq_backup_expire
	((${#pgq_backup_removed[@]} == 0)) || removed=" (${pgq_backup_removed[*]})"
	printf 'backup: wrote %s, %s (%d bytes) in %s s; kept %d, removed %d%s\n' \
		"$name" "$(pgq_human_bytes "$bytes")" "$bytes" "$(pgq_elapsed "$start")" \
		"$pgq_backup_kept" "${#pgq_backup_removed[@]}" "$removed"
}

pgq_backup_main() {
	case ${1:-} in
		'') pgq_backup_run ;;
		list)
			pgq_backup_setup_env
			pgq_backup_list
			;;
		*) pgq_die "unknown argument '$1': use 'backup.sh' to take a backup or 'backup.sh list' to list them" ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_backup_main "$@"
fi
