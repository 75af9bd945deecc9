#!/usr/bin/env bash
# What the benchmark scripts share: their messages, and writing their results into the page that
# documents them. Sourced after the script has changed to the repository's root.

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

# bench_replace_section DOC TEXT: replaces DOC's section "## Benchmark" (to the next "## " heading
# or the end) with TEXT, which starts with that heading; appends it when DOC has none. Says so.
bench_replace_section() {
	awk -v text="$2" '
		/^## Benchmark$/ { print text; skipping = 1; done = 1; next }
		skipping && /^## / { skipping = 0; print "" }
		!skipping { print }
		END { if (!done) print "\n" text }
	' "$1" >"$1.tmp"
	mv -f -- "$1.tmp" "$1"
	say "results written to $1"
}
