#!/usr/bin/env bash
# The spec's backup (`pg_dump | gzip`) and restore (`gunzip | psql`) against backup.sh and
# restore.sh, side by side in one run, on a pgbench database served by the image's own entrypoint
# and configuration. Runs each RUNS times, alternating, and reports medians and ratios.
#
# Usage (as root, with PostgreSQL 15 installed): bench/backup.sh [--write]
#   --write       also put the results into docs/backup-restore.md
#   SCALE=50      pgbench scale (50: 5 million accounts, 750 MB)
#   PARTITIONS=0  split pgbench_accounts into this many partitions (tables a parallel job can take)
#   DATASET=orders  instead of pgbench: SCALE x 30000 rows of order-like text, numbers and JSON,
#                 which compress like application data rather than pgbench's blank padding
#   RUNS=3        runs of each; LEVELS="1 6" also times backup.sh at these gzip levels
# Goals on 2 cores: backup at least 3x faster, restore at least 1.5x faster, size no larger.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source bench/lib.sh

PG_BIN=/usr/lib/postgresql/15/bin
SCALE=${SCALE:-50}
PARTITIONS=${PARTITIONS:-0}
DATASET=${DATASET:-pgbench}
RUNS=${RUNS:-3}
LEVELS=${LEVELS:-}
PORT=${PORT:-55499}
WRITE=${1:-}
DOC=docs/backup-restore.md
PASSWORD=bench-password

preflight() {
	((EUID == 0)) || { say "run as root: the server runs as the OS user postgres"; exit 1; }
	[[ -x $PG_BIN/postgres ]] || { say "PostgreSQL 15 is missing ($PG_BIN): apt-get install postgresql-15"; exit 1; }
	[[ -z $WRITE || $WRITE == --write ]] || { say "unknown argument $WRITE"; exit 1; }
}

setup_dirs() {
	work=$(mktemp -d /var/tmp/pg-quadlet-bench.XXXXXX)
	mkdir -p "$work/run" "$work/backups" "$work/secrets" "$work/spec"
	cp -r image "$work/image"
	printf '%s' "$PASSWORD" >"$work/secrets/password"
	chmod 0400 "$work/secrets/password"
	chown -R postgres:postgres "$work"
	chmod 0755 "$work"
}

# A command as postgres with the container's environment, pointed into the work directory.
as_postgres() {
	setpriv --reuid=postgres --regid=postgres --init-groups -- env -i \
		PATH="$PG_BIN:/usr/bin:/bin" HOME="$work" PGDATA="$work/pgdata" POSTGRES_PORT="$PORT" \
		POSTGRES_SOCKET_DIR="$work/run" POSTGRES_TEMPLATE_DIR="$work/image/config" \
		POSTGRES_INITDB_DIR="$work/init.d" POSTGRES_PASSWORD_FILE="$work/secrets/password" \
		POSTGRES_BACKUP_DIR="$work/backups" POSTGRES_USER=poststack POSTGRES_DB=poststack \
		"$@"
}

# The application's view, as the spec's scripts log in: TCP, role poststack, its password.
as_app() {
	as_postgres env PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=poststack PGPASSWORD="$PASSWORD" "$@"
}

as_superuser() {
	as_postgres env PGOPTIONS='-c client_min_messages=warning' psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 \
		--host="$work/run" --port="$PORT" --username=postgres "$@"
}

start_server() {
	as_postgres "$work/image/scripts/entrypoint.sh" >"$work/server.log" 2>&1 &
	server_pid=$!
	local tries=0
	until as_app psql --no-psqlrc --quiet --command='SELECT 1' poststack >/dev/null 2>&1; do
		((++tries < 600)) || { cat "$work/server.log" >&2; say "the server did not start"; exit 1; }
		sleep 0.1
	done
}

cleanup() {
	# $! is the subshell around the server, which ignores SIGINT: the postmaster gets it directly.
	if [[ -n ${server_pid:-} && -f $work/pgdata/postmaster.pid ]]; then
		kill -INT "$(head -n 1 "$work/pgdata/postmaster.pid")" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	[[ -z ${work:-} ]] || rm -rf -- "$work"
}

populate() {
	if [[ $DATASET == orders ]]; then
		populate_orders
	else
		populate_pgbench
	fi
	database_size=$(as_superuser --command="SELECT pg_size_pretty(pg_database_size('poststack'))")
}

populate_pgbench() {
	local -a partitions=()
	((PARTITIONS == 0)) || partitions=("--partitions=$PARTITIONS")
	say "pgbench -i -s $SCALE ${partitions[*]} (as the application role)"
	as_app pgbench --initialize --quiet --scale="$SCALE" "${partitions[@]}" poststack >/dev/null 2>&1
	main_table=pgbench_accounts
	key=aid
	copy_table=pgbench_accounts
	((PARTITIONS == 0)) || copy_table=pgbench_accounts_1
	layout="pgbench -i -s $SCALE${partitions[*]:+ ${partitions[*]}}"
}

populate_orders() {
	say "orders: $((SCALE * 30000)) rows (as the application role)"
	as_app psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --set=rows=$((SCALE * 30000)) poststack <<-'SQL'
		CREATE TABLE orders AS
		SELECT n AS id,
		       timestamptz '2023-01-01' + n * interval '37 seconds' AS created,
		       'user' || (n::bigint * 7919 % 100000) || '@' || (ARRAY['example.org', 'mail.com', 'corp.net'])[1 + n % 3] AS email,
		       (ARRAY['Alice', 'Bob', 'Carol', 'Dave', 'Eve', 'Mallory', 'Oscar', 'Peggy'])[1 + n % 8] || ' '
		         || (ARRAY['Smith', 'Jones', 'Brown', 'Taylor', 'Wilson'])[1 + (n / 8) % 5] AS name,
		       (ARRAY['new', 'paid', 'shipped', 'delivered', 'refunded'])[1 + (n::bigint * 31) % 5] AS status,
		       round((random() * 1000)::numeric, 2) AS amount,
		       jsonb_build_object('ip', (n % 255) || '.' || (n * 3 % 255) || '.1.' || (n % 7),
		                          'agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)', 'Mozilla/5.0 (Macintosh)', 'curl/8.0'])[1 + n % 3],
		                          'ref', md5(n::text)) AS meta,
		       (SELECT string_agg((ARRAY['the', 'order', 'was', 'placed', 'by', 'customer', 'and', 'shipped', 'quickly',
		                                 'with', 'care', 'fragile', 'box', 'express'])[1 + ((n::bigint * k * 13) % 14)], ' ')
		          FROM generate_series(1, 5 + n % 10) k) AS note
		  FROM generate_series(1, :rows) n;
		ALTER TABLE orders ADD PRIMARY KEY (id);
	SQL
	main_table=orders
	key=id
	copy_table=orders
	layout="orders, $((SCALE * 30000)) rows"
}

now() { printf '%s\n' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

spec_backup() {
	local start
	start=$(now)
	# The spec's pipeline (with the password it never supplies, so that it runs at all).
	as_app bash -c "pg_dump poststack | gzip > '$work/spec/poststack.sql.gz'"
	spec_backup_s+=("$(since "$start")")
	spec_bytes=$(stat --format=%s "$work/spec/poststack.sql.gz")
}

# backup.sh's one line: "backup: wrote NAME, SIZE (BYTES bytes) in SECONDS s; ..."
line_name() { sed -E 's/^backup: wrote ([^,]+),.*/\1/' <<<"$1"; }
line_bytes() { sed -E 's/.*\(([0-9]+) bytes\).*/\1/' <<<"$1"; }

our_backup() {
	local start line seconds level=${1:-}
	local -a settings=()
	[[ -z $level ]] || settings=("BACKUP_COMPRESS_LEVEL=$level")
	start=$(now)
	line=$(as_postgres env "${settings[@]}" "$work/image/scripts/backup.sh")
	seconds=$(since "$start")
	if [[ -n $level ]]; then
		level_seconds[$level]+="$seconds "
		level_bytes[$level]=$(line_bytes "$line")
		rm -rf -- "${work:?}/backups/$(line_name "$line")"
		return 0
	fi
	our_backup_s+=("$seconds")
	our_name=$(line_name "$line")
	our_bytes=$(line_bytes "$line")
}

# An empty database as the entrypoint makes one: owned by the application role, with the
# extensions only a superuser may create (the spec's dump, taken as that role, expects them).
spec_restore() {
	local start
	as_superuser --command='DROP DATABASE IF EXISTS spec_restore' --command='CREATE DATABASE spec_restore OWNER poststack'
	as_superuser --dbname=spec_restore --command='CREATE EXTENSION "uuid-ossp"; CREATE EXTENSION pgcrypto; CREATE EXTENSION pg_stat_statements'
	as_superuser --command='CHECKPOINT'
	start=$(now)
	# As the spec runs it, errors do not stop psql: the role may not comment on the extensions,
	# which the superuser created. check_restores compares the data itself.
	as_app bash -c "gunzip < '$work/spec/poststack.sql.gz' | psql --quiet spec_restore >/dev/null 2>&1"
	spec_restore_s+=("$(since "$start")")
}

our_restore() {
	local start
	as_superuser --command='CHECKPOINT'
	start=$(now)
	as_postgres "$work/image/scripts/restore.sh" "$our_name" 2>/dev/null >/dev/null
	our_restore_s+=("$(since "$start")")
	as_superuser --command="SELECT format('DROP DATABASE %I', datname) FROM pg_database WHERE datname LIKE 'poststack\\_pre\\_restore\\_%'" --command='\gexec' >/dev/null
}

check_restores() {
	local sums="SELECT count(*) || md5(string_agg(t::text, ',' ORDER BY $key)) FROM $main_table t"
	[[ $(as_superuser --dbname=poststack --command="$sums") == "$(as_superuser --dbname=spec_restore --command="$sums")" ]] ||
		{ say "the two restores differ"; exit 1; }
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# What the server alone needs for the biggest table, with no client, compression or network:
# its COPY out, and its COPY in (WAL-logged, as every restore's is). No backup or restore that goes
# through COPY, as pg_dump's and pg_restore's do, can beat these.
floors() {
	local start file="$work/floor.copy"
	start=$(now)
	as_superuser --dbname=poststack --command="COPY $copy_table TO '/dev/null'"
	copy_out_s=$(since "$start")
	as_superuser --dbname=poststack --command="COPY $copy_table TO '$file'" \
		--command="CREATE TABLE floor_load (LIKE $copy_table)" --command='CHECKPOINT'
	start=$(now)
	as_superuser --dbname=poststack --command="COPY floor_load FROM '$file'"
	copy_in_s=$(since "$start")
	as_superuser --dbname=poststack --command='DROP TABLE floor_load'
	rm -f -- "$file"
}

report() {
	local sb ob sr or
	sb=$(median "${spec_backup_s[@]}") ob=$(median "${our_backup_s[@]}")
	sr=$(median "${spec_restore_s[@]}") or=$(median "${our_restore_s[@]}")
	cat <<-EOF
		Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average before the run $load_before,
		PostgreSQL $(as_superuser --command='SHOW server_version' | cut -d' ' -f1), \`$layout\` ($database_size), median of $RUNS runs, seconds.

		| | spec (\`pg_dump \| gzip\`, \`gunzip \| psql\`) | pg-quadlet (\`backup.sh\`, \`restore.sh\`) | spec / pg-quadlet | goal |
		| --- | --- | --- | --- | --- |
		| backup time | $sb s | $ob s | $(ratio "$sb" "$ob")x | at least 3x |
		| backup size | $(mib "$spec_bytes") ($spec_bytes bytes) | $(mib "$our_bytes") ($our_bytes bytes) | $(ratio "$spec_bytes" "$our_bytes")x | at least 1.00x |
		| restore time | $sr s | $or s | $(ratio "$sr" "$or")x | at least 1.5x |

		Every run: backup ${spec_backup_s[*]} / ${our_backup_s[*]}; restore ${spec_restore_s[*]} / ${our_restore_s[*]}.
		The server alone, for \`$copy_table\`: \`COPY TO '/dev/null'\` $copy_out_s s, \`COPY FROM\` a file $copy_in_s s.
	EOF
	if [[ -n $LEVELS ]]; then
		local level
		printf '\nbackup.sh by gzip level (BACKUP_COMPRESS_LEVEL), median of %d runs:\n\n' "$RUNS"
		printf '| level | seconds | bytes | size / spec |\n| --- | --- | --- | --- |\n'
		for level in $LEVELS; do
			# shellcheck disable=SC2086 # the runs' seconds, one word each
			printf '| %s | %s | %s | %s |\n' "$level" "$(median ${level_seconds[$level]})" "${level_bytes[$level]}" \
				"$(ratio "${level_bytes[$level]}" "$spec_bytes")"
		done
	fi
}

# Each data set and layout has its own place in the document, between its two markers.
write_doc() {
	local results=$1 key=$DATASET begin end
	((PARTITIONS == 0)) || key+="-partitions"
	begin="<!-- bench:backup:$key:begin -->" end="<!-- bench:backup:$key:end -->"
	grep -qF -- "$begin" "$DOC" || { say "$DOC has no $begin marker"; exit 1; }
	awk -v begin="$begin" -v end="$end" -v results="$results" '
		$0 == begin { print; print results; skipping = 1; next }
		$0 == end { skipping = 0 }
		!skipping { print }
	' "$DOC" >"$DOC.tmp"
	mv -f -- "$DOC.tmp" "$DOC"
	say "results written to $DOC"
}

main() {
	preflight
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	spec_backup_s=() our_backup_s=() spec_restore_s=() our_restore_s=()
	declare -gA level_seconds=() level_bytes=()
	trap cleanup EXIT
	setup_dirs
	start_server
	populate
	floors
	local run level
	for ((run = 1; run <= RUNS; run++)); do
		say "run $run of $RUNS"
		if ((run % 2)); then spec_backup; our_backup; else our_backup; spec_backup; fi
		if ((run % 2)); then spec_restore; our_restore; else our_restore; spec_restore; fi
		check_restores
		for level in $LEVELS; do
			say "backup.sh at gzip level $level"
			our_backup "$level"
		done
	done
	local results
	results=$(report)
	printf '%s\n' "$results"
	[[ -z $WRITE ]] || write_doc "$results"
}

main
