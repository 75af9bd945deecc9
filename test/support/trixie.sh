#!/usr/bin/env bash
# Runs Podman 5.4 from the Debian trixie tree that test/setup.sh builds, without booting it:
# the image is built here, with the host's network, before a machine boots from the same tree
# with a private network and no route out.
#
#   trixie.sh base-image                  import a bookworm minbase as localhost/base-debian:latest
#   trixie.sh build CONTEXT TAG [ARG...]  podman build CONTEXT -t TAG (ARGs go to podman build,
#                                         e.g. --build-arg PG_MAJOR=15 or -f Containerfile.test)
#   trixie.sh run-podman ARG...           any podman command, e.g. run --rm IMAGE cmd, image inspect
#
# Everything runs in fresh mount, PID, cgroup, IPC and UTS namespaces chrooted into the tree:
# every mount and process vanishes with the command however it ends, and only the image store in
# the tree's /var/lib/containers remains. Containers use the host's network namespace by default
# (no bridge, no firewall rules on the host); a detached container dies with the command.
#
# NEVER run this while a machine is booted from the same tree: both would own
# /var/lib/containers, each with its own /run, and corrupt each other's state. Both sides take
# the lock $CACHE/trixie.lock (flock) for as long as they use the tree; this script waits for it.
set -Eeuo pipefail

CACHE=${PG_QUADLET_TEST_CACHE:-/var/tmp/pg-quadlet-test}
TREE=$CACHE/trixie
LOCK=$CACHE/trixie.lock
BASE_IMAGE=localhost/base-debian:latest
BASE_TAR=$CACHE/base-debian-bookworm.tar
MIRROR=http://deb.debian.org/debian

die() { FAILED=1; echo "trixie.sh: $*" >&2; exit 1; }
usage() { FAILED=1; sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# shellcheck disable=SC2016 # expanded by the inner shell
# Runs inside the new namespaces, before the chroot: builds the tree's view of the system. A
# context directory, if any, is bound read-only at /tmp/context and made the working directory.
# catatonit is PID 1 so conmon's orphans are reaped and signals reach podman.
INNER='set -Eeuo pipefail
T=$TREE
mount --bind "$T" "$T"
mount -t proc -o nosuid,nodev,noexec proc "$T/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$T/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$T/sys/fs/cgroup"
mount -t tmpfs -o nosuid,mode=755,size=4m tmpfs "$T/dev"
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r n ma mi <<<"$d"; mknod -m 666 "$T/dev/$n" c "$ma" "$mi"
done
mkdir -m 755 "$T/dev/pts" && mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$T/dev/pts"
ln -s pts/ptmx "$T/dev/ptmx"
mkdir -m 1777 "$T/dev/shm" && mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$T/dev/shm"
mkdir "$T/dev/mqueue" && mount -t mqueue mqueue "$T/dev/mqueue"
ln -s /proc/self/fd "$T/dev/fd"; ln -s fd/0 "$T/dev/stdin"; ln -s fd/1 "$T/dev/stdout"; ln -s fd/2 "$T/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs "$T/run"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$T/tmp"
printf "[containers]\nnetns = \"host\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n" \
  > "$T/run/pg-quadlet-containers.conf"
dir=/
if [[ -n ${CONTEXT:-} ]]; then
  mkdir "$T/tmp/context" && mount --bind -o ro "$CONTEXT" "$T/tmp/context" && dir=/tmp/context
fi
exec chroot "$T" /bin/sh -c "cd $dir && exec /usr/bin/catatonit -- podman \"\$@\"" sh "$@"'

CGROUP=
CMD=
FAILED=
FAILED_RC=

# The command gets a cgroup of its own, under this shell's, that the namespace sees as its root:
# Podman's cgroups land in it, and it is emptied and removed afterwards.
make_cgroup() {
  local root
  root=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
  [[ -n $root ]] || die "no cgroup2 hierarchy is mounted"
  CGROUP=$root$(sed -n 's/^0:://p' /proc/self/cgroup)/pg-quadlet-trixie-$$
  CGROUP=${CGROUP//\/\//\/}
  mkdir "$CGROUP"
}

remove_cgroup() {
  [[ -n $CGROUP && -d $CGROUP ]] || return 0
  [[ -e $CGROUP/cgroup.kill ]] && echo 1 > "$CGROUP/cgroup.kill" 2>/dev/null
  # Deepest first: a cgroup is removable only once its children are gone.
  local d
  for _ in 1 2 3 4 5; do
    while read -r d; do rmdir "$d" 2>/dev/null || true; done < <(find "$CGROUP" -depth -type d)
    [[ -d $CGROUP ]] || { CGROUP=; return 0; }
    sleep 0.2
  done
  echo "trixie.sh: could not remove $CGROUP" >&2
}

in_tree() {
  make_cgroup
  local rc=0
  # A subshell moves itself into the cgroup, so this shell stays where it was and can remove it.
  (
    echo "$BASHPID" > "$CGROUP/cgroup.procs"
    exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TREE="$TREE" CONTEXT="${CONTEXT:-}" \
      CONTAINERS_CONF_OVERRIDE=/run/pg-quadlet-containers.conf \
      unshare --mount --pid --fork --kill-child --cgroup --ipc --uts --propagation private \
      bash --norc --noprofile -c "$INNER" inner "$@"
  ) || rc=$?
  remove_cgroup
  return "$rc"
}

base_image() {
  if in_tree image exists "$BASE_IMAGE"; then
    echo "trixie.sh: $BASE_IMAGE present"
    return
  fi
  if [[ ! -s $BASE_TAR ]]; then
    echo "trixie.sh: building $BASE_IMAGE with debootstrap (about a minute)..."
    local work=$CACHE/bookworm.tmp
    rm -rf --one-file-system "$work" "$BASE_TAR.tmp"
    # A private mount namespace takes debootstrap's /proc and /sys mounts with it if it dies.
    unshare --mount --propagation private debootstrap --variant=minbase bookworm "$work" "$MIRROR" \
      > "$CACHE/base-debootstrap.log" 2>&1 || { tail -n 20 "$CACHE/base-debootstrap.log" >&2; return 1; }
    # Like Debian's official images: no package cache, no package lists (a build runs apt-get update).
    chroot "$work" apt-get clean
    find "$work/var/lib/apt/lists" -maxdepth 1 -type f -delete
    tar --numeric-owner -C "$work" -cf "$BASE_TAR.tmp" .
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    rm -rf --one-file-system "$work"
  fi
  in_tree import --quiet - "$BASE_IMAGE" < "$BASE_TAR" > /dev/null
  echo "trixie.sh: $BASE_IMAGE imported"
}

build() {
  (($# >= 2)) || usage
  local context tag=$2
  context=$(realpath -e "$1") || die "no build context at $1"
  [[ -d $context ]] || die "the build context $1 is not a directory"
  shift 2
  CONTEXT=$context in_tree build --network=host -t "$tag" "$@" .
}

cleanup() {
  local rc=$?
  remove_cgroup
  rm -rf --one-file-system "$CACHE/bookworm.tmp" "$BASE_TAR.tmp"
  return $rc
}

main() {
  (($# >= 1)) || usage
  ((EUID == 0)) || die "needs root (namespaces and chroot)"
  [[ -f $TREE/.pg-quadlet-test-ready ]] || die "no trixie tree at $TREE: run test/setup.sh as root"
  exec 9>"$LOCK"
  flock 9
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  CMD=$1
  # ERR fires again in every function the failure returns through: report it once.
  trap 'FAILED_RC=$?; [[ -n $FAILED ]] || { FAILED=1; echo "trixie.sh: $CMD failed (exit $FAILED_RC)" >&2; }' ERR
  shift
  case $CMD in
    base-image) (($# == 0)) || usage; base_image ;;
    build) build "$@" ;;
    run-podman) (($# >= 1)) || usage; in_tree "$@" ;;
    *) usage ;;
  esac
}

main "$@"
