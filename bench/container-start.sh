#!/usr/bin/env bash
# The image's start, restart and crash recovery in a real Podman container (Podman 5.4 from the
# test tree, test/support/trixie.sh), one image against another, rounds interleaved so that the
# machine's load falls on both alike. Without systemd, Podman runs no health-check timer: the
# start-up check is run as the units run it, `health-check.sh --wait 4` (podman exec) at once
# and then every second until it passes (through nsenter: `podman exec` fails in the tree, which
# has no systemd; Podman's own exec adds its cost to each check). Each round, per image:
#   first start      `podman run -d` (new volumes) until the first check passes
#   restart          `podman restart` (clean stop included) until the first check passes
#   after kill -9    SIGKILL to the container's PID 1, `podman wait`, `podman start`, until the
#                    first check passes (systemd's RestartSec comes on top)
#
# Usage (as root; holds the tree's lock for the whole run):
#   bench/container-start.sh ROUNDS IMAGE...     e.g. 5 localhost/a:15 localhost/b:15
set -Eeuo pipefail
cd "$(dirname "$0")/.."

CACHE=${PG_QUADLET_TEST_CACHE:-/var/tmp/pg-quadlet-test}
TREE=$CACHE/trixie
PORT=${PORT:-55601}

(($# >= 2)) || { sed -n '13,14p' "$0" >&2; exit 2; }
rounds=$1
shift

# Runs inside the tree's namespaces (nsenter into the holder's), with its podman.
# shellcheck disable=SC2016 # expanded by the inner shell
INNER='set -Eeuo pipefail
rounds=$1 port=$2; shift 2
# Microseconds, in bash alone (the tree has no working awk).
now() { printf "%s\n" "${EPOCHREALTIME/./}"; }
since() { local d=$(($(now) - $1)); printf "%d.%02d\n" $((d / 1000000)) $((d % 1000000 / 10000)); }
# health-check.sh --wait 4 run as `podman exec` would (its namespaces, UID 999, no capabilities,
# the container'"'"'s environment), without podman: its exec fails in the tree without systemd.
check() {
	local pid env=()
	pid=$(podman inspect -f "{{.State.Pid}}" c-bench)
	((pid > 0)) || return 1
	mapfile -d "" -t env <"/proc/$pid/environ"
	nsenter --target="$pid" --mount --uts --ipc --net --pid --root --wd -- \
		setpriv --reuid=999 --regid=999 --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \
		env -i "${env[@]}" /usr/local/bin/health-check.sh --wait 4
}
healthy_since() {
	local start=$1 next rest
	while :; do
		next=$(($(now) + 1000000))
		if check >/tmp/bench-health.log 2>&1; then since "$start"; return 0; fi
		rest=$((next - $(now)))
		((rest <= 0)) || sleep "$(printf "0.%06d" "$rest")"
		(($(now) - start < 60000000)) || { echo "not healthy in 60 s" >&2; cat /tmp/bench-health.log >&2; podman logs c-bench 2>&1 | tail -n 5 >&2; return 1; }
	done
}
printf "%s\n" bench-password | podman secret create --replace pgq-bench-password - >/dev/null
for ((r = 1; r <= rounds; r++)); do
	for image; do
		podman rm -f c-bench >/dev/null 2>&1 || true
		podman volume rm -f v-bench-data v-bench-backups >/dev/null 2>&1 || true
		load=$(cut -d" " -f1 /proc/loadavg)
		t=$(now)
		podman run -d --name c-bench --read-only --cap-drop=all --security-opt=no-new-privileges \
			--secret=pgq-bench-password,type=mount,target=postgres-password,uid=999,gid=999,mode=0400 \
			--env=POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password --env=POSTGRES_PORT="$port" \
			--shm-size=256m --volume=v-bench-data:/data/postgres --volume=v-bench-backups:/data/postgres/backups \
			"$image" >/dev/null
		first=$(healthy_since "$t")
		t=$(now)
		podman restart c-bench >/dev/null
		restart_cmd=$(since "$t")
		restart=$(healthy_since "$t")
		pid=$(podman inspect -f "{{.State.Pid}}" c-bench)
		t=$(now)
		kill -KILL "$pid"
		podman wait c-bench >/dev/null
		podman start c-bench >/dev/null
		crash=$(healthy_since "$t")
		printf "%s round %d load %s: first %s restart %s (command %s) kill-9 %s\n" "$image" "$r" "$load" "$first" "$restart" "$restart_cmd" "$crash"
		podman rm -f c-bench >/dev/null
	done
done
podman volume rm -f v-bench-data v-bench-backups >/dev/null 2>&1 || true
podman secret rm pgq-bench-password >/dev/null'

holder_pid='' target=''
# The holder ends when its podman does (trixie.sh waits for it before it handles a signal).
cleanup() {
	[[ -z $target ]] || kill "$target" 2>/dev/null || true
	[[ -z $holder_pid ]] || wait "$holder_pid" 2>/dev/null || true
}
trap cleanup EXIT

# A podman that runs until stopped holds the lock and the namespaces the measurements enter.
bash test/support/trixie.sh run-podman system service --time=0 &
holder_pid=$!
for _ in {1..6000}; do
	for p in /proc/[0-9]*; do
		[[ $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) == "podman system service --time=0 " ]] || continue
		[[ $(readlink "$p/root" 2>/dev/null) == "$TREE" ]] || continue
		# Ours: a descendant of the trixie.sh this script started.
		q=${p#/proc/}
		while [[ $q -gt 1 && $q != "$holder_pid" ]]; do q=$(awk '{ print $4 }' "/proc/$q/stat" 2>/dev/null || echo 1); done
		[[ $q == "$holder_pid" ]] && target=${p#/proc/} && break 2
	done
	sleep 0.1
done
[[ -n $target ]] || { echo "bench: the tree's podman did not start (another user holds the lock?)" >&2; exit 1; }
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg); 2 cores; other work may run beside" >&2
nsenter --target="$target" --mount --pid --cgroup --ipc --uts --root --wd -- \
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 CONTAINERS_CONF_OVERRIDE=/run/pg-quadlet-containers.conf \
	bash --norc --noprofile -c "$INNER" inner "$rounds" "$PORT" "$@"
