#!/usr/bin/env bash
# Boots the Debian trixie tree that test/setup.sh builds as a machine (systemd 257, Podman 5.4)
# with systemd-nspawn, and keeps it until told to stop or until its caller goes away.
#
#   machine.sh RUNDIR [NSPAWN-ARG...]
#
# The machine runs on an overlay: the tree is the lower layer and RUNDIR/upper takes every change
# (installed units, users, the journal), so the cached tree stays as it was and a power-off keeps
# the machine's state for the next boot in the same run. Podman's overlay storage cannot live on
# an overlay: the caller binds directories of RUNDIR at /var/lib/containers and /home.
#
# Protocol: lines on standard input, answers on standard output.
#   (start)      boots; prints "ready LEADER STATE" (STATE from systemctl is-system-running)
#   reboot       powers off, boots again; prints "ready LEADER STATE" again
#   poweroff     powers off and exits; so does the end of standard input (the caller died)
# On failure it prints "error MESSAGE" and exits non-zero. Every wait is bounded. Whatever ends
# it, the machine's processes (all in one cgroup) are killed and the cgroup removed; mounts live
# in a private mount namespace and vanish with it. The tree's lock is held throughout, as
# test/support/trixie.sh expects: both own /var/lib/containers.
set -Eeuo pipefail

CACHE=${PG_QUADLET_TEST_CACHE:-/var/tmp/pg-quadlet-test}
TREE=$CACHE/trixie
LOCK=$CACHE/trixie.lock
RUNDIR=${1:?usage: machine.sh RUNDIR [NSPAWN-ARG...]}
shift
NAME=pgq-e2e-$$
BOOT_TIMEOUT=${MACHINE_BOOT_TIMEOUT:-90}
STOP_TIMEOUT=${MACHINE_STOP_TIMEOUT:-60}
LOCK_TIMEOUT=${MACHINE_LOCK_TIMEOUT:-900}

CGROUP=
NSPAWN=
LEADER=

say() { printf '%s\n' "$*"; }
log() { printf 'machine.sh: %s\n' "$*" >&2; }
fail() { say "error $*"; log "$*"; exit 1; }

# The hierarchy nspawn needs is cgroup v2; this host mounts it beside the v1 ones.
cgroup_root() {
  local root
  root=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
  [[ -n $root ]] || fail "no cgroup2 hierarchy is mounted"
  printf '%s' "$root"
}

kill_cgroup() {
  [[ -n $CGROUP && -d $CGROUP ]] || return 0
  if [[ -e $CGROUP/cgroup.kill ]]; then
    echo 1 > "$CGROUP/cgroup.kill" 2>/dev/null || true
  else
    local pid
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < <(find "$CGROUP" -name cgroup.procs -exec cat {} +)
  fi
  local d
  for _ in $(seq 50); do
    while read -r d; do rmdir "$d" 2>/dev/null || true; done < <(find "$CGROUP" -depth -type d 2>/dev/null)
    [[ -d $CGROUP ]] || { CGROUP=; return 0; }
    sleep 0.1
  done
  log "could not remove $CGROUP"
}

in_machine() {
  timeout 20 nsenter --target="$LEADER" --all -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

boot() {
  CGROUP=$(cgroup_root)/$NAME
  mkdir "$CGROUP"
  mkdir -p "$RUNDIR/upper" "$RUNDIR/work" "$RUNDIR/root"
  # The subshell joins the cgroup itself, so this shell stays outside and can empty it later.
  (
    echo "$BASHPID" > "$CGROUP/cgroup.procs"
    exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 TREE="$TREE" RUNDIR="$RUNDIR" \
      unshare --mount --propagation private -- bash -c '
        set -e
        mount -t overlay overlay -o "lowerdir=$TREE,upperdir=$RUNDIR/upper,workdir=$RUNDIR/work" "$RUNDIR/root"
        exec systemd-nspawn "$@"' nspawn \
      --directory="$RUNDIR/root" --machine="$NAME" --boot --register=no --keep-unit \
      --private-network --console=read-only --capability=all --system-call-filter='@keyring bpf' \
      --bind=/dev/fuse "$@"
  ) < /dev/null > "$RUNDIR/console.log" 2>&1 &
  NSPAWN=$!
  local deadline=$((SECONDS + BOOT_TIMEOUT)) state=
  LEADER=
  while [[ -z $LEADER ]]; do
    kill -0 "$NSPAWN" 2>/dev/null || fail "systemd-nspawn exited during boot: $(tail -n 20 "$RUNDIR/console.log" | tr '\n' ' ')"
    ((SECONDS < deadline)) || fail "no machine leader after ${BOOT_TIMEOUT} s"
    LEADER=$(pgrep -P "$NSPAWN" | head -n 1 || true)
    # The leader is nspawn's child once it runs systemd, not before.
    [[ -n $LEADER && $(readlink "/proc/$LEADER/exe" 2>/dev/null) == */systemd ]] || { LEADER=; sleep 0.05; }
  done
  while :; do
    state=$(in_machine systemctl is-system-running 2>/dev/null || true)
    case $state in
      running | degraded) break ;;
    esac
    kill -0 "$NSPAWN" 2>/dev/null || fail "the machine exited during boot: $(tail -n 20 "$RUNDIR/console.log" | tr '\n' ' ')"
    ((SECONDS < deadline)) || fail "the machine is still '$state' after ${BOOT_TIMEOUT} s"
    sleep 0.1
  done
  say "ready $LEADER $state"
}

poweroff() {
  [[ -n $NSPAWN ]] || return 0
  if kill -0 "$NSPAWN" 2>/dev/null; then
    # SIGRTMIN+4 asks systemd for a clean power-off, like `systemctl poweroff`.
    [[ -n $LEADER ]] && kill -s RTMIN+4 "$LEADER" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$NSPAWN" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$NSPAWN" 2>/dev/null; then
      log "the machine did not power off within ${STOP_TIMEOUT} s: killing it"
      kill_cgroup
    fi
  fi
  wait "$NSPAWN" 2>/dev/null || true
  NSPAWN=
  LEADER=
  kill_cgroup
}

cleanup() {
  local rc=$?
  trap - EXIT
  poweroff
  kill_cgroup
  exit "$rc"
}

[[ $EUID -eq 0 ]] || fail "needs root"
[[ -f $TREE/.pg-quadlet-test-ready ]] || fail "no trixie tree at $TREE: run test/setup.sh as root"
exec 9>"$LOCK"
flock -w "$LOCK_TIMEOUT" 9 || fail "the tree's lock $LOCK was busy for ${LOCK_TIMEOUT} s"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP PIPE

NSPAWN_ARGS=("$@")
boot "${NSPAWN_ARGS[@]}"
while IFS= read -r command; do
  case $command in
    reboot) poweroff; boot "${NSPAWN_ARGS[@]}" ;;
    poweroff) break ;;
    *) log "unknown command: $command" ;;
  esac
done
poweroff
say "down"
