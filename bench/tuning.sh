#!/usr/bin/env bash
# The spec's fixed settings (shared_buffers 256MB and the image's postgresql.conf) against the ones
# pg-quadlet derives from memory and cpus (lib/core/tuning.ts), side by side in one run: the image's
# container started as each rendered unit starts it (its Exec= settings, environment and ShmSize=),
# both under the same limits, with pgbench on this host over loopback. See docs/tuning.md.
#
#  1. Throughput, limited to 4 GB and 2 CPUs, on `pgbench -i -s SCALE`: select-only (-S) and the
#     default read-write script, DURATION seconds each after one read of pgbench_accounts through
#     the buffer pool and a WARMUP of select-only, RUNS rounds
#     (the two alternating in order), medians. Goals: select-only at least 1.1x, read-write no
#     worse (at least 1.0x).
#  2. Memory, limited to 1 GB: SORT_CLIENTS clients (97: every connection the application's role
#     may open, max_connections 100 less the 3 reserved for superusers) each sorting a range of
#     pgbench_accounts larger than work_mem, for SORT_SECONDS. Goal: no OOM kill with the derived
#     settings; the spec's are measured the same way.
#
# Usage (as root, with pgbench and psql 15 on this host; Podman, or Podman 5.4 from the test tree
# through test/support/trixie.sh, set up by test/setup.sh):
#   bench/tuning.sh [--write]   --write also replaces the section "## Benchmark" of docs/tuning.md
#   SCALE=50 RUNS=3 DURATION=60 WARMUP=20 CLIENTS=8 SORT_CLIENTS=97 SORT_SECONDS=60 PORT=55499
#   SMOKE=1   scale 5, 10-second runs, one round: proves the script end to end, not the goals
#             (with --write it refuses)
#
# The limits: Podman's --memory and --cpus where the container's cgroup gets the memory and cpu
# controllers; where it cannot (a host with cgroup v1 memory and cpu, as the test tree's Podman
# sees it: crun fails to open memory.max), the container's processes are moved, once the server
# is up, into a cgroup v1 memory cgroup with the same limit made below this shell's own (and a
# cpu one when CPUS is less than the machine's). The report says which.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib.sh
source bench/lib.sh

if [[ -n ${SMOKE:-} ]]; then
	SCALE=${SCALE:-5} RUNS=${RUNS:-1} DURATION=${DURATION:-10} WARMUP=${WARMUP:-3} SORT_SECONDS=${SORT_SECONDS:-10}
fi
SCALE=${SCALE:-50}
RUNS=${RUNS:-3}
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-20}
CLIENTS=${CLIENTS:-8}
SORT_CLIENTS=${SORT_CLIENTS:-97}
SORT_SECONDS=${SORT_SECONDS:-60}
PORT=${PORT:-55499}
WRITE=${1:-}
DOC=${DOC:-docs/tuning.md}
TAG=localhost/pg-quadlet-bench-tuning:latest
BASE_IMAGE=localhost/base-debian:latest
TRIXIE=test/support/trixie.sh
PASSWORD=bench-password
# The two sizes, in the config's units and in Podman's.
BIG_MEMORY=4GB BIG_LIMIT=4g SMALL_MEMORY=1GB SMALL_LIMIT=1g CPUS=2

preflight() {
	((EUID == 0)) || die "run as root: Podman's containers and the cgroups need it"
	{ command -v pgbench && command -v psql; } >/dev/null || die "pgbench and psql are missing: apt-get install postgresql-client-15 postgresql-contrib"
	[[ -z $WRITE || $WRITE == --write ]] || die "unknown argument $WRITE"
	[[ -z $WRITE || -z ${SMOKE:-} ]] || die "a smoke run proves the script, not the goals: --write only without SMOKE"
	local value
	for value in "$SCALE" "$RUNS" "$DURATION" "$WARMUP" "$CLIENTS" "$SORT_CLIENTS" "$SORT_SECONDS" "$PORT"; do
		[[ $value =~ ^[1-9][0-9]*$ ]] || die "SCALE, RUNS, DURATION, WARMUP, CLIENTS, SORT_CLIENTS, SORT_SECONDS and PORT must be positive whole numbers"
	done
	if command -v podman >/dev/null; then
		podman_() { podman "$@"; }
		build_image() { podman build --quiet -t "$TAG" --build-arg "BASE_IMAGE=$BASE_IMAGE" image >/dev/null; }
	else
		[[ -f $TRIXIE ]] || die "neither podman nor $TRIXIE is available"
		podman_() { bash "$TRIXIE" run-podman "$@"; }
		build_image() { bash "$TRIXIE" base-image >/dev/null && bash "$TRIXIE" build image "$TAG" --build-arg "BASE_IMAGE=$BASE_IMAGE" >/dev/null; }
	fi
}

# unit_args CONFIG-JSON: what the rendered PostgreSQL unit starts the container with, one word a
# line: `podman run` options (--shm-size, the server's environment), then "--", then the command
# (`postgres -c ...`, when the unit has an Exec=). Through the library itself, so the fit check
# refuses a config here as it would at install.
unit_args() {
	# shellcheck disable=SC2016 # JavaScript, not the shell, reads these
	node --import tsx --input-type=module --eval '
		const [repo, input] = process.argv.slice(1);
		const { renderUnits } = await import(`${repo}/lib/index.ts`);
		const unit = renderUnits(JSON.parse(input)).find((u) => u.fileName === "poststack-postgres.container");
		const values = (key) => unit.content.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
		const words = [
			...values("ShmSize").map((v) => `--shm-size=${v}`),
			...values("Environment").filter((v) => /^POSTGRES_(MAX_CONNECTIONS|SHARED_BUFFERS)=/.test(v)).map((v) => `--env=${v}`),
			"--",
			...(values("Exec")[0]?.split(" ") ?? []),
		];
		if (words.some((w) => /["\x27\\%$\s]/.test(w))) throw new Error(`a value needs quoting: ${words.join(" ")}`);
		console.log(words.join("\n"));
	' "$PWD" "$1"
}

# config SIDE CONFIG-JSON: renders one side's unit into unit[SIDE].
config() {
	unit[$1]=$(unit_args "$2") || die "rendering $2 failed"
}

# side_words SIDE: that side's `podman run` options and command, into the arrays options and command.
side_words() {
	local words=() i
	mapfile -t words <<<"${unit[$1]}"
	for ((i = 0; i < ${#words[@]}; i++)); do [[ ${words[i]} != -- ]] || break; done
	options=("${words[@]:0:i}")
	command=("${words[@]:i+1}")
}

# Whether Podman can limit a container here: a probe with both limits.
choose_enforcement() {
	local out
	if out=$(podman_ run --rm --memory=256m --cpus=1 --entrypoint=true "$TAG" 2>&1); then
		enforce=podman
		enforced_by="Podman's \`--memory\` and \`--cpus\`"
		return
	fi
	[[ $out == *memory.max* || $out == *controller* ]] || die "podman run --memory failed: $out"
	local v1
	v1=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
	[[ -n $v1 && -w /sys/fs/cgroup/memory$v1 ]] ||
		die "Podman cannot limit memory here ($out), and there is no cgroup v1 memory hierarchy to do it instead"
	enforce=v1
	# One per container (start_server makes it), so that each starts with its own peak and charges.
	v1_memory_base=/sys/fs/cgroup/memory${v1%/}/pg-quadlet-bench-tuning-$$
	v1_cpu=
	if (($(nproc) > CPUS)); then
		v1=$(sed -n 's/^[0-9]*:\(cpu\|cpu,cpuacct\|cpuacct,cpu\)://p' /proc/self/cgroup)
		local root
		root=$(findmnt -n -t cgroup -o TARGET,OPTIONS | awk '$2 ~ /(^|,)cpu(,|$)/ { print $1; exit }')
		[[ -n $root && -w $root$v1 ]] || die "no cgroup v1 cpu hierarchy to limit the CPUs to $CPUS"
		v1_cpu=$root${v1%/}/pg-quadlet-bench-tuning-$$
		mkdir "$v1_cpu"
		echo 100000 >"$v1_cpu/cpu.cfs_period_us"
		echo $((CPUS * 100000)) >"$v1_cpu/cpu.cfs_quota_us"
	fi
	local reason
	reason=$(sed -n 's/^Error: //p' <<<"$out" | head -n 1)
	enforced_by="a cgroup v1 memory cgroup$([[ -z $v1_cpu ]] || echo ' and a cpu one') around the container's processes, moved into it once the server is up (Podman cannot here: \"${reason:-$out}\")$([[ -n $v1_cpu ]] || echo "; $CPUS CPUs are the whole machine, so no CPU quota")"
}

# The PIDs (on this host) of the current container's processes: they carry its marker.
container_pids() {
	local p
	for p in /proc/[0-9]*; do
		{ tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "$marker" && echo "${p#/proc/}"
	done
	return 0
}

app() { env PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=poststack PGPASSWORD="$PASSWORD" PGDATABASE=poststack "$@"; }

# start_server SIDE LIMIT: the container with SIDE's options and command, limited to LIMIT
# (Podman's form) and CPUS; returns once the application role can log in.
start_server() {
	local side=$1 limit=$2 tries=0 pid options command
	side_words "$side"
	round=$((round + 1))
	container=pg-quadlet-bench-tuning-$$-$round
	marker=PG_QUADLET_BENCH_TUNING=$$-$round
	local limits=()
	if [[ $enforce == podman ]]; then limits=("--memory=$limit" "--cpus=$CPUS"); fi
	podman_ run --name="$container" --read-only --cap-drop=all --security-opt=no-new-privileges "${limits[@]}" \
		--env=POSTGRES_PASSWORD="$PASSWORD" --env=POSTGRES_PORT="$PORT" --env="$marker" \
		--volume="$data_volume:/data/postgres" --volume="$backup_volume:/data/postgres/backups" \
		"${options[@]}" "$TAG" "${command[@]}" >"$work/$container.log" 2>&1 &
	run_pid=$!
	until app psql --no-psqlrc --quiet --command='SELECT 1' >/dev/null 2>&1; do
		if ! kill -0 "$run_pid" 2>/dev/null || ((++tries >= 1800)); then
			tail -n 30 "$work/$container.log" >&2
			die "the container did not start"
		fi
		sleep 0.1
	done
	server_pid=
	for pid in $(container_pids); do
		[[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == "postgres "* ]] && { server_pid=$pid && break; }
	done
	[[ -n $server_pid ]] || die "the server's process is not found"
	if [[ $enforce == v1 ]]; then
		remove_v1_memory
		v1_memory=$v1_memory_base-$round
		mkdir "$v1_memory"
		echo $((${limit%g} * 1024 * 1024 * 1024)) >"$v1_memory/memory.limit_in_bytes"
		for pid in $(container_pids); do
			echo "$pid" >"$v1_memory/cgroup.procs"
			[[ -z $v1_cpu ]] || echo "$pid" >"$v1_cpu/cgroup.procs"
		done
	fi
}

# Stops the server (fast shutdown) unless it is gone, waits for its container, and sets
# oom_killed from Podman's record before removing it.
stop_server() {
	if kill -0 "$server_pid" 2>/dev/null; then kill -INT "$server_pid"; fi
	wait "$run_pid" || true
	run_pid=
	oom_killed=$(podman_ inspect --format '{{.State.OOMKilled}}' "$container")
	podman_ rm --force "$container" >/dev/null
	container=
}

# Once empty, a cgroup v1 can go: what it still holds of the page cache moves to its parent.
remove_v1_memory() {
	[[ -n ${v1_memory:-} ]] || return 0
	rmdir "$v1_memory" 2>/dev/null || say "could not remove $v1_memory"
	v1_memory=
}

cleanup() {
	local tries=0
	if [[ -n ${run_pid:-} ]] && kill -0 "$run_pid" 2>/dev/null; then
		if [[ -n ${server_pid:-} ]]; then kill -INT "$server_pid" 2>/dev/null || true; fi
		while kill -0 "$run_pid" 2>/dev/null && ((++tries < 600)); do sleep 0.1; done
		if kill -0 "$run_pid" 2>/dev/null; then
			for pid in $(container_pids); do kill -KILL "$pid" 2>/dev/null || true; done
		fi
		wait "$run_pid" 2>/dev/null || true
	fi
	if [[ -n ${container:-} ]]; then podman_ rm --force "$container" >/dev/null 2>&1 || true; fi
	if [[ -n ${data_volume:-} ]]; then podman_ volume rm --force "$data_volume" "$backup_volume" >/dev/null 2>&1 || true; fi
	remove_v1_memory
	if [[ -n ${v1_cpu:-} ]]; then rmdir "$v1_cpu" 2>/dev/null || say "could not remove $v1_cpu"; fi
	[[ -z ${work:-} ]] || rm -rf -- "$work"
}

# tps OUTPUT-FILE: pgbench's transactions per second, without the connections' setup.
tps() {
	local value
	value=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\)$/\1/p' "$1")
	printf '%.0f\n' "${value:-0}"
}

# throughput SIDE: one round of side SIDE in the 4 GB container: warm-up, select-only, read-write.
throughput() {
	local side=$1
	start_server "$side" "$BIG_LIMIT"
	# Every round starts a new server: read the table and its index once through the buffer pool
	# (an index scan; a sequential one would use a small ring), so both sides are measured warm,
	# as a server that has run for a while is, not while a larger pool is still being filled.
	app psql --quiet --no-psqlrc --set=ON_ERROR_STOP=1 >/dev/null \
		-c 'SET enable_seqscan = off' -c 'SET enable_bitmapscan = off' -c 'SET max_parallel_workers_per_gather = 0' \
		-c 'SELECT sum(abalance) FROM pgbench_accounts WHERE aid > 0' || die "the read of pgbench_accounts failed"
	app pgbench --select-only --client="$CLIENTS" --jobs=2 --time="$WARMUP" >"$work/out" 2>&1 || { cat "$work/out" >&2 && die "warm-up failed"; }
	app pgbench --select-only --client="$CLIENTS" --jobs=2 --time="$DURATION" >"$work/out" 2>&1 || { cat "$work/out" >&2 && die "select-only failed"; }
	select_tps[$side]+=" $(tps "$work/out")"
	app pgbench --client="$CLIENTS" --jobs=2 --time="$DURATION" >"$work/out" 2>&1 || { cat "$work/out" >&2 && die "read-write failed"; }
	write_tps[$side]+=" $(tps "$work/out")"
	stop_server
}

# The OOM kills in the container's cgroup so far: ours (v1, which outlives the container) or
# the container's own (v2, read through the server's root while it runs).
oom_kills() {
	if [[ $enforce == v1 ]]; then
		sed -n 's/^oom_kill //p' "$v1_memory/memory.oom_control"
	else
		sed -n 's/^oom_kill //p' "/proc/$server_pid/root/sys/fs/cgroup/memory.events" 2>/dev/null || echo 0
	fi
}

# The memory the container holds and cannot give back, in bytes: anonymous memory, shared memory
# (shared_buffers, /dev/shm) and kernel memory (page tables among it); the page cache, which
# fills any limit and is reclaimed first, is left out.
held_memory() {
	if [[ $enforce == v1 ]]; then
		awk -v kmem="$(<"$v1_memory/memory.kmem.usage_in_bytes")" '$1 == "total_rss" || $1 == "total_shmem" { sum += $2 } END { print sum + kmem }' "$v1_memory/memory.stat"
	else
		awk '$1 == "anon" || $1 == "shmem" || $1 == "kernel" { sum += $2 } END { print sum + 0 }' "/proc/$server_pid/root/sys/fs/cgroup/memory.stat" 2>/dev/null || echo 0
	fi
}

# sample_held FILE: writes the highest held_memory, sampled every 0.2 s, to FILE until killed.
sample_held() {
	local peak=0 now
	while :; do
		now=$(held_memory)
		((now <= peak)) || { peak=$now && echo "$peak" >"$1"; }
		sleep 0.2
	done
}

# sorts SIDE RESULT: SORT_CLIENTS clients sorting for SORT_SECONDS in the 1 GB container with
# SIDE's settings, into oom[RESULT.*]: OOM kills in the cgroup, Podman's OOMKilled, server
# processes killed by signal 9, sorts completed, clients aborted, pgbench's exit status, and the
# most memory the container held.
sorts() {
	local side=$1 result=$2 status=0 kills_before rows width log sampler
	start_server "$side" "$SMALL_LIMIT"
	kills_before=$(oom_kills)
	rows=$((SCALE * 100000))
	# 200,000 rows of about 100 bytes: 20 MB to sort, beyond any work_mem derived at 1 GB, so every
	# client holds all of its work_mem; the last rows of the order need the whole sort.
	width=$((rows / 2 < 200000 ? rows / 2 : 200000))
	printf '\\set a random(1, %d)\nSELECT * FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + %d ORDER BY abalance, filler OFFSET %d;\n' \
		$((rows - width)) $((width - 1)) $((width - 10)) >"$work/sort.sql"
	echo 0 >"$work/held"
	sample_held "$work/held" &
	sampler=$!
	app pgbench --no-vacuum --client="$SORT_CLIENTS" --jobs=2 --time="$SORT_SECONDS" --file="$work/sort.sql" >"$work/out" 2>&1 || status=$?
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	oom[$result.kills]=$(($(oom_kills) - kills_before))
	log=$work/$container.log
	stop_server
	oom[$result.podman]=$oom_killed
	oom[$result.signal9]=$(grep -c 'terminated by signal 9' "$log" || true)
	oom[$result.sorts]=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$work/out")
	oom[$result.aborted]=$(grep -c 'client [0-9]* aborted' "$work/out" || true)
	oom[$result.status]=$status
	oom[$result.held]=$(<"$work/held")
}

# median "VALUE VALUE...": the median, rounded to a whole number.
median() {
	tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
met() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g) ? "met" : "missed" }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
# The -c settings of a side, as name=value words.
settings_of() {
	local options command text
	side_words "$1"
	text="${command[*]:1}"
	echo "${text//-c /}"
}
shared_buffers_of() {
	local options command
	side_words "$1"
	printf '%s\n' "${options[@]}" | sed -n 's/^--env=POSTGRES_SHARED_BUFFERS=//p'
}

report() {
	local ss ds sw dw rs rw
	ss=$(median "${select_tps[spec]}") ds=$(median "${select_tps[derived]}")
	sw=$(median "${write_tps[spec]}") dw=$(median "${write_tps[derived]}")
	rs=$(ratio "$ds" "$ss") rw=$(ratio "$dw" "$sw")
	cat <<-EOF
		Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),
		load average $load_before at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end; PostgreSQL
		$server_version in the image, pgbench $(pgbench --version | awk '{ print $3 }') on the host over loopback; \`pgbench -i -s $SCALE\`
		($database_size); $CLIENTS clients, 2 threads, $DURATION s per measurement after one read of pgbench_accounts through the buffer pool and $WARMUP s of select-only;
		median of $RUNS round$( ((RUNS == 1)) || echo s). Limits enforced by $enforced_by.

		| $BIG_MEMORY, $CPUS CPUs | spec (shared_buffers 256MB, the image's settings) | derived | ratio (derived / spec) | goal |
		| --- | --- | --- | --- | --- |
		| select-only (\`-S\`), tps | $ss | $ds | ${rs}x | at least 1.1x: $(met "$rs" 1.1) |
		| read-write (TPC-B-like), tps | $sw | $dw | ${rw}x | at least 1.0x: $(met "$rw" 1.0) |

		Every round, spec / derived: select-only${select_tps[spec]} /${select_tps[derived]}; read-write${write_tps[spec]} /${write_tps[derived]}.
		Derived for $BIG_MEMORY and $CPUS CPUs: shared_buffers $(shared_buffers_of derived), $(settings_of derived).

		| $SMALL_MEMORY, $CPUS CPUs, $SORT_CLIENTS clients sorting for $SORT_SECONDS s | spec | derived |
		| --- | --- | --- |
		| OOM kills in the container's cgroup | ${oom[spec.kills]} | ${oom[derived.kills]} |
		| Podman's \`.State.OOMKilled\` | ${oom[spec.podman]} | ${oom[derived.podman]} |
		| server processes killed by signal 9 (server log) | ${oom[spec.signal9]} | ${oom[derived.signal9]} |
		| sorts completed | ${oom[spec.sorts]:-0} | ${oom[derived.sorts]:-0} |
		| clients aborted (pgbench exit status) | ${oom[spec.aborted]} (${oom[spec.status]}) | ${oom[derived.aborted]} (${oom[derived.status]}) |
		| most memory held (anonymous, shared and kernel; sampled every 0.2 s) | $(mib "${oom[spec.held]}") | $(mib "${oom[derived.held]}") |

		Derived for $SMALL_MEMORY and $CPUS CPUs: shared_buffers $(shared_buffers_of small), $(settings_of small).
	EOF
}

section() {
	cat <<-EOF
		## Benchmark

		\`bench/tuning.sh\` runs the image's container as the rendered units start it, once with the
		spec's settings (no \`-c\` arguments: shared_buffers 256MB and the image's \`postgresql.conf\`)
		and once with those derived for the container's size, under the same limits, with pgbench on
		the host. As root, on a quiet machine (at the default scale it takes about half an hour):

		\`\`\`sh
		bench/tuning.sh             # prints the tables
		bench/tuning.sh --write     # and replaces this section with them
		SMOKE=1 bench/tuning.sh     # scale 5, 10-second runs, one round: proves the script only
		\`\`\`

		The goals: in 4 GB and 2 CPUs, select-only at least 1.1x the spec's and read-write no worse;
		in 1 GB, $SORT_CLIENTS clients sorting (every connection the application's role may open: 100
		less the 3 reserved for superusers) and no OOM kill with the derived settings. At 1 GB the
		derived shared_buffers (256MB) and work_mem (4MB, the rule's floor) are the spec's own; what
		differs is the parallel workers (2 instead of 8) and effective_cache_size, so that part shows
		above all that the fit check's budget holds under a full load of sorts.

	EOF
	if [[ -z ${1:-} ]]; then
		echo "Not measured yet at the default scale: run \`bench/tuning.sh --write\` on a quiet machine."
		return 0
	fi
	printf '%s\n' "$1"
}

# The results into the page, in place of the last ones.
write_doc() { bench_replace_section "$DOC" "$(section "$1")"; }

main() {
	preflight
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	declare -gA unit=() select_tps=() write_tps=() oom=()
	round=0 run_pid='' server_pid='' container='' oom_killed='' enforce='' v1_memory='' v1_cpu=''
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	work=$(mktemp -d /var/tmp/pg-quadlet-bench-tuning.XXXXXX)
	say "the sides, as pg-quadlet renders them"
	config spec '{}'
	config derived "{\"memory\":\"$BIG_MEMORY\",\"cpus\":$CPUS}"
	config small "{\"memory\":\"$SMALL_MEMORY\",\"cpus\":$CPUS}"
	say "building the image"
	build_image
	choose_enforcement
	say "limits: $enforce"
	data_volume=pg-quadlet-bench-tuning-data-$$ backup_volume=pg-quadlet-bench-tuning-backups-$$
	say "pgbench -i -s $SCALE"
	start_server spec "$BIG_LIMIT"
	app pgbench --initialize --quiet --scale="$SCALE" >"$work/out" 2>&1 || { cat "$work/out" >&2 && die "pgbench -i failed"; }
	database_size=$(app psql --no-psqlrc --tuples-only --no-align --command="SELECT pg_size_pretty(pg_database_size('poststack'))")
	server_version=$(app psql --no-psqlrc --tuples-only --no-align --command='SHOW server_version' | cut -d' ' -f1)
	stop_server
	local r
	for ((r = 1; r <= RUNS; r++)); do
		say "round $r of $RUNS: $BIG_MEMORY, $CPUS CPUs"
		if ((r % 2)); then throughput spec && throughput derived; else throughput derived && throughput spec; fi
	done
	say "$SMALL_MEMORY, $SORT_CLIENTS clients sorting"
	sorts spec spec
	sorts small derived
	local results
	results=$(report)
	printf '%s\n' "$results"
	[[ -z $WRITE ]] || write_doc "$results"
}

main
