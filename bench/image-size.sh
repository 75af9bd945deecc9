#!/usr/bin/env bash
# Builds the product's image (image/) and a naive one on the same base, and prints both sizes and
# their ratio. Fails when the product's image is more than half the naive one. The naive image is
# Debian's postgresql-15 installed with --no-install-recommends, given the usual hygiene so the
# comparison flatters nothing: apt's cache and lists removed, and no cluster created at install.
#
#   bench/image-size.sh [BASE_IMAGE]     default localhost/base-debian:latest
#
# Uses `podman` when it is on PATH; otherwise Podman 5.4 from the test tree (test/support/trixie.sh,
# set up by test/setup.sh), importing the bookworm minbase base image there first.
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
base=${1:-localhost/base-debian:latest}
ours=localhost/pg-quadlet-bench-image:latest
naive=localhost/pg-quadlet-bench-naive:latest

context=$(mktemp -d)
trap 'rm -rf -- "$context"' EXIT

# Quiet unless the build fails; then its last lines say why.
logged() {
	"$@" >"$context/build.log" 2>&1 || { tail -n 30 "$context/build.log" >&2; return 1; }
}

if command -v podman >/dev/null; then
	podman_() { podman "$@"; }
	build() { logged podman build -t "$2" --build-arg "BASE_IMAGE=$base" "$1"; }
else
	trixie=$repo/test/support/trixie.sh
	[[ -x $trixie || -f $trixie ]] || { echo "image-size: neither podman nor $trixie is available" >&2; exit 1; }
	podman_() { bash "$trixie" run-podman "$@"; }
	build() { logged bash "$trixie" build "$1" "$2" --build-arg "BASE_IMAGE=$base"; }
	[[ $base != localhost/base-debian:latest ]] || bash "$trixie" base-image >/dev/null
fi

mkdir "$context/naive"
cat >"$context/naive/Containerfile" <<'CONTAINERFILE'
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
CONTAINERFILE

size() { podman_ image inspect --format '{{.Size}}' "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

start=$SECONDS
build "$repo/image" "$ours"
ours_seconds=$((SECONDS - start))
start=$SECONDS
build "$context/naive" "$naive"
naive_seconds=$((SECONDS - start))

base_size=$(size "$base")
ours_size=$(size "$ours")
naive_size=$(size "$naive")
ratio=$(awk -v a="$ours_size" -v b="$naive_size" 'BEGIN { printf "%.2f", a / b }')

printf '%-7s %-45s %10s\n' base "$base" "$(mb "$base_size")"
printf '%-7s %-45s %10s  (+%s over the base, built in %s s)\n' naive "apt-get install postgresql-15" "$(mb "$naive_size")" "$(mb $((naive_size - base_size)))" "$naive_seconds"
printf '%-7s %-45s %10s  (+%s over the base, built in %s s)\n' image "image/ (this product)" "$(mb "$ours_size")" "$(mb $((ours_size - base_size)))" "$ours_seconds"
printf 'ratio image/naive: %s (goal: at most 0.50)\n' "$ratio"
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.5) }' || { echo "image-size: the image is more than half the naive one" >&2; exit 1; }
