# shellcheck shell=bash
# cgroup.sh - a cgroup of its own for each benchmarked server, so that its
# CPU time is measured exactly: every process the server ever had counts,
# also those that exited during the load (a fork-model child per
# connection) and those that left its process tree (apache2 under setsid,
# a daemon that double-forks). Sourced by run.sh and pss.sh (bash).
#
#   cg_init            pick the method, set cg_method (for a table header)
#   cg_new NAME        make a fresh group, print its path
#   cg_run GROUP CMD.. start CMD in the background already inside GROUP,
#                      so that its first fork is counted; its pid is in $!
#   cg_usage_ns G|PID  CPU time used so far by GROUP (or the tree of PID), ns
#   cg_pids G|PID      the processes in GROUP (or the tree of PID) now
#   cg_remove GROUP    kill what is left in it, wait until empty, rmdir
#   cg_cleanup         remove every group made (all of cg_base, so also those
#                      made in a $(...) subshell); call it from the EXIT trap
#
# Methods, in this order (CG_METHOD=v1|v2|proc forces one):
#   "cgroup v1 cpuacct"  /sys/fs/cgroup/cpuacct: groups under a directory
#                        sockd-bench.PID there, usage from cpuacct.usage (ns);
#   "cgroup v2 cpu.stat" the unified hierarchy (/sys/fs/cgroup, or
#                        /sys/fs/cgroup/unified beside v1): groups under
#                        sockd-bench.PID in our own cgroup (else its root),
#                        usage_usec of cpu.stat. The kernel keeps usage_usec
#                        whether or not the cpu controller is enabled in the
#                        parent's cgroup.subtree_control, so this works as root
#                        in a plain container too (where the parent has
#                        processes and could not enable it anyway);
#   "/proc times"        no group can be made (not root, a read-only
#                        /sys/fs/cgroup): utime+stime+cutime+cstime of
#                        /proc/PID/stat summed over the process tree. It
#                        misses what descendants spent that exited unreaped
#                        or whose parent exited before them, and what a
#                        process that left the tree spends: an estimate.
# shellcheck disable=SC2034 # cg_method is for the scripts that source this
cg_method=
cg_kind=
cg_base=

# The pid and all its descendants.
cg_tree_pids() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2 }
		END {
			keep[root] = 1; print root
			do {
				more = 0
				for (p in parent)
					if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; more = 1 }
			} while (more)
		}'
}

# Try to make the base directory DIR for KIND; 0 if done.
cg_try() {
	local kind=$1 dir=$2 t

	mkdir "$dir" 2>/dev/null || return 1
	# A group we cannot move ourselves into is of no use: try with a
	# short-lived shell.
	t=$(sh -c 'echo $$ > "$1/cgroup.procs" && echo ok' _ "$dir" 2>/dev/null)
	if [ "$t" != ok ]; then
		rmdir "$dir" 2>/dev/null
		return 1
	fi
	cg_kind=$kind
	cg_base=$dir
	return 0
}

cg_init() {
	local force=${CG_METHOD:-} v1=/sys/fs/cgroup/cpuacct v2 own

	cg_kind=
	cg_base=
	if { [ -z "$force" ] || [ "$force" = v1 ]; } && [ -f "$v1/cpuacct.usage" ] &&
	    cg_try v1 "$v1/sockd-bench.$$"; then
		cg_method="cgroup v1 cpuacct"
		return 0
	fi
	if [ -z "$force" ] || [ "$force" = v2 ]; then
		for v2 in /sys/fs/cgroup /sys/fs/cgroup/unified; do
			[ -f "$v2/cgroup.procs" ] || continue
			[ -f "$v2/cgroup.controllers" ] || continue
			own=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup)
			own=${own%/}
			if { [ -n "$own" ] && cg_try v2 "$v2$own/sockd-bench.$$"; } ||
			    cg_try v2 "$v2/sockd-bench.$$"; then
				if [ -f "$cg_base/cpu.stat" ] &&
				    grep -q '^usage_usec ' "$cg_base/cpu.stat"; then
					cg_method="cgroup v2 cpu.stat"
					return 0
				fi
				rmdir "$cg_base" 2>/dev/null
				cg_kind=
				cg_base=
			fi
		done
	fi
	cg_kind=proc
	cg_base=$(mktemp -d "${TMPDIR:-/tmp}/sockd-cg.XXXXXX") || return 1
	cg_method="/proc times"
	return 0
}

# A fresh group NAME; its path on stdout.
cg_new() {
	local g=$cg_base/$1

	[ -n "$cg_base" ] || return 1
	[ -d "$g" ] && cg_remove "$g"
	mkdir "$g" || return 1
	echo "$g"
}

# CMD in the background inside GROUP: the shell moves itself in, then execs
# CMD, so no process of CMD's ever runs outside. If the move fails, CMD is
# not run (a server measured without its group would be measured wrong).
cg_run() {
	local g=$1

	shift
	if [ "$cg_kind" = proc ]; then
		"$@" &
		echo "$!" > "$g/pid"
	else
		sh -c 'echo $$ > "$1/cgroup.procs" || exit 70; shift; exec "$@"' _ "$g" "$@" &
	fi
}

# CPU time used so far by GROUP (or by the tree of a PID), in ns.
cg_usage_ns() {
	local a=$1 total=0 p f line hz

	if [ -d "$a" ]; then
		case $cg_kind in
		v1) cat "$a/cpuacct.usage"; return ;;
		v2) awk '$1 == "usage_usec" { printf "%.0f\n", $2 * 1000 }' "$a/cpu.stat"; return ;;
		esac
		a=$(cat "$a/pid" 2>/dev/null) || { echo 0; return; }
	fi
	hz=$(getconf CLK_TCK)
	for p in $(cg_tree_pids "$a"); do
		{ read -r line < "/proc/$p/stat"; } 2>/dev/null || continue
		# The command (field 2) may hold spaces and parentheses: count
		# from its end, f[0] being field 3 (the state).
		line=${line##*) }
		read -r -a f <<< "$line"
		total=$((total + f[11] + f[12] + f[13] + f[14]))
	done
	echo $((total * (1000000000 / hz)))
}

# The processes now in GROUP (or the tree of a PID).
cg_pids() {
	local a=$1

	if [ -d "$a" ]; then
		if [ "$cg_kind" != proc ]; then
			cat "$a/cgroup.procs"
			return
		fi
		a=$(cat "$a/pid" 2>/dev/null) || return 0
	fi
	cg_tree_pids "$a"
}

# Empty GROUP (up to 2 s for its processes to exit, then SIGKILL what is
# left, up to 2 s more) and remove it.
cg_remove() {
	local g=$1 i p

	[ -d "$g" ] || return 0
	if [ "$cg_kind" = proc ]; then
		p=$(cat "$g/pid" 2>/dev/null)
		[ -n "$p" ] && for p in $(cg_tree_pids "$p"); do kill -KILL "$p" 2>/dev/null; done
		rm -rf "$g"
		return 0
	fi
	for ((i = 0; i < 40; i++)); do
		# (cgroup files have no size: read it)
		read -r p < "$g/cgroup.procs" 2>/dev/null || break
		if [ "$i" -ge 20 ]; then
			while read -r p; do
				kill -KILL "$p" 2>/dev/null
			done < "$g/cgroup.procs"
		fi
		sleep 0.1
	done
	for ((i = 0; i < 20; i++)); do
		rmdir "$g" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "cgroup.sh: could not remove $g" >&2
	return 1
}

cg_cleanup() {
	local g

	[ -n "$cg_base" ] && [ -d "$cg_base" ] || return 0
	for g in "$cg_base"/*/; do
		[ -d "$g" ] && cg_remove "${g%/}"
	done
	if [ "$cg_kind" = proc ]; then
		rm -rf "$cg_base"
	else
		rmdir "$cg_base" 2>/dev/null || echo "cgroup.sh: could not remove $cg_base" >&2
	fi
	cg_base=
}
