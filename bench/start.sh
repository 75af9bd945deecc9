#!/usr/bin/env bash
# Where a start's time goes, on this host: the image's entrypoint and health check run with the
# host's PostgreSQL 15 and pgBackRest as the OS user postgres (as test/image/sandbox.ts runs them),
# every path in a temp directory. Each round: a first start (initialization), a clean stop, a start
# with data, a kill -9 of the whole process group (as a container's PID 1 dies with all of it) and
# the start after it. A start is timed from the entrypoint's launch to the first success of
# `health-check.sh --wait 4` started with it and again every second until it passes, as Podman runs
# the units' start-up check. The entrypoint's own steps are timed by wrapping its functions.
#
# Usage (as root): bench/start.sh [ROUNDS]        default 5; prints each round, then medians
#   IMAGES='DIR...'  image/ directories to compare, rounds interleaved (default: image)
#   TRACE=1          time the entrypoint's steps too (its wrapping costs about 0.1 s a start)
#   KEEP=1           keep the last round's directory (its trace and logs) and print its path
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source bench/lib.sh

PG_BIN=/usr/lib/postgresql/15/bin
ROUNDS=${1:-5}
PORT=${PORT:-55497}

# The entrypoint's steps, each timed (name and seconds into the trace file, fd 9) when it runs.
STEPS=(pgq_setup_env pgq_pgbackrest_setup_env pgq_prepare_socket_dir pgq_read_password
	pgq_store_current_password pgq_pgbackrest_write_config pgq_pgbackrest_prepare_volumes
	pgq_pgbackrest_check_cipher pgq_setup_tls pgq_refuse_unfinished_restore pgq_is_initialized
	pgq_render_config pgq_prepare_existing pgq_init_database_dir pgq_initdb pgq_sync_volume
	pgq_temp_server_start pgq_pgbackrest_stanza_create pgq_create_user_and_database
	pgq_run_setup_steps pgq_process_init_files pgq_temp_server_stop pgq_mark_initialized
	pgq_first_start_setup)

# Sources the entrypoint, wraps each step that exists, and runs pgq_main: the server is exec'd.
# shellcheck disable=SC2016 # expanded by the entrypoint's shell
WRAPPER='
start=$EPOCHREALTIME
exec 9>>"$BENCH_TRACE"
source "$BENCH_SCRIPTS/entrypoint.sh"
printf "%s %s %s\n" source "$(pgq_elapsed "$start")" "$start" >&9
for f in $BENCH_STEPS; do
	declare -F "$f" >/dev/null || continue
	eval "bench_orig_$(declare -f "$f")"
	eval "$f() { local bench_start=\$EPOCHREALTIME bench_rc; bench_orig_$f \"\$@\"; bench_rc=\$?; printf \"%s %s %s\\n\" $f \"\$(pgq_elapsed \"\$bench_start\")\" \$bench_start >&9; return \$bench_rc; }"
done
printf "%s %s %s\n" until-main "$(pgq_elapsed "$start")" "$start" >&9
pgq_main postgres'

# The container's environment, pointed into the round's directory.
env_args() {
	env_args=(env -i PATH="$PG_BIN:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$dir" LANG=C.UTF-8
		PGDATA="$dir/data/pgdata" POSTGRES_PORT="$PORT" POSTGRES_SOCKET_DIR="$dir/run"
		POSTGRES_INITDB_DIR="$dir/init.d" POSTGRES_TEMPLATE_DIR="$dir/image/config"
		POSTGRES_CERTIFICATES_DIR="$dir/certificates" POSTGRES_PASSWORD_FILE="$dir/password"
		POSTGRES_BACKUP_DIR="$dir/backups" PGBACKREST_SPOOL_PATH="$dir/data/pgbackrest-spool"
		BENCH_TRACE="$dir/trace" BENCH_SCRIPTS="$dir/image/scripts" BENCH_STEPS="${STEPS[*]}")
}

as_postgres() {
	env_args
	setpriv --reuid=postgres --regid=postgres --init-groups -- "${env_args[@]}" "$@"
}

now() { printf '%s\n' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'; }

# Starts the entrypoint in a session of its own (so that kill -9 of its group takes every process
# of the server, as a container's end does), as a child of this shell, which reaps it; sets
# server_pid (the entrypoint's, then the server's: it execs).
launch() {
	printf -- '-- %s\n' "$1" >>"$dir/trace"
	env_args
	if [[ -n ${TRACE:-} ]]; then
		setsid setpriv --reuid=postgres --regid=postgres --init-groups -- "${env_args[@]}" \
			bash --norc --noprofile -c "$WRAPPER" >>"$dir/server.log" 2>&1 &
	else
		setsid setpriv --reuid=postgres --regid=postgres --init-groups -- "${env_args[@]}" \
			"$dir/image/scripts/entrypoint.sh" >>"$dir/server.log" 2>&1 &
	fi
	server_pid=$!
}

# Sets took to the seconds from START until health-check.sh --wait 4 passes, run at once and
# then every second.
healthy_after() {
	local start=$1 next
	while :; do
		next=$(awk -v s="$EPOCHREALTIME" 'BEGIN { printf "%.6f\n", s + 1 }')
		if as_postgres "$dir/image/scripts/health-check.sh" --wait 4 >>"$dir/health.log" 2>&1; then
			took=$(since "$start")
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || die "the server exited: $(tail -n 20 "$dir/server.log")"
		awk -v n="$next" -v s="$EPOCHREALTIME" 'BEGIN { exit !(n > s) }' &&
			sleep "$(awk -v n="$next" -v s="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", n - s }')"
		(($(since "$start" | cut -d. -f1) < 60)) || die "not healthy within 60 s"
	done
}

wait_gone() {
	wait "$1" || true
}

# round IMAGE_DIR: sets round_result to "first stop data crash" (seconds).
round() {
	local start t_first t_stop t_data t_crash took
	dir=$(mktemp -d /var/tmp/pgq-bench-start.XXXXXX)
	cp -r "$1" "$dir/image"
	mkdir -p "$dir/data" "$dir/backups" "$dir/run"
	printf '%s' bench-password >"$dir/password"
	chmod 0400 "$dir/password"
	: >"$dir/trace"
	chown -R postgres:postgres "$dir"

	start=$(now)
	launch first
	healthy_after "$start"
	t_first=$took
	start=$(now)
	kill -INT "$server_pid"
	wait_gone "$server_pid"
	t_stop=$(since "$start")
	start=$(now)
	launch data
	healthy_after "$start"
	t_data=$took
	kill -KILL -- "-$server_pid"
	start=$(now)
	launch crash
	healthy_after "$start"
	t_crash=$took
	kill -INT "$server_pid"
	wait_gone "$server_pid"
	round_result="$t_first $t_stop $t_data $t_crash"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

main() {
	((EUID == 0)) || die "run as root: the server runs as the OS user postgres"
	[[ -x $PG_BIN/postgres && -x /usr/bin/pgbackrest ]] || die "needs PostgreSQL 15 and pgBackRest"
	local images i r image n=0
	read -r -a images <<<"${IMAGES:-image}"
	local -A results=()
	say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	for ((i = 1; i <= ROUNDS; i++)); do
		for image in "${images[@]}"; do
			round "$image"
			r=$round_result
			results[$image]+="$r"$'\n'
			n=$((n + 1))
			say "$image round $i (load $(cut -d' ' -f1 /proc/loadavg)): first start ${r%% *} s; stop, start with data, after kill -9: ${r#* } s"
			[[ -z ${TRACE:-} ]] || cp "$dir/trace" "/tmp/pgq-bench-start-trace.${image//\//_}.$i"
			if ((i < ROUNDS)) || [[ -z ${KEEP:-} ]]; then rm -rf -- "$dir"; fi
		done
	done
	say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	for image in "${images[@]}"; do
		printf '%s: medians of %d rounds (s):\n' "$image" "$ROUNDS"
		for i in 1 2 3 4; do
			printf '  %-22s %s\n' "$(sed -n "${i}p" <<<$'first start\nclean stop\nstart with data\nstart after kill -9')" \
				"$(printf '%s' "${results[$image]}" | cut -d' ' -f"$i" | median)"
		done
		[[ -n ${TRACE:-} ]] || continue
		printf '  entrypoint steps, median per start kind (s):\n'
		cat "/tmp/pgq-bench-start-trace.${image//\//_}".* |
			awk '/^-- / { kind = $2; next } { key = kind " " $1; if (!(key in seen)) { seen[key] = 1; order[++n] = key } v[key] = v[key] " " $2 }
				END { for (i = 1; i <= n; i++) print order[i] v[order[i]] }' |
			while read -r kind step values; do
				printf '    %-6s %-30s %s\n' "$kind" "$step" "$(tr ' ' '\n' <<<"$values" | median)"
			done
	done
	rm -f /tmp/pgq-bench-start-trace.*
	[[ -z ${KEEP:-} ]] || say "kept $dir"
}

main
