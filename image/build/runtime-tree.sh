#!/usr/bin/env bash
# Runs in the build stage, where Debian's packages are installed in full. Lays out under OUT only
# the files the product runs (the server, its client tools, contrib, PgBouncer, pgBackRest's one
# binary: the scripts write its configuration at every start), and writes to
# OUT.packages the Debian packages whose shared libraries those files link, so the final stage
# installs exactly those through apt and dpkg still knows every library in the image.
#
# Left out, none of which the product uses: the LLVM JIT provider and its bitcode (with it the
# 100 MB LLVM library; the configuration sets jit = off), man pages, documentation, message
# translations (lc_messages = 'C'), Perl and the postgresql-common wrappers (the scripts call
# the binaries directly), and the locales package (clusters use the C.UTF-8 locale built into libc).
set -Eeuo pipefail

pg_major=$1
out=$2

mkdir -p -- "$out"
tar -C / -cf - \
	"usr/lib/postgresql/$pg_major/bin" \
	"usr/lib/postgresql/$pg_major/lib" \
	"usr/share/postgresql/$pg_major" \
	usr/sbin/pgbouncer \
	usr/bin/pgbackrest |
	tar -C "$out" -xf -
rm -rf -- \
	"$out/usr/lib/postgresql/$pg_major/lib/bitcode" \
	"$out/usr/lib/postgresql/$pg_major/lib/llvmjit.so" \
	"$out/usr/lib/postgresql/$pg_major/lib/llvmjit_types.bc" \
	"$out/usr/share/postgresql/$pg_major/man"

# dpkg records the merged-/usr path of a library; the loader may report the /lib one.
owner_package() {
	local lib=$1 path
	for path in "$lib" "/usr$lib" "${lib#/usr}" "$(readlink -f "$lib")"; do
		dpkg-query --search "$path" 2>/dev/null && return 0
	done
	echo "runtime-tree: no Debian package owns $lib" >&2
	return 1
}

libraries=$(
	find "$out" -type f \( -perm -u+x -o -name '*.so' \) -print0 |
		while IFS= read -r -d '' file; do ldd "$file" 2>/dev/null || true; done
)
if grep -q 'not found' <<<"$libraries"; then
	grep 'not found' <<<"$libraries" >&2
	echo "runtime-tree: a library the runtime needs is missing" >&2
	exit 1
fi
awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$libraries" | sort -u |
	while read -r lib; do owner_package "$lib"; done |
	cut -d: -f1 | sort -u >"$out.packages"
echo "runtime-tree: $(du -sh "$out" | cut -f1) of files, linking: $(tr '\n' ' ' <"$out.packages")"
