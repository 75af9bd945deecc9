#!/usr/bin/env bash
# Installs the real tools the test suite runs against, so no test has to trust a mock:
# PostgreSQL 15, PgBouncer and pgBackRest for the image's scripts, Podman 5.4's Quadlet generator
# to validate every rendered unit, and a Debian trixie tree (systemd 257, Podman 5.4) that serves
# both for `systemd-analyze verify` by chroot and as a machine booted with systemd-nspawn.
#
# Idempotent and quick when everything is there. Without root or apt it installs nothing, names
# what is missing and exits 0: the tests needing a missing tool skip with a reason (and CI, which
# runs as root, turns any skip into a failure).
set -Eeuo pipefail

CACHE=${PG_QUADLET_TEST_CACHE:-/var/tmp/pg-quadlet-test}
# Keep these three paths in step with test/support/real-tools.ts.
QUADLET_DIR=$CACHE/podman
QUADLET=$QUADLET_DIR/usr/libexec/podman/quadlet
TREE=$CACHE/trixie
TREE_READY=$TREE/.pg-quadlet-test-ready
MIRROR=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

DEBIAN_PACKAGES=(postgresql-15 postgresql-client-15 postgresql-contrib pgbouncer pgbackrest openssl hyperfine shellcheck
  debootstrap systemd-container)
TREE_PACKAGES=systemd,systemd-sysv,dbus,podman,crun,conmon,netavark,aardvark-dns,passt,catatonit,uidmap,iproute2,nftables,iptables,postgresql-client,procps,ca-certificates,libpam-systemd,nodejs

STEP='start'
trap 'echo "setup: step \"$STEP\" failed (exit $?)" >&2' ERR

say() { echo "setup: $*"; }

# A tree an older or killed run left may still have something mounted inside.
unmount_under() {
  local mnt
  while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done \
    < <(findmnt -rn -o TARGET | grep -F "$1/" | sort -r || true)
}

installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# The marker holds the recipe, so changing the package list or the configuration rebuilds the tree.
TREE_RECIPE="packages=$TREE_PACKAGES config=1"
tree_ready() { [[ -f $TREE_READY && $(<"$TREE_READY") == "$TREE_RECIPE" ]]; }

# Without root nothing can be installed; say what is missing so a skipped test is no surprise.
report_missing() {
  local why=$1 p missing=0
  if command -v dpkg-query >/dev/null; then
    for p in "${DEBIAN_PACKAGES[@]}"; do
      installed "$p" || { say "$p is not installed ($why): the tests needing it will be skipped"; missing=1; }
    done
  else
    say "dpkg is not available ($why): the tests needing PostgreSQL, PgBouncer or systemd-nspawn will be skipped"
    missing=1
  fi
  [[ -x $QUADLET ]] || { say "Podman's quadlet generator is not installed at $QUADLET ($why): the Quadlet tests will be skipped"; missing=1; }
  if ! tree_ready; then
    say "the trixie tree (systemd 257 + Podman) is not built at $TREE ($why): the systemd and machine tests will be skipped"
    missing=1
  elif ((EUID != 0)); then
    say "the trixie tree is used by chroot, which needs root: the systemd and machine tests will be skipped"
    missing=1
  fi
  ((missing)) || say "all real tools present"
}

if ((EUID != 0)) || ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  if ((EUID != 0)); then report_missing 'run test/setup.sh as root to install it'
  else report_missing 'apt is not available'; fi
  exit 0
fi

APT=(apt-get -o DPkg::Lock::Timeout=600)
export DEBIAN_FRONTEND=noninteractive

step_debian_packages() {
  STEP='Debian packages'
  local p missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then say "Debian packages present"; return; fi
  say "installing Debian packages: ${missing[*]}..."
  local t0=$SECONDS
  { "${APT[@]}" update && "${APT[@]}" -y install --no-install-recommends "${missing[@]}"; } \
    > "$CACHE/apt.log" 2>&1 || { tail -n 20 "$CACHE/apt.log" >&2; return 1; }
  say "Debian packages installed in $((SECONDS - t0)) s"
}

# A directory an interrupted run left behind may still hold debootstrap's mounts: unmount them
# before deleting, and never cross into another file system while deleting.
remove_tree() {
  [[ -e $1 ]] || return 0
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

# Only the podman .deb from trixie is fetched, with a private source list and state, so apt's own
# configuration and the host's package lists stay as they are. The generator needs only libc.
step_quadlet() {
  STEP='quadlet generator'
  if [[ -x $QUADLET ]] && "$QUADLET" -version >/dev/null 2>&1; then
    say "quadlet present ($("$QUADLET" -version 2>&1))"
    return
  fi
  say "fetching Podman 5.4's quadlet generator from trixie..."
  local t0=$SECONDS work=$CACHE/podman.tmp
  remove_tree "$work"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: %s\n' "$MIRROR" "$KEYRING" \
    > "$work/trixie.sources"
  local a=(-o "Dir::Etc::SourceList=$work/trixie.sources" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  { apt-get "${a[@]}" update && (cd "$work/deb" && apt-get "${a[@]}" download podman/trixie); } \
    > "$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; return 1; }
  dpkg -x "$work"/deb/podman_*.deb "$work/x"
  "$work/x/usr/libexec/podman/quadlet" -version >/dev/null
  remove_tree "$QUADLET_DIR"
  mv "$work/x" "$QUADLET_DIR"
  remove_tree "$work"
  say "quadlet installed ($("$QUADLET" -version 2>&1)) in $((SECONDS - t0)) s"
}

# A host limit of "unlimited" is -1 to Podman.
host_limit() { local v; v=$(ulimit -H "$1"); [[ $v == unlimited ]] && echo -1 || echo "$v"; }

configure_tree() {
  local root=$1 nofile nproc
  # The kernel here loads no modules: the unit would fail and leave the machine "degraded".
  ln -sf /dev/null "$root/etc/systemd/system/systemd-modules-load.service"
  # The booted machine's cgroup v2 has no controllers delegated, and a container may not raise
  # limits above the host's hard ones: without this, `podman run` and `podman build` fail.
  nofile=$(host_limit -n)
  nproc=$(host_limit -u)
  mkdir -p "$root/etc/containers/containers.conf.d" "$root/etc/containers/registries.conf.d"
  printf '[containers]\npids_limit = 0\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "$nofile" "$nofile" "$nproc" "$nproc" > "$root/etc/containers/containers.conf.d/50-pg-quadlet-test.conf"
  # No registry is reachable: every image is local and named in full (localhost/...).
  printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' \
    > "$root/etc/containers/registries.conf.d/50-pg-quadlet-test.conf"
  chroot "$root" apt-get clean
}

# Built beside its final place and renamed only when complete, with a marker inside: an
# interrupted run never leaves a tree that looks ready.
step_trixie_tree() {
  STEP='trixie tree'
  if tree_ready; then say "trixie tree present ($TREE)"; return; fi
  if [[ -e $TREE ]]; then say "trixie tree at $TREE is incomplete or outdated: rebuilding (about a minute)..."
  else say "building trixie tree (about a minute)..."; fi
  local t0=$SECONDS work=$CACHE/trixie.tmp
  remove_tree "$work"
  # In a private mount namespace, debootstrap's /proc and /sys mounts go away even if it is killed.
  unshare --mount --propagation private \
    debootstrap --variant=minbase --include="$TREE_PACKAGES" trixie "$work" "$MIRROR" \
    > "$CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$CACHE/debootstrap.log" >&2; return 1; }
  configure_tree "$work"
  echo "$TREE_RECIPE" > "$work/.pg-quadlet-test-ready"
  # Not under a booted machine or a build (test/support/trixie.sh): they hold this lock.
  exec 8>"$CACHE/trixie.lock"
  flock 8
  remove_tree "$TREE"
  mv "$work" "$TREE"
  exec 8>&-
  say "trixie tree built in $((SECONDS - t0)) s ($(du -sh --one-file-system "$TREE" | cut -f1))"
}

STEP='cache directory'
mkdir -p "$CACHE"
step_debian_packages
# Two runs at once (two checkouts, say) would build over each other's temp dirs.
STEP='cache lock'
exec 9>"$CACHE/.setup.lock"
flock 9
step_quadlet
step_trixie_tree
