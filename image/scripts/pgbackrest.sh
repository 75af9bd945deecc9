#!/usr/bin/env bash
# Physical backups with pgBackRest, point-in-time recovery, and their checks. Runs as the OS user
# postgres: `podman exec <container> pgbackrest.sh ...` while the server runs, or in a one-shot
# container on the same volumes for a restore (the server stopped). See docs/pgbackrest.md.
#
#   pgbackrest.sh backup [full|diff|incr] [--repo N]
#                                           take a backup (incr by default: pgBackRest makes the
#                                           first one full) into each repository in turn, or only
#                                           repository N; one result line per repository on stdout
#   pgbackrest.sh info                      pgBackRest's info as JSON, on stdout
#   pgbackrest.sh check                     the configuration and WAL archiving work end to end
#   pgbackrest.sh verify [--repo N]         every backup and archived WAL file matches its checksum,
#                                           in each repository or only N
#   pgbackrest.sh restore TARGET [--repo N] [--archive-mode-off]
#       TARGET: --latest                    the newest backup, then all archived WAL
#               --time 'YYYY-MM-DD HH:MM:SS+00'   the state at that time (the newest backup
#                                           before it, then WAL up to it)
#               --backup LABEL              that backup as it ended; with --latest or --time,
#                                           that backup and WAL up to the end or the time
#       --repo N                            from repository N only (2: the off-host one), e.g.
#                                           when the backup volume is lost
#       --archive-mode-off                  a test restore: the restored server never archives
#                                           (else its new timeline goes into this archive)
#     Needs the server stopped and PGDATA absent or empty (set-aside first). Restores beside it
#     and renames, so PGDATA is whole or untouched. The next start replays WAL and promotes.
#   pgbackrest.sh set-aside [--stopped]     move PGDATA aside (prints its new path); refused while
#                                           postmaster.pid exists, unless --stopped says the
#                                           service is stopped (a killed server left the file)
#   pgbackrest.sh put-back PATH             make a directory moved aside PGDATA again
#   pgbackrest.sh wait-promoted [SECONDS]   wait until the server has left recovery
set -Eeuo pipefail

pgq_tool=pgbackrest.sh
# shellcheck source=pgbackrest-lib.sh
source "${BASH_SOURCE[0]%/*}/pgbackrest-lib.sh"

pgq_pgbackrest_label_pattern='^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$'

# The settings and the configuration, for a command on an existing repository.
pgq_pgbackrest_cli_setup() {
	pgq_setup_env
	pgq_pgbackrest_setup_env
	pgq_prepare_socket_dir
	pgq_pgbackrest_write_config
	if [[ ! -d $PGBACKREST_REPO1_PATH ]]; then
		[[ -d ${PGBACKREST_REPO1_PATH%/*} ]] ||
			pgq_die "there is no pgBackRest repository at $PGBACKREST_REPO1_PATH, nor its parent: is the backup volume mounted?"
		# A new backup volume (after a disaster, restoring from the off-host repository).
		mkdir -m 0750 -- "$PGBACKREST_REPO1_PATH"
	fi
	pgq_pgbackrest_check_cipher
	# The superuser over the socket, by peer, for the few queries of its own.
	export PGHOST="$POSTGRES_SOCKET_DIR" PGPORT="$POSTGRES_PORT" PGUSER=postgres PGDATABASE=postgres
	unset PGPASSWORD PGOPTIONS PGSERVICE
}

# pgq_pgbackrest_require_stanza [REPO]: the local repository's stanza, unless only another is used.
pgq_pgbackrest_require_stanza() {
	[[ ${1:-1} == 1 ]] || return 0
	! pgq_pgbackrest_stanza_missing ||
		pgq_die "the repository $PGBACKREST_REPO1_PATH has no stanza '$PGBACKREST_STANZA' (PGBACKREST_STANZA): the server creates it when it starts"
}

# pgq_pgbackrest_repo_arg N: a configured repository's number, or the command stops.
pgq_pgbackrest_repo_arg() {
	local repo=$1 known
	for known in "${pgq_pgbackrest_repos[@]}"; do
		[[ $repo != "$known" ]] || return 0
	done
	pgq_die "--repo '$repo' is not a configured repository: use ${pgq_pgbackrest_repos[*]} (2 is the off-host one, PGBACKREST_REPO2_TYPE)"
}

# pgq_pgbackrest_logged FILE ARGS...: pgBackRest with the configuration; its output goes to
# stderr as it comes, and into FILE, for the lines the result is read from (at level info, whatever
# the environment says). Its exit status.
pgq_pgbackrest_logged() {
	local file=$1
	shift
	pgbackrest --config="$PGBACKREST_CONFIG" --stanza="$PGBACKREST_STANZA" --log-level-console=info "$@" 2>&1 |
		tee -- "$file" >&2
}

# A scratch file on the private tmpfs, removed when the script ends.
pgq_pgbackrest_scratch() {
	pgq_pgbackrest_scratch_file=$(mktemp -- "$pgq_pgbackrest_dir/output.XXXXXX")
	trap 'rm -f -- "$pgq_pgbackrest_scratch_file"' EXIT
}

pgq_pgbackrest_info_json() {
	pgbackrest --config="$PGBACKREST_CONFIG" --stanza="$PGBACKREST_STANZA" --output=json info
}

# pgq_pgbackrest_backup_summary REPO LABEL BEFORE AFTER: reads pgBackRest's info (JSON, before and
# after the backup) with the server's own JSON functions, and prints
# "type<TAB>bytes<TAB>stored bytes<TAB>backups kept<TAB>labels expired".
# The documents go in as COPY data, so their size and content never meet a command line.
pgq_pgbackrest_backup_summary() {
	local repo=$1 label=$2 before=$3 after=$4
	{
		cat <<-'SQL'
			CREATE TEMP TABLE info (phase text, doc text);
			COPY info FROM STDIN WITH (FORMAT csv, DELIMITER E'\x1f', QUOTE E'\x1e');
		SQL
		printf 'before\x1f%s\nafter\x1f%s\n\\.\n' "$before" "$after"
		cat <<-'SQL'
			CREATE TEMP VIEW backups AS
			  SELECT i.phase, b->>'label' AS label, b
			    FROM info i, json_array_elements(i.doc::json) s, json_array_elements(s->'backup') b
			   WHERE s->>'name' = :'stanza' AND b->'database'->>'repo-key' = :'repo';
			SELECT concat_ws(E'\t', b->>'type', b->'info'->>'size', b->'info'->'repository'->>'delta',
			         (SELECT count(*) FROM backups WHERE phase = 'after'),
			         (SELECT string_agg(o.label, ' ' ORDER BY o.label) FROM backups o
			           WHERE o.phase = 'before' AND o.label NOT IN (SELECT label FROM backups WHERE phase = 'after')))
			  FROM backups WHERE phase = 'after' AND label = :'label';
		SQL
	} | pgq_superuser_psql --dbname=postgres --tuples-only --no-align \
		--set=label="$label" --set=stanza="$PGBACKREST_STANZA" --set=repo="$repo" --file=-
}

# One backup at a time: a full backup still running when the differential's timer fires makes the
# differential wait for it, instead of failing on pgBackRest's own lock. Both run in the same
# container (podman exec), so the lock lives on its tmpfs and goes with the process.
pgq_pgbackrest_backup_lock() {
	local wait=${PGBACKREST_BACKUP_WAIT:-21600} fd
	[[ $wait =~ ^[0-9]{1,6}$ ]] || pgq_die "PGBACKREST_BACKUP_WAIT='$wait' must be a number of seconds"
	exec {fd}>>"$pgq_pgbackrest_dir/backup.lock"
	if ! flock --nonblock "$fd"; then
		pgq_log "another backup is running: waiting up to $wait s for it (PGBACKREST_BACKUP_WAIT)"
		flock --wait "$wait" "$fd" || pgq_die "another backup still runs after $wait s: this one was not taken"
	fi
}

pgq_pgbackrest_backup() {
	local type=incr only='' repo
	while (($#)); do
		case $1 in
			full | diff | incr) type=$1 ;;
			--repo)
				(($# >= 2)) || pgq_die "--repo takes a repository number"
				only=$2
				shift
				;;
			*) pgq_die "unknown backup argument '$1': use full, diff or incr, and --repo N" ;;
		esac
		shift
	done
	pgq_pgbackrest_cli_setup
	[[ -z $only ]] || pgq_pgbackrest_repo_arg "$only"
	pgq_pgbackrest_require_stanza "${only:-1}"
	pgq_pgbackrest_backup_lock
	pgq_pgbackrest_scratch
	# Each repository gets its own backup (pgBackRest copies into one per run); a failure in one
	# still lets the others be tried, and the command fails after. The info after one backup is
	# the info before the next.
	local -a failed=()
	pgq_pgbackrest_info=$(pgq_pgbackrest_info_json)
	for repo in "${pgq_pgbackrest_repos[@]}"; do
		[[ -z $only || $only == "$repo" ]] || continue
		pgq_pgbackrest_backup_repo "$repo" "$type" || failed+=("repo$repo")
	done
	((${#failed[@]} == 0)) ||
		pgq_die "the $type backup into ${failed[*]} failed (the error is above): the backups before it are as they were, and the next backup discards or resumes what this one left"
}

# pgq_pgbackrest_backup_repo REPO TYPE: one backup into one repository; prints its result line.
# pgq_pgbackrest_info holds pgBackRest's info before it, and after it once it succeeded.
pgq_pgbackrest_backup_repo() {
	local repo=$1 type=$2 start=$EPOCHREALTIME before=$pgq_pgbackrest_info after label summary bytes stored kept expired listed=''
	pgq_pgbackrest_logged "$pgq_pgbackrest_scratch_file" --repo="$repo" --type="$type" backup || return 1
	label=$(sed -n 's/.*new backup label = \([^ ]*\).*/\1/p' -- "$pgq_pgbackrest_scratch_file" | tail -n 1)
	[[ $label =~ $pgq_pgbackrest_label_pattern ]] ||
		pgq_die "pgBackRest finished but named no backup label ('$label'): see its output above"
	after=$(pgq_pgbackrest_info_json)
	pgq_pgbackrest_info=$after
	summary=$(pgq_pgbackrest_backup_summary "$repo" "$label" "$before" "$after")
	IFS=$'\t' read -r type bytes stored kept expired <<<"$summary"
	[[ $bytes =~ ^[0-9]+$ && $stored =~ ^[0-9]+$ && $kept =~ ^[0-9]+$ ]] ||
		pgq_die "pgBackRest's info does not describe the backup $label in repo$repo: '$summary'"
	local -a gone=()
	[[ -z $expired ]] || read -r -a gone <<<"$expired"
	((${#gone[@]} == 0)) || listed=" (${gone[*]})"
	printf '%s: backup %s (%s) in repo%d, %s (%d bytes), stored %s (%d bytes) in %s s; kept %d, expired %d%s\n' \
		"$pgq_tool" "$label" "$type" "$repo" "$(pgq_human_bytes "$bytes")" "$bytes" "$(pgq_human_bytes "$stored")" "$stored" \
		"$(pgq_elapsed "$start")" "$kept" "${#gone[@]}" "$listed"
}

pgq_pgbackrest_check() {
	pgq_pgbackrest_cli_setup
	pgq_pgbackrest_require_stanza
	pgq_pgbackrest check || pgq_die "the check failed (its error is above)"
	printf '%s: check passed: the server archives WAL into %s, stanza %s\n' "$pgq_tool" "$PGBACKREST_REPO1_PATH" "$PGBACKREST_STANZA"
}

# pgBackRest 2.45's verify exits 0 even when it finds damage: its report ("status: error", with a
# line per bad file) is what tells. It reads one repository per run.
pgq_pgbackrest_verify() {
	local only='' repo bad where
	if (($# == 2)) && [[ $1 == --repo ]]; then
		only=$2
	elif (($#)); then
		pgq_die "verify takes only --repo N: it checks every backup and all archived WAL"
	fi
	pgq_pgbackrest_cli_setup
	[[ -z $only ]] || pgq_pgbackrest_repo_arg "$only"
	pgq_pgbackrest_require_stanza "${only:-1}"
	pgq_pgbackrest_scratch
	for repo in "${pgq_pgbackrest_repos[@]}"; do
		[[ -z $only || $only == "$repo" ]] || continue
		where=$PGBACKREST_REPO1_PATH
		((repo == 1)) || where=$(pgq_pgbackrest_repo2_id)
		pgq_pgbackrest_logged "$pgq_pgbackrest_scratch_file" --repo="$repo" verify ||
			pgq_die "verify could not run on repo$repo (its error is above)"
		if grep -q 'status: error' -- "$pgq_pgbackrest_scratch_file"; then
			bad=$(sed -n "s/.* P[0-9]* *INFO: \\([a-z ]*'[^']*'.*\\)/\\1/p" -- "$pgq_pgbackrest_scratch_file" | paste -s -d ';' | sed 's/;/; /g')
			pgq_die "verify found damage in repo$repo ($where): ${bad:-see the report above}"
		fi
		printf '%s: verify passed: every file in repo%d (%s) matches its checksum\n' "$pgq_tool" "$repo" "$where"
	done
}

# Sets pgq_restore_args (pgBackRest's options for the target) and pgq_restore_target (said in the
# result line) from the restore's arguments.
pgq_pgbackrest_restore_args() {
	local latest='' time='' backup='' arg
	pgq_restore_archive_off=''
	pgq_restore_repo=''
	while (($#)); do
		arg=$1
		shift
		case $arg in
			--latest) latest=1 ;;
			--time)
				(($#)) || pgq_die "--time takes a time: 'YYYY-MM-DD HH:MM:SS+00'"
				time=$1
				shift
				;;
			--backup)
				(($#)) || pgq_die "--backup takes a backup label"
				backup=$1
				shift
				;;
			--repo)
				(($#)) || pgq_die "--repo takes a repository number"
				pgq_restore_repo=$1
				shift
				;;
			--archive-mode-off) pgq_restore_archive_off=1 ;;
			*) pgq_die "unknown restore argument '$arg': see pgbackrest.sh --help" ;;
		esac
	done
	[[ -n $latest$time$backup ]] || pgq_die "restore needs a target: --latest, --time 'YYYY-MM-DD HH:MM:SS+00' or --backup LABEL"
	[[ -z $latest || -z $time ]] || pgq_die "--latest and --time are two different targets: give one"
	if [[ -n $time ]]; then
		if ! [[ $time =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$ ]] ||
			! date --date="$time" +%s >/dev/null 2>&1; then
			pgq_die "--time '$time' is not a time as 'YYYY-MM-DD HH:MM:SS+00' (with its UTC offset)"
		fi
	fi
	[[ -z $backup || $backup =~ $pgq_pgbackrest_label_pattern ]] ||
		pgq_die "--backup takes a backup label (20260101-020000F, or ..._20260102-020000I), not '$backup'"
	pgq_restore_args=()
	[[ -z $backup ]] || pgq_restore_args+=(--set="$backup")
	if [[ -n $time ]]; then
		pgq_restore_args+=(--type=time --target="$time" --target-action=promote)
		pgq_restore_target="to $time"
	elif [[ -n $latest ]]; then
		pgq_restore_target='to the end of the archived WAL'
	else
		pgq_restore_args+=(--type=immediate --target-action=promote)
		pgq_restore_target='to the end of that backup'
	fi
	[[ -z $pgq_restore_archive_off ]] || pgq_restore_args+=(--archive-mode=off)
	[[ -z $pgq_restore_repo ]] || pgq_restore_args+=(--repo="$pgq_restore_repo")
}

pgq_pgbackrest_restore() {
	local start=$EPOCHREALTIME staging label lock_fd
	pgq_pgbackrest_restore_args "$@"
	pgq_pgbackrest_cli_setup
	[[ -z $pgq_restore_repo ]] || pgq_pgbackrest_repo_arg "$pgq_restore_repo"
	pgq_pgbackrest_require_stanza "${pgq_restore_repo:-1}"
	pgq_pgdata_is_empty ||
		pgq_die "$PGDATA is not empty: stop the server and move it aside first (pgbackrest.sh set-aside); nothing was changed"
	[[ -d ${PGDATA%/*} && -w ${PGDATA%/*} ]] ||
		pgq_die "${PGDATA%/*}, where PGDATA is restored, is missing or not writable by $(id -un): is the data volume mounted?"
	# One restore at a time on this volume; the lock goes with the process.
	exec {lock_fd}<"${PGDATA%/*}"
	flock --nonblock "$lock_fd" || pgq_die "another restore into ${PGDATA%/*} is running"
	staging="$PGDATA.restoring"
	# Only ever renamed to PGDATA when complete: what a killed restore left is never a cluster.
	[[ ! -e $staging ]] || {
		pgq_log "removing $staging, left by an interrupted restore"
		rm -rf -- "$staging"
	}
	install -d -m 0700 -- "$staging"
	pgq_pgbackrest_scratch
	if ! pgq_pgbackrest_logged "$pgq_pgbackrest_scratch_file" --pg1-path="$staging" \
		--recovery-option=restore_command="$(pgq_pgbackrest_restore_command)" "${pgq_restore_args[@]}" restore; then
		rm -rf -- "$staging"
		pgq_die "the restore failed (its error is above): $PGDATA was not changed"
	fi
	label=$(sed -n 's/.*restore backup set \([^ ,]*\).*/\1/p' -- "$pgq_pgbackrest_scratch_file" | tail -n 1)
	[[ ! -d $PGDATA ]] || rmdir -- "$PGDATA"
	mv --no-target-directory -- "$staging" "$PGDATA"
	sync -- "${PGDATA%/*}"
	printf '%s: restored %s%s into %s, %s%s, in %s s; the next start replays WAL from the archive and promotes (pgbackrest.sh wait-promoted)\n' \
		"$pgq_tool" "${label:-?}" "${pgq_restore_repo:+ from repo$pgq_restore_repo}" "$PGDATA" "$pgq_restore_target" \
		"${pgq_restore_archive_off:+, archive mode off}" "$(pgq_elapsed "$start")"
}

pgq_pgbackrest_wait_promoted() {
	local seconds=${1:-}
	[[ -z $seconds || $seconds =~ ^[0-9]{1,6}$ ]] || pgq_die "wait-promoted takes a whole number of seconds, not '$seconds'"
	pgq_setup_env
	pgq_wait_promoted "$seconds" || pgq_die "the server did not leave recovery"
	printf '%s: the server is out of recovery: promoted, taking writes\n' "$pgq_tool"
}

pgq_pgbackrest_main() {
	local command=${1:-}
	(($#)) && shift
	# What it writes (the configuration the server's archive_command reads, a restored cluster)
	# must be postgres's, and only postgres logs in by peer.
	if [[ $(id -u) == 0 && $command != -h && $command != --help ]]; then
		pgq_die "run pgbackrest.sh as the user postgres (podman exec without --user root): files written as root would be unreadable to the server"
	fi
	case $command in
		backup) pgq_pgbackrest_backup "$@" ;;
		info)
			pgq_pgbackrest_cli_setup
			pgq_pgbackrest_info_json
			;;
		check) pgq_pgbackrest_check ;;
		verify) pgq_pgbackrest_verify "$@" ;;
		restore) pgq_pgbackrest_restore "$@" ;;
		set-aside)
			pgq_setup_env
			(($# == 0)) || [[ $# == 1 && $1 == --stopped ]] || pgq_die "set-aside takes only --stopped"
			pgq_pgdata_move_aside "$@"
			;;
		put-back)
			(($# == 1)) || pgq_die "put-back takes the path set-aside printed"
			pgq_setup_env
			pgq_pgdata_put_back "$1"
			;;
		wait-promoted) pgq_pgbackrest_wait_promoted "$@" ;;
		-h | --help) sed -n '2,/^set -Eeuo/{/^set -Eeuo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" ;;
		*) pgq_die "unknown command '$command': use backup, info, check, verify, restore, set-aside, put-back or wait-promoted (--help)" ;;
	esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_pgbackrest_main "$@"
fi
