#!/usr/bin/env bash
# The server's archive_command (pgq_pgbackrest_archive_command): archives one WAL segment with
# pgBackRest. The server runs it from PGDATA, with the segment's path relative to it.
#
#   archive-push.sh CONFIG STANZA SEGMENT_PATH
#
# pgBackRest's asynchronous archive-push (archive-async=y) pushes a backlog several segments at a
# time, but for a segment alone it takes 0.4-0.7 s against 0.2-0.3 s synchronous: its background
# process starts for it, and the command the server waits on looks for the result at growing
# intervals. A clean stop ends the segment being written and waits until it is archived, so every
# stop paid that difference. A stopping server's last segment, when no other waits, is pushed
# synchronously; every other push is as the configuration says (asynchronous).
#
# Sourcing this file only defines the functions (pgq_*), so that tests can call them one at a time.
# It sources nothing: the server runs it once per segment.
set -Eeuo pipefail

# pgq_archive_push_stopping PIDFILE: succeeds when the server's postmaster.pid says it is
# stopping (its 8th line; the server writes it when a smart or fast shutdown begins).
pgq_archive_push_stopping() {
	local lines=()
	[[ -r $1 ]] || return 1
	mapfile -t -n 8 lines <"$1"
	[[ ${lines[7]:-} == stopping* ]]
}

# pgq_archive_push_alone STATUS_DIR: succeeds when no segment but the one being archived waits
# (at most one .ready file in the server's archive_status).
pgq_archive_push_alone() {
	local ready=("$1"/*.ready)
	[[ ! -e ${ready[0]} ]] || ((${#ready[@]} <= 1))
}

# pgBackRest's option for this push, if any, for a server whose data directory is the working
# directory: --no-archive-async, or nothing (the configuration's mode).
pgq_archive_push_mode() {
	if pgq_archive_push_stopping postmaster.pid && pgq_archive_push_alone pg_wal/archive_status; then
		echo --no-archive-async
	fi
}

pgq_archive_push_main() {
	if (($# != 3)); then
		echo "usage: archive-push.sh CONFIG STANZA SEGMENT_PATH" >&2
		exit 2
	fi
	local mode
	mode=$(pgq_archive_push_mode)
	exec pgbackrest --config="$1" --stanza="$2" ${mode:+"$mode"} archive-push "$3"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	pgq_archive_push_main "$@"
fi
