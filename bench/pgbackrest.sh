#!/usr/bin/env bash
# The spec's backup (`pg_dump | gzip`) and restore (`gunzip | psql`) against pgBackRest as the
# image runs it (`pgbackrest.sh backup full`; `set-aside`, `restore --latest`, the next start until
# promoted), side by side in one run, on a pgbench database served by the image's own entrypoint
# and configuration. Runs each RUNS times (backups alternating), then an incremental backup after
# a write load, and reports medians, ratios and the goals. See "## Benchmark" in docs/pgbackrest.md.
#
# Usage (as root, with PostgreSQL 15, pgBackRest, perl and /usr/bin/time installed):
#   bench/pgbackrest.sh [--write]
#   --write          also put the results into docs/pgbackrest.md (its section "## Benchmark")
#   SCALE=50         pgbench scale (50: 5 million accounts, 750 MB)
#   RUNS=3           runs of each
#   LOAD_SECONDS=20  the write load before each incremental backup (pgbench -c 4, default script)
#   PORT=55498       the server's TCP port
# Goals on 2 cores: restore at least 2.5x faster; full backup at least 1.4x faster with at most
# 0.4x the CPU-seconds; full backup at most 3x the size of the gzip dump.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
source bench/lib.sh

PG_BIN=/usr/lib/postgresql/15/bin
SCALE=${SCALE:-50}
RUNS=${RUNS:-3}
LOAD_SECONDS=${LOAD_SECONDS:-20}
PORT=${PORT:-55498}
WRITE=${1:-}
DOC=${DOC:-docs/pgbackrest.md}
PASSWORD=bench-password
STANZA=main

preflight() {
	((EUID == 0)) || die "run as root: the server runs as the OS user postgres"
	[[ -x $PG_BIN/postgres ]] || die "PostgreSQL 15 is missing ($PG_BIN): apt-get install postgresql-15"
	[[ -x /usr/bin/pgbackrest ]] || die "pgBackRest is missing: apt-get install pgbackrest"
	[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install time"
	command -v perl >/dev/null || die "perl is missing"
	[[ -z $WRITE || $WRITE == --write ]] || die "unknown argument $WRITE"
	[[ $SCALE =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ && $LOAD_SECONDS =~ ^[1-9][0-9]*$ ]] ||
		die "SCALE, RUNS and LOAD_SECONDS must be positive whole numbers"
	clock_ticks=$(getconf CLK_TCK)
}

# Runs a command as a child subreaper (prctl PR_SET_CHILD_SUBREAPER) and waits for it and for
# every process orphaned below it: what detaches (pgBackRest's asynchronous archive-push, the
# temporary server pg_ctl starts) is reaped here, so its CPU time lands in this process's cutime
# and cstime instead of in init's. Exits with the command's status.
# shellcheck disable=SC2016 # Perl, not the shell, expands these
REAPER='
use strict;
use POSIX ();
my %prctl = (x86_64 => 157, aarch64 => 167, i686 => 172, armv7l => 172);
my $nr = $prctl{(POSIX::uname())[4]} or die "reaper: no prctl number for this machine\n";
syscall($nr, 36, 1, 0, 0, 0) == 0 or die "reaper: prctl(PR_SET_CHILD_SUBREAPER): $!\n";
defined(my $child = fork) or die "reaper: fork: $!\n";
if (!$child) { exec { $ARGV[0] } @ARGV or die "reaper: exec $ARGV[0]: $!\n" }
my $status = 0;
while ((my $pid = waitpid(-1, 0)) > 0) { $status = $? if $pid == $child }
exit($status & 127 ? 128 + ($status & 127) : $status >> 8);
'

# perl -e "$PROC_TREE" cpu|pids ROOT: the clock ticks used by ROOT and every process below it
# (utime + stime + cutime + cstime, from /proc/PID/stat: the children each has reaped are in its
# cutime and cstime), or their process ids, one a line.
# shellcheck disable=SC2016 # Perl, not the shell, expands these
PROC_TREE='
use strict;
my ($mode, $root) = @ARGV;
my (%kids, %ticks);
for my $stat (glob "/proc/[0-9]*/stat") {
	open(my $fh, "<", $stat) or next;
	my $line = <$fh>;
	next unless defined $line && $line =~ /^(\d+) \(.*\) (.*)$/s;
	my ($pid, @f) = ($1, split(" ", $2));
	push @{$kids{$f[1]}}, $pid;
	$ticks{$pid} = $f[11] + $f[12] + $f[13] + $f[14];
}
my ($sum, @todo, @tree) = (0, $root);
while (defined(my $pid = shift @todo)) {
	next unless exists $ticks{$pid};
	push @tree, $pid;
	$sum += $ticks{$pid};
	push @todo, @{$kids{$pid} // []};
}
print $mode eq "cpu" ? "$sum\n" : map { "$_\n" } @tree;
'

setup_dirs() {
	work=$(mktemp -d /var/tmp/pg-quadlet-bench-pgbackrest.XXXXXX)
	mkdir -p "$work/run" "$work/backups" "$work/secrets" "$work/spec" "$work/certificates"
	cp -r image "$work/image"
	printf '%s' "$PASSWORD" >"$work/secrets/password"
	chmod 0400 "$work/secrets/password"
	chown -R postgres:postgres "$work"
	chmod 0755 "$work"
	repo="$work/backups/pgbackrest"
	# The container's environment, pointed into the work directory; the rest are the image's
	# defaults (pgBackRest's repository in the backup directory, its spool beside PGDATA).
	postgres_cmd=(setpriv --reuid=postgres --regid=postgres --init-groups -- env -i
		PATH="$PG_BIN:/usr/sbin:/usr/bin:/sbin:/bin" HOME="$work" PGDATA="$work/pgdata" POSTGRES_PORT="$PORT"
		POSTGRES_SOCKET_DIR="$work/run" POSTGRES_TEMPLATE_DIR="$work/image/config"
		POSTGRES_INITDB_DIR="$work/init.d" POSTGRES_CERTIFICATES_DIR="$work/certificates"
		POSTGRES_PASSWORD_FILE="$work/secrets/password" POSTGRES_BACKUP_DIR="$work/backups"
		POSTGRES_USER=poststack POSTGRES_DB=poststack PGBACKREST_STANZA="$STANZA")
	# The application's view, as the spec's scripts log in: TCP, role poststack, its password.
	app_env=(env PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=poststack PGPASSWORD="$PASSWORD")
}

as_postgres() { "${postgres_cmd[@]}" "$@"; }
as_app() { as_postgres "${app_env[@]}" "$@"; }
pgbackrest_sh() { as_postgres "$work/image/scripts/pgbackrest.sh" "$@"; }

as_superuser() {
	as_postgres env PGOPTIONS='-c client_min_messages=warning' psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 \
		--host="$work/run" --port="$PORT" --username=postgres "$@"
}

# The entrypoint as the container runs it, below the reaper; returns once the application role
# can log in (a restored cluster takes read-only logins before it is promoted).
start_server() {
	as_postgres perl -e "$REAPER" "$work/image/scripts/entrypoint.sh" >>"$work/server.log" 2>&1 &
	server_pid=$!
	local tries=0
	until as_app psql --no-psqlrc --quiet --command='SELECT 1' poststack >/dev/null 2>&1; do
		if ! kill -0 "$server_pid" 2>/dev/null || ((++tries >= 1200)); then
			tail -n 40 "$work/server.log" >&2
			die "the server did not start"
		fi
		sleep 0.1
	done
}

postmaster_pid() {
	local pid
	[[ -f $work/pgdata/postmaster.pid ]] || return 1
	pid=$(head -n 1 "$work/pgdata/postmaster.pid")
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline && $(tr '\0' ' ' <"/proc/$pid/cmdline") == *postgres* ]] || return 1
	echo "$pid"
}

# A fast shutdown (which ends and archives the current WAL segment), waited out to the end: the
# reaper returns when the postmaster and whatever it left (the archiving) are gone.
stop_server() {
	local pid status=0
	pid=$(postmaster_pid) || die "no server to stop"
	kill -INT "$pid"
	wait "$server_pid" || status=$?
	server_pid=''
	((status == 0)) || { tail -n 40 "$work/server.log" >&2; die "the server stopped with status $status"; }
}

# On any exit: the server stopped (fast shutdown, then SIGKILL to what is left of its tree after
# 60 s), the work directory removed.
cleanup() {
	local pid tries=0
	if [[ -n ${server_pid:-} ]] && kill -0 "$server_pid" 2>/dev/null; then
		if pid=$(postmaster_pid); then kill -INT "$pid" 2>/dev/null || true; fi
		while kill -0 "$server_pid" 2>/dev/null && ((++tries < 600)); do sleep 0.1; done
		if kill -0 "$server_pid" 2>/dev/null; then
			say "the server did not stop: killing its processes"
			for pid in $(perl -e "$PROC_TREE" pids "$server_pid"); do kill -KILL "$pid" 2>/dev/null || true; done
		fi
		wait "$server_pid" 2>/dev/null || true
	fi
	[[ -z ${work:-} ]] || rm -rf -- "$work"
}

now() { printf '%s\n' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

populate() {
	say "pgbench -i -s $SCALE (as the application role)"
	step as_app pgbench --initialize --quiet --scale="$SCALE" poststack
	database_size=$(as_superuser --command="SELECT pg_size_pretty(pg_database_size('poststack'))")
}

# Before each measured step: dirty buffers written and the WAL archived, so that no step pays
# for what came before it (the spec's dump does no checkpoint; pgBackRest's start-fast does one).
settle() {
	as_superuser --command='CHECKPOINT'
	settle_archive
}

# Until no finished WAL segment waits to be archived (up to 10 minutes: at scale 50 the spec's
# restore writes about a gigabyte of WAL, which the archiving may still be pushing).
settle_archive() {
	local tries=0
	until [[ $(as_superuser --dbname=postgres --command="SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'") == 0 ]]; do
		((++tries < 6000)) || die "WAL archiving did not catch up in 10 minutes"
		sleep 0.1
	done
}

# step COMMAND...: runs a command (a function too), its output into $work/stdout and
# $work/stderr; when it fails, says so with the end of what it wrote on stderr, and stops.
step() {
	local status=0
	"$@" >"$work/stdout" 2>"$work/stderr" || status=$?
	((status == 0)) && return 0
	tail -n 30 "$work/stderr" >&2
	die "failed with status $status: ${*##*/}"
}

# measured NAME COMMAND...: runs a program (not a function: /usr/bin/time runs it) as step does,
# and sets NAME_wall (seconds), NAME_client (CPU-seconds of the command and all its children) and
# NAME_server (CPU-seconds of the server's processes from just before the command starts to half
# a second after it ends, which lets the server reap the connection's backend).
measured() {
	local name=$1 before after start wall user sys
	shift
	before=$(perl -e "$PROC_TREE" cpu "$server_pid")
	start=$(now)
	step /usr/bin/time --output="$work/time" --format='%e %U %S' "$@"
	wall=$(since "$start")
	sleep 0.5
	after=$(perl -e "$PROC_TREE" cpu "$server_pid")
	read -r _ user sys < <(tail -n 1 "$work/time")
	printf -v "${name}_wall" '%s' "$wall"
	printf -v "${name}_client" '%s' "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
	printf -v "${name}_server" '%s' "$(awk -v a="$after" -v b="$before" -v t="$clock_ticks" 'BEGIN { printf "%.2f", (a - b) / t }')"
}

spec_backup() {
	settle
	# The spec's pipeline (with the password it never supplies, so that it runs at all).
	measured spec "${postgres_cmd[@]}" "${app_env[@]}" bash -c "pg_dump poststack | gzip > '$work/spec/poststack.sql.gz'"
	spec_backup_s+=("$spec_wall")
	spec_cpu_s+=("$(awk -v c="$spec_client" -v s="$spec_server" 'BEGIN { printf "%.2f", c + s }')")
	spec_split+=("$spec_client+$spec_server")
	spec_bytes=$(stat --format=%s "$work/spec/poststack.sql.gz")
}

# pgbackrest.sh's result line: "pgbackrest.sh: backup LABEL (TYPE), ..."
line_label() { sed -nE 's/^pgbackrest\.sh: backup ([^ ]+) \(.*/\1/p' <<<"$1"; }
archive_bytes() { du -sb "$repo/archive/$STANZA" | cut -f1; }

our_backup() {
	local line label wal_before
	settle
	wal_before=$(archive_bytes)
	measured ours "${postgres_cmd[@]}" "$work/image/scripts/pgbackrest.sh" backup full
	line=$(<"$work/stdout")
	label=$(line_label "$line")
	[[ -n $label ]] || die "pgbackrest.sh backup printed no result line: '$line'"
	our_backup_s+=("$ours_wall")
	our_cpu_s+=("$(awk -v c="$ours_client" -v s="$ours_server" 'BEGIN { printf "%.2f", c + s }')")
	our_split+=("$ours_client+$ours_server")
	our_bytes=$(du -sb "$repo/backup/$STANZA/$label" | cut -f1)
	our_wal_bytes=$(($(archive_bytes) - wal_before))
}

# The spec's restore: a new database (made as the entrypoint makes one: owned by the application
# role, with the extensions only a superuser may create, which the dump expects), then the dump.
spec_restore() {
	local start
	as_superuser --command='DROP DATABASE IF EXISTS spec_restore'
	settle
	start=$(now)
	as_superuser --command='CREATE DATABASE spec_restore OWNER poststack'
	as_superuser --dbname=spec_restore --command='CREATE EXTENSION "uuid-ossp"; CREATE EXTENSION pgcrypto; CREATE EXTENSION pg_stat_statements'
	# As the spec runs it, errors do not stop psql: the role may not comment on the extensions,
	# which the superuser created. check_restores compares the data itself.
	step as_app bash -c "gunzip < '$work/spec/poststack.sql.gz' | psql --quiet spec_restore >/dev/null 2>&1"
	spec_restore_s+=("$(since "$start")")
}

# Ours, timed from the moment the old server is gone: set-aside, restore --latest, the start of
# the entrypoint on the restored cluster, and its WAL replay until promoted.
our_restore() {
	local start restored aside
	settle
	stop_server
	start=$(now)
	step pgbackrest_sh set-aside
	aside=$(<"$work/stdout")
	step pgbackrest_sh restore --latest
	restored=$(since "$start")
	start_server
	step pgbackrest_sh wait-promoted 120
	our_restore_s+=("$(since "$start")")
	our_restore_parts+=("$restored+$(awk -v a="${our_restore_s[-1]}" -v b="$restored" 'BEGIN { printf "%.2f", a - b }')")
	[[ $aside == "$work/pgdata.before-restore-"* && -d $aside ]] || die "set-aside printed '$aside'"
	rm -rf -- "$aside"
}

check_restores() {
	local sums="SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY aid)) FROM pgbench_accounts t"
	local ours spec
	ours=$(as_superuser --dbname=poststack --command="$sums")
	spec=$(as_superuser --dbname=spec_restore --command="$sums")
	[[ $ours == "$spec" ]] || die "the two restores differ: pgBackRest's $ours, the spec's $spec"
	say "both restores hold the same pgbench_accounts (${ours%% *} rows)"
	as_superuser --command='DROP DATABASE spec_restore'
}

# LOAD_SECONDS of pgbench's default script (4 clients), then an incremental backup.
incremental() {
	local line label start tps
	step as_app pgbench --client=4 --time="$LOAD_SECONDS" poststack
	tps=$(sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$work/stdout")
	load_tps+=("${tps%.*}")
	settle_archive
	start=$(now)
	step pgbackrest_sh backup incr
	incr_s+=("$(since "$start")")
	line=$(<"$work/stdout")
	label=$(line_label "$line")
	[[ $label == *I ]] || die "pgbackrest.sh backup incr printed '$line'"
	incr_bytes+=("$(du -sb "$repo/backup/$STANZA/$label" | cut -f1)")
}

# median [-f FORMAT] VALUE...: the median, as printf's FORMAT has it (%.2f: seconds).
median() {
	local format=%.2f
	[[ $1 != -f ]] || { format=$2 && shift 2; }
	printf '%s\n' "$@" | sort -g | awk -v f="$format\n" '{ v[NR] = $1 } END { printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
# met RATIO at-least|at-most GOAL
met() { awk -v r="$1" -v op="$2" -v g="$3" 'BEGIN { ok = (op == "at-least") ? r >= g : r <= g; print ok ? "met" : "missed" }'; }
config_value() { sed -n "s/^$1=//p" "$work/run/pgbackrest/pgbackrest.conf"; }

report() {
	local sb ob sc oc sr or ib it rt ct rs rr tm cm sm rmet
	sb=$(median "${spec_backup_s[@]}") ob=$(median "${our_backup_s[@]}")
	sc=$(median "${spec_cpu_s[@]}") oc=$(median "${our_cpu_s[@]}")
	sr=$(median "${spec_restore_s[@]}") or=$(median "${our_restore_s[@]}")
	ib=$(median -f %d "${incr_bytes[@]}") it=$(median "${incr_s[@]}")
	rt=$(ratio "$sb" "$ob") ct=$(ratio "$oc" "$sc") rs=$(ratio "$our_bytes" "$spec_bytes") rr=$(ratio "$sr" "$or")
	tm=$(met "$rt" at-least 1.4) cm=$(met "$ct" at-most 0.4) sm=$(met "$rs" at-most 3) rmet=$(met "$rr" at-least 2.5)
	cat <<-EOF
		Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),
		load average $load_before at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end;
		PostgreSQL $(as_superuser --command='SHOW server_version' | cut -d' ' -f1), $(pgbackrest version) (\`compress-type=$(config_value compress-type)\`,
		\`compress-level=$(config_value compress-level)\`, \`process-max=$(config_value process-max)\`); \`pgbench -i -s $SCALE\` ($database_size); median of $RUNS run$( ((RUNS == 1)) || echo s).

		| | spec (\`pg_dump \| gzip\`, \`gunzip \| psql\`) | pg-quadlet (pgBackRest) | ratio | goal |
		| --- | --- | --- | --- | --- |
		| full backup time | $sb s | $ob s | ${rt}x (spec / ours) | at least 1.4x: $tm |
		| full backup CPU-seconds | $sc s | $oc s | $ct (ours / spec) | at most 0.4: $cm |
		| full backup size | $(mib "$spec_bytes") ($spec_bytes bytes) | $(mib "$our_bytes") ($our_bytes bytes) | $rs (ours / spec) | at most 3: $sm |
		| restore time | $sr s | $or s | ${rr}x (spec / ours) | at least 2.5x: $rmet |
		| incremental after ${LOAD_SECONDS} s of \`pgbench -c 4\` | | $it s, $(mib "$ib") ($ib bytes) | | |

		Every run, spec / ours: backup ${spec_backup_s[*]} / ${our_backup_s[*]} s; CPU-seconds (client+server)
		${spec_split[*]} / ${our_split[*]}; restore ${spec_restore_s[*]} / ${our_restore_s[*]} s (ours:
		\`restore --latest\`+start until promoted ${our_restore_parts[*]} s). Incremental backups ${incr_s[*]} s,
		${incr_bytes[*]} bytes, after ${load_tps[*]} transactions per second. WAL archived during the last full backup
		(which a restore of it needs besides): $(mib "$our_wal_bytes") ($our_wal_bytes bytes).
	EOF
	summary="pgBackRest restored the database ${rr}x as fast as the spec's \`gunzip | psql\` (goal 2.5x: $rmet): it copies the cluster's files back, decompressing them in $(config_value process-max) processes, and replays only the WAL written since the backup, where a logical restore inserts every row again, writes all of it to WAL and rebuilds every index. Its full backup was ${rt}x as fast (goal 1.4x: $tm) with $ct of the CPU-seconds (goal at most 0.4: $cm): zstd level $(config_value compress-level) in $(config_value process-max) processes on the files as they are, where the spec has the server turn every row into text and one gzip at level 6 compress it. It is ${rs} times the size of the gzip dump (goal at most 3: $sm): it holds the whole cluster (the postgres and template databases too), the indexes and the pages as they are on disk, which a dump leaves out. The incremental backup after ${LOAD_SECONDS} s of writes stored $(mib "$ib") in $it s (the files that changed). pgBackRest's fixed costs weigh more the smaller the database: a backup's checkpoint and its wait for the archiving of its last WAL segment (about a second), a restore's start of the server and promotion."
}

section() {
	cat <<-EOF
		## Benchmark

		\`bench/pgbackrest.sh\` measures, in one run on one pgbench database, the specification's backup
		(\`pg_dump poststack | gzip\`, as the application role) and restore (\`createdb\`, then
		\`gunzip | psql\`) against this image's full backup (\`pgbackrest.sh backup full\`) and restore
		(\`set-aside\`, \`restore --latest\`, the next start until \`wait-promoted\` returns). The backups
		alternate in order, RUNS times; then, in each run, an incremental backup after a write load.
		The image's \`entrypoint.sh\` and \`pgbackrest.sh\` run on the host as the OS user \`postgres\` with
		Debian's PostgreSQL 15 and pgBackRest, the container's variables pointed into a work directory
		under \`/var/tmp\` (removed at the end, with the server), and the image's defaults otherwise.
		As root, on a quiet machine (at the default scale it takes several minutes):

		\`\`\`sh
		bench/pgbackrest.sh           # prints the table
		bench/pgbackrest.sh --write   # and replaces this section with it
		# SCALE=50 (pgbench -i -s, 750 MB) RUNS=3 LOAD_SECONDS=20 PORT=55498: the defaults
		\`\`\`

		What is counted:

		- Time: wall seconds. The spec's restore: the new database and the load. Ours: from the moment
		  the stopped server is gone (its fast shutdown, which archives the last WAL, is not counted) to
		  \`wait-promoted\` returning: \`set-aside\`, \`restore --latest\`, the entrypoint's start, the WAL
		  replay and the promotion. Our restore goes first in each run: the spec's would otherwise
		  put its whole load into the WAL that \`--latest\` replays. Before each step, a \`CHECKPOINT\`
		  and the WAL archived, untimed. Both restores run on the image's server, which archives what
		  it writes: during the spec's load, pgBackRest's \`archive-push\` compresses its WAL beside it.
		- CPU-seconds, the same way for both: user and system time of the client command and all its
		  children (\`/usr/bin/time\`: \`pg_dump\` and \`gzip\`; \`pgbackrest.sh\` with pgBackRest and its
		  local processes), plus what the server's processes used meanwhile (to half a second after the
		  command, so that the connection's backend is reaped): the sum of utime, stime, cutime and
		  cstime over the server's process tree in \`/proc\`, before and after. The server runs below a
		  child subreaper, so the processes that detach (pgBackRest's asynchronous \`archive-push\`) are
		  counted when they end. The server's part holds \`pg_dump\`'s backend, and for pgBackRest the
		  checkpoint of \`start-fast\` and the archiving of the WAL the backup needs.
		- Size: the spec's \`.sql.gz\`; ours: \`du -sb\` of the backup's directory in the repository
		  (\`backup/main/LABEL\`). The WAL archived during the backup, which its restore needs too, is
		  given below the table.
		- After each restore, \`pgbench_accounts\` (row count and the md5 of its rows in order) is the
		  same in both.

		The goals, on 2 cores: a restore at least 2.5x as fast as the spec's; a full backup at least
		1.4x as fast, with at most 0.4x its CPU-seconds, and at most 3x the size of its gzip dump.

	EOF
	if [[ -z ${1:-} ]]; then
		echo "Not measured yet at the default scale: run \`bench/pgbackrest.sh --write\` on a quiet machine."
		return 0
	fi
	printf '%s\n\n' "$1"
	fold -s -w 100 <<<"$summary" | sed 's/ *$//'
}

# The results into the page, in place of the last ones.
write_doc() { bench_replace_section "$DOC" "$(section "$1")"; }

main() {
	preflight
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	spec_backup_s=() our_backup_s=() spec_cpu_s=() our_cpu_s=() spec_split=() our_split=()
	spec_restore_s=() our_restore_s=() our_restore_parts=() incr_s=() incr_bytes=() load_tps=()
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	setup_dirs
	start_server
	populate
	local run
	for ((run = 1; run <= RUNS; run++)); do
		say "run $run of $RUNS"
		if ((run % 2)); then spec_backup; our_backup; else our_backup; spec_backup; fi
		our_restore
		spec_restore
		check_restores
		incremental
	done
	local results
	report >"$work/results"
	results=$(<"$work/results")
	printf '%s\n\n' "$results"
	fold -s -w 100 <<<"$summary" | sed 's/ *$//'
	[[ -z $WRITE ]] || write_doc "$results"
}

main
