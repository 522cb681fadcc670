#!/bin/bash
# run.sh - sockd under a real systemd: "make install" into a temporary
# DESTDIR, boot a throw-away systemd (PID 1 of a systemd-nspawn container on
# the host's /usr), and walk the user journey with systemctl and journalctl.
#
# Run as root. Exit codes (automake): 0 pass, 1 a check failed, 77 skipped
# (with a "SKIP:" line saying why), 99 rig error. See README.md next to it.
#
# Safety (docs: DESIGN.md section 8): before any systemd manager starts, this
# shell moves into a new sub-cgroup of its own in every systemd-relevant
# hierarchy (cgroup2, and the v1 name=systemd one on hybrid hosts), so the
# container's systemd can only ever see that subtree. The container is ended
# by pid, the sub-cgroups are removed, and every wait is bounded.
set -u
export LC_ALL=C SYSTEMD_PAGER= SYSTEMD_COLORS=0 SYSTEMD_LESS=
unset MAKEFLAGS MFLAGS MAKELEVEL

here=$(cd "$(dirname "$0")" && pwd) || exit 99
SOCKD_SRCDIR=${SOCKD_SRCDIR:-$(cd "$here/../.." && pwd)}
SOCKD_BUILDDIR=${SOCKD_BUILDDIR:-$SOCKD_SRCDIR}
# Extra "make install" arguments, e.g. SOCKD_INSTALL_ARGS="prefix=/usr".
SOCKD_INSTALL_ARGS=${SOCKD_INSTALL_ARGS:-}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-30}
# Hard limit for everything after "make install": it catches a hang, not
# slowness (95 s on the 2-core machine alone, 134 s with CI's other
# builds beside it, which the old limit of 120 s failed).
TEST_TIMEOUT=${TEST_TIMEOUT:-360}

# The real stdout/stderr, for the traps: a signal may arrive while a shell
# function runs with its output redirected to a file.
exec 3>&1 4>&2
SECONDS=0
failed=0
rc=99 # until the end is reached: an unexpected exit is a rig error
tmp=
nsp=
init=
watchdog=
subcgs=()   # "mountpoint|original path|sub-cgroup directory"

say() { printf '# %s\n' "$*"; }
ok() { printf 'ok - %s\n' "$*"; }
notok() { printf 'not ok - %s\n' "$*"; failed=1; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
skip() { echo "SKIP: $*"; rc=77; exit 77; }
bail() { echo "Bail out! $*"; rc=99; exit 99; }
indent() { sed 's/^/#   /'; }

# ---- can this machine do it at all? ---------------------------------------
[ "$(id -u)" = 0 ] || skip "not root (booting a systemd container needs root)"
for t in systemd-nspawn nsenter timeout journalctl; do
	command -v "$t" >/dev/null 2>&1 ||
		skip "$t not found (Debian: apt-get install systemd-container util-linux coreutils)"
done
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd on this machine"
[ -d /usr/local ] || skip "no /usr/local" # only a sanity check on the host layout

# ---- clean-up, run on every exit ------------------------------------------
pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
wait_gone() { # wait_gone PID TENTHS
	local i
	for ((i = 0; i < $2; i++)); do pid_alive "$1" || return 0; sleep 0.1; done
	! pid_alive "$1"
}

cleanup() {
	local s mnt orig sub pids i
	trap '' INT TERM HUP
	exec 1>&3 2>&4
	[ -n "${cleaned:-}" ] && return
	cleaned=1
	if pid_alive "$watchdog"; then
		kill -TERM "$watchdog" 2>/dev/null
		wait "$watchdog" 2>/dev/null
	fi
	if pid_alive "$nsp"; then
		# nspawn turns SIGTERM into an orderly poweroff of the container.
		kill -TERM "$nsp" 2>/dev/null
		if ! wait_gone "$nsp" 150; then
			say "container did not power off in 15 s: SIGKILL to its init and to nspawn"
			[ -n "$init" ] && kill -KILL "$init" 2>/dev/null # ends its whole pid namespace
			kill -KILL "$nsp" 2>/dev/null
			wait_gone "$nsp" 50 || { say "nspawn $nsp survived SIGKILL"; rc=99; }
		fi
	fi
	[ -n "$nsp" ] && wait "$nsp" 2>/dev/null
	# Back to where the shell started, then remove the sub-cgroups. Anything
	# still in them was started by this script: kill it first.
	for s in "${subcgs[@]}"; do
		IFS='|' read -r mnt orig sub <<<"$s"
		echo $$ >"$mnt$orig/cgroup.procs" 2>/dev/null ||
			{ say "cannot move back to $mnt$orig"; rc=99; }
	done
	for s in "${subcgs[@]}"; do
		IFS='|' read -r mnt orig sub <<<"$s"
		[ -d "$sub" ] || continue
		for ((i = 0; i < 50; i++)); do
			pids=$(find "$sub" -name cgroup.procs -exec cat {} + 2>/dev/null)
			[ -z "$pids" ] && break
			[ "$i" = 0 ] && say "stray processes in $sub: $(echo $pids)"
			kill -KILL $pids 2>/dev/null
			sleep 0.1
		done
		find "$sub" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$sub" ] && { say "cannot remove sub-cgroup $sub"; rc=99; }
	done
	[ -n "$nsp" ] && rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null
	[ -n "$tmp" ] && rm -rf --one-file-system "$tmp"
	say "finished in ${SECONDS} s"
}
on_signal() {
	trap '' INT TERM HUP
	if [ "$1" = TERM ] && [ -n "$watchdog" ] && ! pid_alive "$watchdog"; then
		echo "Bail out! over the ${TEST_TIMEOUT} s limit" >&3
	else
		echo "Bail out! interrupted by SIG$1" >&3
	fi
	rc=99
	exit 99
}
trap 'cleanup; exit $rc' EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-systemd.XXXXXX") || bail "mktemp failed"
case $tmp in *:*) bail "temporary directory $tmp contains ':' (nspawn uses it as separator)" ;; esac
dest=$tmp/dest
machine=sockd-test-$$

# ---- 1. make install ------------------------------------------------------
if timeout 300 make -C "$SOCKD_BUILDDIR" install DESTDIR="$dest" $SOCKD_INSTALL_ARGS \
	>"$tmp/install.log" 2>&1; then
	ok "make install DESTDIR=... $SOCKD_INSTALL_ARGS"
else
	notok "make install DESTDIR=... $SOCKD_INSTALL_ARGS"
	tail -20 "$tmp/install.log" | indent
	rc=1; exit 1
fi
unit=$(find "$dest" -path '*/systemd/system/sockd.service' -type f | head -1)
[ -n "$unit" ] || { notok "make install installs sockd.service"; rc=1; exit 1; }
say "unit: ${unit#$dest}"

# The paths the installed unit runs, and whether the install put them there.
exec_start=$(sed -n 's/^ExecStart=[-@:+!]*//p' "$unit" | head -1)
bin=${exec_start%% *}
conf=$(sed -n 's/.* -c \([^ ]*\).*/\1/p' <<<"$exec_start")
say "ExecStart: $exec_start"
check "installed unit's ExecStart names the installed binary ($bin)" \
	test -n "$bin" -a -x "$dest$bin"
check "installed unit's ExecStart names the installed config ($conf)" \
	test -n "$conf" -a -f "$dest$conf"
[ "$failed" = 0 ] || { rc=1; exit 1; }
case $bin in
/tmp/* | /var/tmp/*)	# make distcheck installs under its build tree
	skip "sockd is installed under $bin: the unit's PrivateTmp=yes hides /tmp from the service" ;;
esac
check "installed unit's ExecReload checks that config (sockd -t -c $conf)" \
	grep -q "^ExecReload=[-@:+!]*$bin -t -c $conf\$" "$unit"

# A copy of the installed config, bound over it: the host rewrites this file
# in place for the broken-config reload.
mkdir -p "$tmp/conf" && install -m 0644 "$dest$conf" "$tmp/conf/sockd.conf" ||
	bail "cannot copy the installed config"

# From here on, a watchdog: past TEST_TIMEOUT it sends this shell SIGTERM,
# which ends everything through the EXIT trap.
(
	sleep "$TEST_TIMEOUT" &
	s=$!
	trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM
	wait $s && kill -TERM $$ 2>/dev/null
) &
watchdog=$!

# ---- 2. safety: a sub-cgroup of our own before any systemd starts ----------
add_subcg() { # add_subcg MOUNTPOINT ORIGINAL-PATH
	local sub=$1${2%/}/sockd-systemd-test.$$
	mkdir "$sub" 2>/dev/null || return 1
	subcgs+=("$1|$2|$sub")
	echo $$ >"$sub/cgroup.procs" 2>/dev/null
}
cgfs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)
case $cgfs in
cgroup2fs) # unified
	orig=$(sed -n 's/^0:://p' /proc/$$/cgroup)
	add_subcg /sys/fs/cgroup "$orig" ||
		skip "cannot create a sub-cgroup under /sys/fs/cgroup$orig: not starting a systemd manager without one"
	;;
tmpfs) # hybrid or legacy
	n=0
	if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		orig=$(sed -n 's/^0:://p' /proc/$$/cgroup)
		add_subcg /sys/fs/cgroup/unified "$orig" ||
			skip "cannot create a sub-cgroup under /sys/fs/cgroup/unified$orig: not starting a systemd manager without one"
		n=$((n + 1))
	fi
	if [ "$(stat -fc %T /sys/fs/cgroup/systemd 2>/dev/null)" = cgroupfs ]; then
		orig=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/$$/cgroup)
		add_subcg /sys/fs/cgroup/systemd "$orig" ||
			skip "cannot create a sub-cgroup under /sys/fs/cgroup/systemd$orig: not starting a systemd manager without one"
		n=$((n + 1))
	fi
	[ "$n" -gt 0 ] || skip "no cgroup2 nor name=systemd hierarchy under /sys/fs/cgroup"
	;;
*) skip "unknown cgroup layout (/sys/fs/cgroup is $cgfs)" ;;
esac
for s in "${subcgs[@]}"; do
	IFS='|' read -r mnt orig sub <<<"$s"
	key= # the /proc/PID/cgroup line: "0::PATH" or "N:name=systemd:PATH"
	[ "$mnt" = /sys/fs/cgroup/systemd ] && key=name=systemd
	grep -qx "[0-9]*:$key:${sub#$mnt}" /proc/$$/cgroup ||
		bail "this shell is not in $sub after moving there: refusing to start systemd"
done
say "this shell is in its own sub-cgroup(s): $(for s in "${subcgs[@]}"; do printf '%s ' "${s##*|}"; done)"

# ---- 3. boot the container ------------------------------------------------
# -D / --volatile=yes: the host's /usr read-only, everything else a fresh
# tmpfs (empty /etc). What "make install" put under /usr is layered on top of
# the host's /usr; the unit and the config copy are bound in. A private
# network: sockd's shipped config (127.0.0.1:7007, [::1]:7007) can never
# collide with a port in use on the host, and nothing the container starts
# touches the host's network.
nspawn_args=(--quiet --console=read-only -D / --volatile=yes --register=no --keep-unit
	--machine="$machine" --private-network
	--bind-ro="$unit:/etc/systemd/system/sockd.service")
socket_unit=$(find "$dest" -path '*/systemd/system/sockd.socket' -type f | head -1)
[ -n "$socket_unit" ] && nspawn_args+=(--bind-ro="$socket_unit:/etc/systemd/system/sockd.socket")
case $bin$conf in */usr/*) [ -d "$dest/usr" ] && nspawn_args+=(--overlay-ro="/usr:$dest/usr:/usr") ;; esac
case $bin in /usr/*) ;; *) nspawn_args+=(--bind-ro="$dest$bin:$bin") ;; esac
nspawn_args+=(--bind-ro="$tmp/conf/sockd.conf:$conf")
# The instances' configuration directory (section 11), written by the host.
mkdir -p "$tmp/instances" "$dest${conf%/*}/sockd" || bail "cannot make the instances' directory"
nspawn_args+=(--bind-ro="$tmp/instances:${conf%/*}/sockd")
# An ASan build: LeakSanitizer needs ptrace, which the hardened unit does not
# allow, so only leak detection is turned off in there (memory errors are
# still caught; leaks are checked by the other tests and valgrind).
if [ -n "${SOCKD_SANITIZERS:-}" ]; then
	printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' >"$tmp/asan.conf"
	nspawn_args+=(--bind-ro="$tmp/asan.conf:/etc/systemd/system/sockd.service.d/asan.conf")
	say "sanitizer build: sockd.service gets ASAN_OPTIONS=detect_leaks=0"
fi

systemd-nspawn "${nspawn_args[@]}" -b systemd.unit=basic.target systemd.firstboot=off \
	</dev/null >"$tmp/console.log" 2>&1 &
nsp=$!
say "systemd-nspawn pid $nsp, machine $machine"

# The container's init: a child of nspawn that is PID 1 in its namespace.
for ((i = 0; i < 100; i++)); do
	if ! pid_alive "$nsp"; then
		wait "$nsp"; st=$?; nsp=
		echo "# systemd-nspawn output:"; tail -15 "$tmp/console.log" | indent
		skip "systemd-nspawn exited ($st) before the container's systemd started: this machine cannot boot one"
	fi
	for f in $(grep -l "^PPid:[[:space:]]*$nsp\$" /proc/[0-9]*/status 2>/dev/null); do
		if [ "$(awk '/^NSpid:/ { print $NF }' "$f" 2>/dev/null)" = 1 ] &&
			[ "$(cat "${f%/status}/comm" 2>/dev/null)" = systemd ]; then
			init=${f#/proc/}; init=${init%/status}
		fi
	done
	[ -n "$init" ] && break
	sleep 0.1
done
[ -n "$init" ] || skip "no systemd PID 1 appeared in the container within 10 s"
say "container init: host pid $init"

ctr() { timeout 20 nsenter -t "$init" -a "$@"; }
ctr_net() { timeout 10 nsenter -t "$init" -n "$@"; }

state=
deadline=$((SECONDS + BOOT_TIMEOUT))
while [ "$SECONDS" -lt "$deadline" ]; do
	pid_alive "$nsp" || break
	state=$(timeout 5 nsenter -t "$init" -a systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.2
done
case $state in
running | degraded)
	ok "container's systemd booted basic.target: $state ($(ctr systemctl --version | head -1))"
	[ "$state" = degraded ] && ctr systemctl --failed --no-legend | indent
	;;
*)
	echo "# systemd-nspawn output:"; tail -15 "$tmp/console.log" | indent
	pid_alive "$nsp" || skip "the container's systemd did not come up (nspawn exited)"
	bail "container's systemd not running after ${BOOT_TIMEOUT} s (state: '$state')"
	;;
esac
check "journald is running in the container" \
	test "$(ctr systemctl is-active systemd-journald.service)" = active

# ---- 4. the checks --------------------------------------------------------
svc_journal() { # the service's own lines (not PID 1's about it)
	ctr journalctl --no-pager _SYSTEMD_UNIT=sockd.service "$@"
}
wait_journal() { # wait_journal REGEX [MIN-COUNT]: poll, up to 5 s
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(svc_journal -o cat | grep -cE "$1")" -ge "${2:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
diag() { # after a failed check: what systemd and the journal say
	ctr systemctl status --no-pager -l sockd 2>&1 | indent
	ctr journalctl --no-pager -n 15 -u sockd 2>&1 | indent
}
is_active() { test "$(ctr systemctl is-active sockd)" = "$1"; }
wait_active() { # up to 5 s: READY=1 follows once every worker accepts
	local i
	for ((i = 0; i < 50; i++)); do is_active active && return 0; sleep 0.1; done
	return 1
}
echo_roundtrip() { # echo_roundtrip HOST PORT: in the container's network
	local msg="sockd-systemd-test $RANDOM$RANDOM"
	ctr_net timeout 5 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "%s\n" "$3" >&3
		IFS= read -r -t 3 line <&3 && [ "$line" = "$3" ]' _ "$1" "$2" "$msg" 2>/dev/null
}
echo_all() { # every TCP address sockd said it listens on answers
	local a host port n=0
	for a in $listen; do
		port=${a##*:}; host=${a%:*}; host=${host#[}; host=${host%]}
		echo_roundtrip "$host" "$port" || { say "no echo from $a"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}

if ctr systemctl start sockd; then
	ok "systemctl start sockd"
else
	notok "systemctl start sockd"; diag
fi
if is_active active; then
	ok "systemctl is-active sockd: active (Type=notify: READY=1 arrived)"
else
	notok "systemctl is-active sockd: $(ctr systemctl is-active sockd)"; diag
fi

status=$(ctr systemctl status --no-pager -l sockd 2>&1)
check "systemctl status shows sockd's STATUS= ($(sed -n 's/^ *Status: //p' <<<"$status"))" \
	grep -q '^ *Status: "echo: [0-9]* workers' <<<"$status"

wait_journal ': listening on ' 1
listen=$(svc_journal -o cat | sed -n 's/^.*: listening on \([^ ]*:[0-9][0-9]*\)\( (from systemd)\)\{0,1\}$/\1/p' | sort -u)
say "sockd listens on: $(echo $listen)"
check "echo round trip to every listener ($(echo $listen))" echo_all

mainpid=$(ctr systemctl show -p MainPID --value sockd)
# (No awk in there: it is an /etc/alternatives link and /etc is empty.)
uid=$(ctr grep '^Uid:' "/proc/${mainpid:-0}/status" 2>/dev/null | cut -f2)
check "DynamicUser: MainPID $mainpid runs as uid ${uid:-?}, not root" \
	test -n "$uid" -a "${uid:-0}" != 0
check "uid ${uid:-?} is in systemd's dynamic user range 61184-65519" \
	test "${uid:-0}" -ge 61184 -a "${uid:-0}" -le 65519

nhup=$(svc_journal -o cat | grep -c SIGHUP)
check "systemctl reload sockd (good config)" ctr systemctl reload sockd
if wait_journal SIGHUP $((nhup + 1)); then
	ok "sockd logged the SIGHUP: $(svc_journal -o cat | grep SIGHUP | tail -1)"
else
	notok "sockd logged the SIGHUP"; diag
fi
if wait_journal 'reloaded: generation 2' 1; then
	ok "sockd reloaded: $(svc_journal -o cat | grep 'reloaded:' | tail -1)"
else
	notok "sockd logged 'reloaded: generation 2'"; diag
fi
check "still active after reload" is_active active
check "echo answered after the reload" echo_all
wd=$(ctr systemctl show -p WatchdogTimestampMonotonic --value sockd)
check "the watchdog was pinged (WatchdogTimestampMonotonic=$wd)" test "${wd:-0}" != 0
nhup=$(svc_journal -o cat | grep -c SIGHUP)

# In place (same inode), so the bind mount shows it.
cp "$tmp/conf/sockd.conf" "$tmp/conf/good.conf"
printf 'services = ( { name = "echo"; listen = [ "127.0.0.1:7007" ]; handler = "echo"; bogus = 1; } );\n' \
	>"$tmp/conf/sockd.conf"
if out=$(ctr systemctl reload sockd 2>&1); then
	notok "systemctl reload sockd fails with a broken config (it succeeded)"
else
	ok "systemctl reload sockd fails with a broken config"
fi
indent <<<"$out"
check "still active after the failed reload" is_active active
check "the daemon was not signalled (no new SIGHUP line)" \
	test "$(svc_journal -o cat | grep -c SIGHUP)" = "$nhup"
check "echo still answered after the failed reload" echo_all
cat "$tmp/conf/good.conf" >"$tmp/conf/sockd.conf"

check "systemctl stop sockd" ctr systemctl stop sockd
check "systemctl is-active sockd: inactive" is_active inactive
result=$(ctr systemctl show -p Result --value sockd)
check "stop was clean: Result=$result" test "$result" = success
code=$(ctr systemctl show -p ExecMainStatus --value sockd)
check "sockd exited 0 on SIGTERM: ExecMainStatus=$code" test "$code" = 0

# Socket activation: sockd.socket holds 127.0.0.1:7007 (FileDescriptorName=echo);
# the first client starts sockd.service, which takes that socket for its
# "echo" service instead of binding the address again.
if [ -n "$socket_unit" ]; then
	check "systemctl start sockd.socket" ctr systemctl start sockd.socket
	check "sockd.service is not running before a client comes" is_active inactive
	check "a client of 127.0.0.1:7007 starts sockd and gets its echo" echo_roundtrip 127.0.0.1 7007
	if wait_active; then
		ok "sockd.service active after activation"
	else
		notok "sockd.service active after activation: $(ctr systemctl is-active sockd)"; diag
	fi
	check "sockd took the socket from systemd (journal: 'listening on 127.0.0.1:7007 (from systemd)')" \
		wait_journal 'listening on 127\.0\.0\.1:7007 \(from systemd\)' 1
	check "systemctl stop sockd.socket sockd" ctr systemctl stop sockd.socket sockd
else
	notok "make install installs sockd.socket"
fi

# A port below 1024 under DynamicUser: only the ambient CAP_NET_BIND_SERVICE
# makes it possible. (The container has a network of its own: no clash.)
cp "$tmp/conf/sockd.conf" "$tmp/conf/good.conf"
printf 'services = ( { name = "low"; listen = "127.0.0.1:707"; handler = "echo"; workers = 1; } );\n' \
	>"$tmp/conf/sockd.conf"
check "systemctl start sockd with a service on port 707" ctr systemctl start sockd
check "echo on 127.0.0.1:707, bound by a non-root sockd" echo_roundtrip 127.0.0.1 707
check "systemctl stop sockd" ctr systemctl stop sockd
cat "$tmp/conf/good.conf" >"$tmp/conf/sockd.conf"

# ---- the manual's examples under the shipped unit ---------------------------
# use_config TEXT: the config the next start reads (in place, for the bind
# mount); restore_config puts the installed one back.
use_config() { cp "$tmp/conf/sockd.conf" "$tmp/conf/installed.conf"; printf '%s\n' "$1" >"$tmp/conf/sockd.conf"; }
restore_config() { cat "$tmp/conf/installed.conf" >"$tmp/conf/sockd.conf"; }
http_get() { # http_get PORT PATH: the whole response, in the container's network
	ctr_net timeout 5 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.1\r\nHost: test\r\nUser-Agent: sockd-systemd-test\r\nConnection: close\r\n\r\n" "$2" >&3
		cat <&3' _ "$1" "$2" 2>/dev/null
}

# sockd.conf(5)'s web server, taken from the page itself so the two cannot
# drift apart: static files from /srv/www and an access log in
# /var/log/sockd, which ProtectSystem=strict leaves writable only through
# the unit's LogsDirectory=.
test_web_example() {
	local example resp i logged=
	example=$(sed -n '/^A web server for static files/,/^\.Ed$/p' "$SOCKD_SRCDIR/man/sockd.conf.5" |
		sed -e '1,2d' -e '$d')
	say "the web example of sockd.conf(5):"; indent <<<"$example"
	case $example in
	*'access_log = "/var/log/sockd/'*'root = "/srv/www"'* | *'root = "/srv/www"'*'access_log = "/var/log/sockd/'*) ;;
	*) notok "sockd.conf(5) has its web example (root /srv/www, access_log under /var/log/sockd)"; return ;;
	esac
	ctr mkdir -p -m 0755 /srv/www &&
		ctr sh -c 'printf "hello from /srv/www\n" >/srv/www/index.html && chmod 0644 /srv/www/index.html' ||
		{ notok "make /srv/www/index.html in the container"; return; }
	use_config "$example"
	if ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd with the web example"
	else
		notok "systemctl start sockd with the web example"; diag
	fi
	resp=$(http_get 8080 /)
	if grep -q '^HTTP/1\.1 200 ' <<<"$resp" && grep -qx 'hello from /srv/www' <<<"$resp"; then
		ok "GET / on port 8080 answers 200 with /srv/www/index.html"
	else
		notok "GET / on port 8080 answers 200 with /srv/www/index.html"
		indent <<<"$resp"; diag
	fi
	for ((i = 0; i < 50; i++)); do
		logged=$(ctr cat /var/log/sockd/web.log 2>/dev/null | grep '"GET / HTTP/1\.1" 200 ')
		[ -n "$logged" ] && break
		sleep 0.1
	done
	if [ -n "$logged" ]; then
		ok "the request is in /var/log/sockd/web.log: $logged"
	else
		notok "the request is in /var/log/sockd/web.log"; diag
	fi
	check "systemctl stop sockd" ctr systemctl stop sockd
	restore_config
}

# unix.owner, unix.group and unix.mode as sockd.conf(5) describes them: chown
# needs CAP_CHOWN and the @chown system calls, both granted by the unit.
test_unix_owner() {
	local st
	use_config 'services = ( { name = "local"; listen = "unix:/run/sockd/local.sock";
  unix = { mode = "0660"; owner = "nobody"; group = "nogroup"; };
  handler = "echo"; workers = 1; } );'
	if ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd with unix.owner = \"nobody\", unix.group = \"nogroup\""
	else
		notok "systemctl start sockd with unix.owner = \"nobody\", unix.group = \"nogroup\""; diag
	fi
	st=$(ctr stat -c '%U:%G %a' /run/sockd/local.sock 2>&1)
	check "/run/sockd/local.sock is nobody:nogroup, mode 660 ($st)" test "$st" = "nobody:nogroup 660"
	ctr systemctl stop sockd
	restore_config
}

test_web_example
test_unix_owner

# A service whose workers all fail at start (here: an access log in a
# directory that does not exist) must make "systemctl start" fail, not
# report a service that serves nobody as active.
check_start_failure() {
	local result code
	# The tests above started the unit often: clear its start rate limit.
	ctr systemctl reset-failed sockd >/dev/null 2>&1
	cp "$tmp/conf/sockd.conf" "$tmp/conf/good.conf"
	printf '%s\n' 'services = ( { name = "web"; listen = "127.0.0.1:7080"; handler = "http";' \
		'  workers = 2; http = { access_log = "/nonexistent-sockd-dir/web.log"; }; } );' \
		>"$tmp/conf/sockd.conf"
	if ctr systemctl start sockd >/dev/null 2>&1; then
		notok "systemctl start fails when every worker fails at start (it succeeded)"; diag
		ctr systemctl stop sockd
	else
		ok "systemctl start fails when every worker fails at start"
	fi
	result=$(ctr systemctl show -p Result --value sockd)
	code=$(ctr systemctl show -p ExecMainStatus --value sockd)
	check "sockd exited 78, not restarted: Result=$result ExecMainStatus=$code" \
		test "$result" = exit-code -a "$code" = 78
	check "the journal says why (access_log, or workers fail at start)" \
		eval 'svc_journal -o cat | grep -qE "workers fail at start|nonexistent-sockd-dir"'
	cat "$tmp/conf/good.conf" >"$tmp/conf/sockd.conf"
	ctr systemctl reset-failed sockd >/dev/null 2>&1
}
check_start_failure

# ---- 5. the journal --------------------------------------------------------
jall=$(ctr journalctl --no-pager -u sockd -o cat)
check "journalctl -u sockd shows sockd's lines" grep -q 'sockd .* started' <<<"$jall"
check "journald took the <N> prefixes off (none left in MESSAGE)" \
	eval '! grep -q "^<[0-7]>" <<<"$jall"'
p5=$(svc_journal -o cat -p notice..notice)
p6=$(svc_journal -o cat -p info..info)
check "\"... started\" has PRIORITY=5 (notice)" grep -q 'sockd .* started' <<<"$p5"
check "\"listening on\" has PRIORITY=6 (info)" grep -q ': listening on ' <<<"$p6"
pn=$(ctr journalctl --no-pager -u sockd -o cat -p notice)
pi=$(ctr journalctl --no-pager -u sockd -o cat -p info)
check "journalctl -p notice shows \"started\" but not \"listening on\"" \
	eval 'grep -q "sockd .* started" <<<"$pn" && ! grep -q ": listening on " <<<"$pn"'
check "journalctl -p info shows both" \
	eval 'grep -q "sockd .* started" <<<"$pi" && grep -q ": listening on " <<<"$pi"'
json=$(svc_journal -o json --output-fields=PRIORITY,MESSAGE)
check "journalctl -o json: PRIORITY \"6\" on \"listening on\", \"5\" on \"started\"" \
	eval 'grep ": listening on " <<<"$json" | grep -q "\"PRIORITY\":\"6\"" &&
	      grep "sockd .* started" <<<"$json" | grep -q "\"PRIORITY\":\"5\""'

# ---- 6. native journal entries: whose they are, and their fields ------------
# Two services at log_level debug, a connection to each: every worker line
# is its own process's entry (_PID the worker's, not the master's) and
# carries SOCKD_SERVICE and SOCKD_WORKER, so "journalctl -u sockd
# SOCKD_SERVICE=web" shows web's lines and none of echo's; the events carry
# the MESSAGE_IDs of src/log.h at their priority.
msgid() { sed -n "s/^#define LOG_MSGID_$1[[:space:]]*\"\([0-9a-f]\{32\}\)\"\$/\1/p" "$SOCKD_SRCDIR/src/log.h"; }
wait_for() { # wait_for COMMAND...: poll, up to 5 s
	local i
	for ((i = 0; i < 50; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}
# This start's lines only (the earlier ones ran other configurations).
since() { ctr journalctl --no-pager _SYSTEMD_INVOCATION_ID="$invocation" "$@"; }
has_line() { # has_line REGEX journalctl-ARGS...
	local re=$1; shift
	since "$@" -o cat | grep -qE "$re"
}
test_journal_fields() {
	local started crashed web_pid echo_pid main json resp line invocation
	started=$(msgid STARTED); crashed=$(msgid WORKER_CRASHED)
	if [ -z "$started" ] || [ -z "$crashed" ]; then
		notok "src/log.h defines LOG_MSGID_STARTED and LOG_MSGID_WORKER_CRASHED"; return
	fi
	use_config 'log_level = "debug";
services = (
  { name = "web"; listen = "127.0.0.1:7080"; handler = "http"; workers = 1;
    http = { body = "hello from web\n"; }; },
  { name = "echo"; listen = "127.0.0.1:7007"; handler = "echo"; workers = 1; }
);'
	if ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd with services web and echo at log_level debug"
	else
		notok "systemctl start sockd with services web and echo at log_level debug"; diag
		restore_config; return
	fi
	main=$(ctr systemctl show -p MainPID --value sockd)
	invocation=$(ctr systemctl show -p InvocationID --value sockd)
	[ -n "$invocation" ] || { notok "systemctl show -p InvocationID sockd"; restore_config; return; }
	resp=$(http_get 7080 /)
	check "web answers GET /" grep -qx 'hello from web' <<<"$resp"
	check "echo answers" echo_roundtrip 127.0.0.1 7007
	web_pid=$(since -u sockd -o cat | sed -n 's/^web: started worker \([0-9]*\)$/\1/p' | tail -1)
	echo_pid=$(since -u sockd -o cat | sed -n 's/^echo: started worker \([0-9]*\)$/\1/p' | tail -1)
	say "master $main, web worker ${web_pid:-?}, echo worker ${echo_pid:-?}"
	check "web's end-of-connection line is in journalctl -u sockd SOCKD_SERVICE=web" \
		wait_for has_line '^web: 127\.0\.0\.1:[0-9]+: closed after .* \(handler closed\)$' \
		-u sockd SOCKD_SERVICE=web
	wait_for has_line '^echo: 127\.0\.0\.1:[0-9]+: closed after ' -u sockd SOCKD_SERVICE=echo
	line=$(since -u sockd SOCKD_SERVICE=web -o cat | grep -c '^echo: ')
	check "journalctl -u sockd SOCKD_SERVICE=web shows none of echo's lines ($line)" test "$line" = 0
	check "echo's end-of-connection line is under SOCKD_SERVICE=echo" \
		has_line '^echo: 127\.0\.0\.1:[0-9]+: closed after .* \(client closed\)$' -u sockd SOCKD_SERVICE=echo
	json=$(since -u sockd SOCKD_SERVICE=web -o json --output-fields=_PID,SOCKD_WORKER,PRIORITY,MESSAGE |
		grep '"MESSAGE":"web: 127\.0\.0\.1:[0-9]*: closed after ')
	indent <<<"$json"
	check "its _PID is the web worker's ($web_pid), not the master's ($main)" \
		eval 'test -n "$web_pid" -a "$web_pid" != "$main" && grep -q "\"_PID\":\"$web_pid\"" <<<"$json"'
	check "it has SOCKD_WORKER=$web_pid and PRIORITY=7 (debug)" \
		eval 'grep -q "\"SOCKD_WORKER\":\"$web_pid\"" <<<"$json" && grep -q "\"PRIORITY\":\"7\"" <<<"$json"'
	check "journalctl MESSAGE_ID=$started shows the \"started\" line" \
		has_line 'sockd .* started: 2 services' -u sockd MESSAGE_ID="$started"
	check "the master's \"started\" line is the master's own (_PID=$main)" \
		has_line 'sockd .* started: 2 services' -u sockd MESSAGE_ID="$started" _PID="$main"
	# A worker crash: a warning with its MESSAGE_ID, about service echo.
	# (SIGKILL: an ASan build would turn a SIGSEGV into a report and exit 1.)
	ctr kill -KILL "${echo_pid:-0}"
	if wait_for has_line "^echo: worker $echo_pid killed by signal 9 " -u sockd MESSAGE_ID="$crashed"; then
		ok "journalctl MESSAGE_ID=$crashed (worker crashed) shows echo's worker killed"
	else
		notok "journalctl MESSAGE_ID=$crashed (worker crashed) shows echo's worker killed"; diag
	fi
	json=$(since -u sockd MESSAGE_ID="$crashed" -o json --output-fields=PRIORITY,SOCKD_SERVICE,MESSAGE)
	check "the crash has PRIORITY=4 (warning) and SOCKD_SERVICE=echo" \
		eval 'grep -q "\"PRIORITY\":\"4\"" <<<"$json" && grep -q "\"SOCKD_SERVICE\":\"echo\"" <<<"$json"'
	check "journalctl -p warning..warning shows it" \
		has_line "^echo: worker $echo_pid killed by signal 9 " -u sockd -p warning..warning
	check "no line went to the stream instead (none with a <N> prefix)" \
		eval '! since -u sockd -o cat | grep -q "^<[0-7]>"'
	check "systemctl stop sockd" ctr systemctl stop sockd
	restore_config
}
test_journal_fields

# ---- 7. sockd status and the status endpoint under the shipped unit --------
# RuntimeDirectory=sockd gives the control socket its place without any
# control.path; root asks it with plain "sockd status"; a status service
# serves /metrics and /status from a worker.
test_status_unit() {
	local out resp mode
	use_config 'services = (
  { name = "echo"; listen = "127.0.0.1:7007"; handler = "echo"; workers = 2; },
  { name = "status"; listen = "127.0.0.1:9161"; handler = "status"; model = "event";
    workers = 1; }
);'
	if ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd with an echo and a status service"
	else
		notok "systemctl start sockd with an echo and a status service"; diag
		restore_config; return
	fi
	check "echo answers" echo_roundtrip 127.0.0.1 7007
	mode=$(ctr stat -c '%a %F' /run/sockd/control 2>&1)
	check "the control socket is /run/sockd/control, mode 600 ($mode)" test "$mode" = "600 socket"
	out=$(ctr "$bin" status 2>&1)
	check "sockd status (no option: /run/sockd/control) lists echo with 2 workers" \
		grep -qE '^echo +prefork +2 \(' <<<"$out" || say "$out"
	out=$(ctr "$bin" status -w echo 2>&1)
	check "sockd status -w echo has a row per echo worker" \
		test "$(grep -cE '^echo +[0-9]+ +1 +(idle|busy)' <<<"$out")" = 2
	if command -v jq >/dev/null 2>&1; then
		out=$(ctr "$bin" status --json 2>&1)
		check "sockd status --json: schema 1, echo accepted a connection" \
			jq -e '.schema == 1 and (.services[0] | .name == "echo" and .connections.accepted >= 1)' \
			<<<"$out"
	fi
	resp=$(http_get 9161 /metrics)
	check "GET /metrics from the status service" \
		grep -q '^sockd_connections_accepted_total{service="echo"} [1-9]' <<<"$resp"
	check "sockd status as an unprivileged user: refused, clearly" \
		eval "ctr setpriv --reuid=65534 --regid=65534 --clear-groups $bin status 2>&1 |
			grep -q 'permission denied'"
	check "systemctl stop sockd" ctr systemctl stop sockd
	check "the control socket is gone after the stop" eval '! ctr test -e /run/sockd/control'
	restore_config
}
test_status_unit

# ---- 8. restarts refuse nothing; a stop lets connections finish ------------
# conn_loop NAME PORT: in the background, a client that connects to
# 127.0.0.1:PORT, sends a line and wants it back, over and over (about 100
# a second, at most 3000, at most 40 s) until $tmp/NAME.stop exists; then
# "CONNECTS REFUSED FAILED" in $tmp/NAME.out. Refused: connect() failed;
# failed: connected, but no echo (cut, or nothing in 15 s: a client that
# waits in the backlog through a restart is served late, by a new master
# that may be a slow sanitizer build on a busy machine, and is not cut).
conn_loop() {
	rm -f "$tmp/$1.stop" "$tmp/$1.out"
	timeout 60 nsenter -t "$init" -n bash -c '
		n=0 refused=0 bad=0 SECONDS=0
		while [ ! -e "$1.stop" ] && [ "$n" -lt 3000 ] && [ "$SECONDS" -lt 40 ]; do
			n=$((n + 1))
			if ! exec 3<>"/dev/tcp/127.0.0.1/$2"; then
				refused=$((refused + 1))
			elif ! { printf "loop %s\n" "$n" >&3 && IFS= read -r -t 15 line <&3 &&
				[ "$line" = "loop $n" ]; }; then
				bad=$((bad + 1))
			fi
			exec 3>&-
			sleep 0.01
		done
		echo "$n $refused $bad" >"$1.out"' _ "$tmp/$1" "$2" 2>/dev/null &
	loop_pid=$!
}
conn_loop_end() { # conn_loop_end NAME: stop it; sets connects, refused, cut
	touch "$tmp/$1.stop"
	wait "$loop_pid"
	read -r connects refused cut <"$tmp/$1.out" 2>/dev/null || { connects=0 refused=? cut=?; }
}
mainpid() { ctr systemctl show -p MainPID --value sockd; }
# restarts N: N times "systemctl restart sockd" (the start limit reset
# before each, it allows 5 starts in 10 s); restarts_ok says how many
# succeeded and gave a new MainPID.
restarts() {
	local i old new
	restarts_ok=0
	for ((i = 0; i < $1; i++)); do
		old=$(mainpid)
		ctr systemctl reset-failed sockd >/dev/null 2>&1
		ctr systemctl restart sockd || continue
		new=$(mainpid)
		[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] && restarts_ok=$((restarts_ok + 1))
	done
}
invocation_log() { ctr journalctl --no-pager _SYSTEMD_INVOCATION_ID="$(ctr systemctl show -p InvocationID --value sockd)" -o cat; }

# With sockd.socket: systemd holds 127.0.0.1:7007 over every restart, a
# client waits in the backlog for the new master, none is refused or cut.
test_restart_socket() {
	[ -n "$socket_unit" ] || return
	ctr systemctl reset-failed sockd >/dev/null 2>&1
	if ctr systemctl start sockd.socket && ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd.socket sockd"
	else
		notok "systemctl start sockd.socket sockd"; diag; return
	fi
	conn_loop sock 7007
	sleep 0.3
	restarts 10
	sleep 0.3
	conn_loop_end sock
	check "10 x systemctl restart sockd with sockd.socket: each one a new MainPID ($restarts_ok of 10)" \
		test "$restarts_ok" = 10
	check "a client loop through them: $connects connections, $refused refused, $cut cut" \
		test "$connects" -ge 20 -a "$refused" = 0 -a "$cut" = 0
	check "the last sockd took the socket from systemd again" \
		eval 'invocation_log | grep -q "listening on 127\.0\.0\.1:7007 (from systemd)"'
	check "systemctl stop sockd.socket sockd" ctr systemctl stop sockd.socket sockd
}

# dropin NAME TEXT: a drop-in for sockd.service ("" removes it), then
# daemon-reload. The restart tests add ExecStartPre=/bin/sleep 0.5: a gap
# of at least half a second between the old master and the new one, in
# which the loop's clients are refused unless something holds the socket.
dropin() {
	local d=/etc/systemd/system/sockd.service.d
	if [ -n "$2" ]; then
		ctr mkdir -p "$d" && printf '[Service]\n%s\n' "$2" | ctr sh -c "cat >$d/$1.conf"
	else
		ctr rm -f "$d/$1.conf"
	fi
	ctr systemctl daemon-reload
}
refuses() { # refuses HOST PORT: nobody holds the socket (not even systemd)
	! ctr_net timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# Without a socket unit: sockd's own TCP listeners are in systemd's fd
# store, and systemd 252 keeps the store over "systemctl restart" and over
# a crash that Restart=on-failure restarts, so neither refuses a client;
# "systemctl stop" empties it. sockd(8), RESTART, says the same.
test_restart_fdstore() {
	local pid log
	ctr systemctl reset-failed sockd >/dev/null 2>&1
	if ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd (no socket unit, FileDescriptorStoreMax=64)"
	else
		notok "systemctl start sockd (no socket unit, FileDescriptorStoreMax=64)"; diag; return
	fi
	conn_loop store 7007
	sleep 0.3
	restarts 5
	sleep 0.3
	conn_loop_end store
	check "5 x systemctl restart sockd (0.5 s between the masters): each one a new MainPID ($restarts_ok of 5)" \
		test "$restarts_ok" = 5
	check "systemd 252 kept the fd store over restarts: $connects connections, $refused refused, $cut cut" \
		test "$connects" -ge 20 -a "$refused" = 0 -a "$cut" = 0
	log=$(invocation_log)
	check "the new master took both sockets from the fd store" \
		eval 'grep -q "listening on 127\.0\.0\.1:7007 (from the fd store)" <<<"$log" &&
		      grep -q "listening on \[::1\]:7007 (from the fd store)" <<<"$log"'

	# A crash: SIGKILL to the master, Restart=on-failure starts it again.
	conn_loop crash 7007
	sleep 0.3
	pid=$(mainpid)
	ctr kill -KILL "$pid"
	wait_for eval 'test "$(mainpid)" != "$pid" -a "$(mainpid)" != 0' && wait_active
	sleep 0.3
	conn_loop_end crash
	check "a crashed master restarted (Restart=on-failure): MainPID $pid -> $(mainpid)" \
		eval 'test "$(mainpid)" != "$pid" -a "$(mainpid)" != 0 && is_active active'
	# (A client the dead master's worker was serving at that instant may be
	# cut: that is the crash, not the store. Refused would be the store.)
	check "systemd 252 kept the fd store over the crash: $connects connections, $refused refused, $cut cut" \
		test "$connects" -ge 20 -a "$refused" = 0 -a "$cut" -le 1
	check "the restarted master took the sockets from the fd store" \
		eval 'invocation_log | grep -q "listening on 127\.0\.0\.1:7007 (from the fd store)"'

	# An address the configuration no longer has: the next start closes
	# what the store gave back for it and removes it from the store.
	use_config 'services = ( { name = "echo"; listen = "127.0.0.1:7007"; handler = "echo"; workers = 2; } );'
	ctr systemctl reset-failed sockd >/dev/null 2>&1
	check "systemctl restart sockd without [::1]:7007 in the configuration" ctr systemctl restart sockd
	log=$(invocation_log)
	check "it closed [::1]:7007 from the fd store and removed it (journal: 'fd store: [::1]:7007 (store/echo) removed')" \
		grep -q 'fd store: \[::1\]:7007 (store/echo) removed: no longer listened on' <<<"$log"
	check "[::1]:7007 refuses connections: not even systemd holds it" refuses ::1 7007
	check "127.0.0.1:7007 came from the fd store and echoes" \
		eval 'grep -q "listening on 127\.0\.0\.1:7007 (from the fd store)" <<<"$log" &&
		      echo_roundtrip 127.0.0.1 7007'
	ctr systemctl reset-failed sockd >/dev/null 2>&1
	ctr systemctl restart sockd
	log=$(invocation_log)
	check "the next restart gets only 127.0.0.1:7007 back from the store" \
		eval 'grep -q "listening on 127\.0\.0\.1:7007 (from the fd store)" <<<"$log" &&
		      ! grep -q "::1" <<<"$log"'

	# A reload that drops an address removes it from the store as well.
	restore_config
	check "systemctl reload sockd: [::1]:7007 back" ctr systemctl reload sockd
	check "[::1]:7007 echoes again" wait_for echo_roundtrip ::1 7007
	use_config 'services = ( { name = "echo"; listen = "127.0.0.1:7007"; handler = "echo"; workers = 2; } );'
	check "systemctl reload sockd: [::1]:7007 dropped" ctr systemctl reload sockd
	check "the reload removed it from the fd store (journal)" \
		wait_for eval 'invocation_log | grep -q "fd store: \[::1\]:7007 (store/echo) removed"'
	check "[::1]:7007 refuses connections once the old workers are gone" wait_for refuses ::1 7007
	restore_config

	check "systemctl stop sockd" ctr systemctl stop sockd
	check "after a stop the store is empty: 127.0.0.1:7007 refuses connections" refuses 127.0.0.1 7007

	# The control: without the store the same restarts refuse clients
	# (so the loop above would have seen it).
	dropin fdstore-off 'FileDescriptorStoreMax=0'
	ctr systemctl reset-failed sockd >/dev/null 2>&1
	ctr systemctl start sockd && wait_active
	conn_loop nostore 7007
	sleep 0.3
	restarts 3
	sleep 0.3
	conn_loop_end nostore
	check "control, FileDescriptorStoreMax=0: the restarts refuse clients ($connects connections, $refused refused)" \
		test "$refused" -gt 0
	ctr systemctl stop sockd
	dropin fdstore-off ''
}

# "systemctl stop" under load: with timeouts.graceful = 2, connections
# open when the stop begins still echo, and those that end within the 2 s
# are not cut; one that stays open past them is.
# stop_client ID HOLD: connects, gets an echo, waits for $tmp/stop.go, waits
# HOLD s, wants another echo; then closes ("echoed"), or for HOLD=long
# waits up to 8 s for sockd to cut it ("cut"). The result in $tmp/ID.res.
stop_client() {
	timeout 20 nsenter -t "$init" -n bash -c '
		res() { echo "$1" >"$2.res"; exit 0; }
		exec 3<>/dev/tcp/127.0.0.1/7007 || res noconnect "$1"
		printf "before\n" >&3 && IFS= read -r -t 3 line <&3 && [ "$line" = before ] ||
			res "no first echo" "$1"
		touch "$1.up"
		while [ ! -e "$2" ]; do sleep 0.05; done
		sleep 0.5
		printf "during\n" >&3 && IFS= read -r -t 3 line <&3 && [ "$line" = during ] ||
			res "cut before its end" "$1"
		[ "$3" = long ] || { exec 3>&-; res echoed "$1"; }
		IFS= read -r -t 8 line <&3
		case $? in 0) res "data after the stop: $line" "$1" ;; 1) res cut "$1" ;; esac
		res "not cut in 8 s" "$1"' _ "$tmp/$1" "$tmp/stop.go" "$2" 2>/dev/null &
	client_pids+=($!)
}
test_stop_graceful() {
	local i r short=0 stop_pid st client_pids=()
	use_config 'services = ( { name = "echo"; listen = "127.0.0.1:7007"; handler = "echo";
  model = "prefork"; workers = 6; timeouts = { graceful = 2; }; } );'
	ctr systemctl reset-failed sockd >/dev/null 2>&1
	if ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd with timeouts.graceful = 2"
	else
		notok "systemctl start sockd with timeouts.graceful = 2"; diag; restore_config; return
	fi
	rm -f "$tmp/stop.go" "$tmp"/stopc*.res "$tmp"/stopc*.up
	for i in 1 2 3 4; do stop_client "stopc$i" short; done
	stop_client stopc5 long
	wait_for eval 'test "$(ls "$tmp"/stopc*.up 2>/dev/null | wc -l)" = 5' ||
		say "not all 5 clients connected: $(ls "$tmp" | grep -c 'stopc.*up')"
	ctr systemctl stop sockd &
	stop_pid=$!
	touch "$tmp/stop.go"
	wait "$stop_pid"; st=$?
	wait "${client_pids[@]}"	# each bounded by its timeout
	for i in 1 2 3 4; do
		r=$(cat "$tmp/stopc$i.res" 2>/dev/null)
		[ "$r" = echoed ] && short=$((short + 1)) || say "client $i: ${r:-no result}"
	done
	check "systemctl stop sockd under load returned $st" test "$st" = 0
	check "4 connections open at the stop echoed during it and closed on their own: $short of 4, none cut" \
		test "$short" = 4
	r=$(cat "$tmp/stopc5.res" 2>/dev/null)
	check "the one still open past timeouts.graceful is cut: ${r:-no result}" test "$r" = cut
	check "the stop was clean: Result=$(ctr systemctl show -p Result --value sockd)" \
		test "$(ctr systemctl show -p Result --value sockd)" = success
	restore_config
}

dropin slow-start 'ExecStartPre=/bin/sleep 0.5'
test_restart_socket
test_restart_fdstore
dropin slow-start ''
test_stop_graceful

# ---- 9. binary upgrade in place under the shipped unit -----------------------
# The service runs a copy of the binary from a writable place of the
# container (a drop-in points ExecStart there), so the test can put version
# B (tests/sockd-b: the same daemon, another version string) over it as a
# package would, then `systemctl kill -s USR2 sockd`: the MainPID stays, the
# new version answers, a connect loop sees no failure, a held connection
# carries on, and the old workers are gone once it closes. Then a broken
# "binary" (a script that exits 1) leaves the running master serving.
load_loop() { # load_loop STOPFILE OUTFILE: connect, echo, count; bounded
	timeout 60 nsenter -t "$init" -n bash -c '
		ok=0 bad=0
		for ((i = 0; i < 3000; i++)); do
			[ -e "$1" ] && break
			if exec 3<>/dev/tcp/127.0.0.1/7007 && printf "x%s\n" "$i" >&3 &&
				IFS= read -r -t 15 line <&3 && [ "$line" = "x$i" ]; then
				ok=$((ok + 1))
			else
				bad=$((bad + 1))
			fi
			exec 3>&-
			sleep 0.01
		done
		echo "$ok $bad" >"$2"' _ "$1" "$2" 2>/dev/null
}
test_upgrade_unit() {
	local d=/opt/sockd-upgrade b="$SOCKD_BUILDDIR/tests/sockd-b" pid0 pid1 out loader i good bad
	local dropin=/etc/systemd/system/sockd.service.d/upgrade.conf
	if [ ! -x "$b" ]; then
		notok "tests/sockd-b is built (make check builds it)"; return
	fi
	ctr mkdir -p "$d" "${dropin%/*}" &&
		ctr sh -c "cat >$d/sockd && chmod 755 $d/sockd" <"$dest$bin" &&
		printf '[Service]\nExecStart=\nExecStart=%s/sockd -c %s\n' "$d" "$conf" |
		ctr sh -c "cat >$dropin" && ctr systemctl daemon-reload ||
		{ notok "a drop-in runs sockd from $d"; return; }
	use_config 'services = (
  { name = "echo"; listen = "127.0.0.1:7007"; handler = "echo"; framing = "line";
    workers = 2; timeouts = { graceful = 20.0; }; }
);'
	if ctr systemctl start sockd && wait_active; then
		ok "systemctl start sockd (version A, from $d)"
	else
		notok "systemctl start sockd (version A, from $d)"; diag
	fi
	pid0=$(ctr systemctl show -p MainPID --value sockd)
	rm -f "$tmp/load.stop" "$tmp/load.out"
	load_loop "$tmp/load.stop" "$tmp/load.out" &
	loader=$!
	coproc held { timeout 40 nsenter -t "$init" -n bash -c '
		exec 3<>/dev/tcp/127.0.0.1/7007 || exit 1
		while IFS= read -r l; do printf "%s\n" "$l" >&3; IFS= read -r -t 3 r <&3 || exit 1
			printf "%s\n" "$r"; done' 2>/dev/null; }
	echo before >&"${held[1]}"; IFS= read -r -t 5 out <&"${held[0]}"
	check "a held connection echoes before the upgrade" test "$out" = before
	sleep 0.5
	ctr sh -c "cat >$d/sockd.new && chmod 755 $d/sockd.new && mv $d/sockd.new $d/sockd" <"$b"
	check "systemctl kill -s USR2 sockd" ctr systemctl kill -s USR2 sockd
	check "the journal says it upgraded to the +b version" \
		wait_journal 'upgraded from sockd [^ ]+ to sockd [^ ]+\+b: generation 2'
	check "sockd is active again (READY=1 after RELOADING=1)" wait_active
	pid1=$(ctr systemctl show -p MainPID --value sockd)
	check "MainPID is unchanged ($pid0 -> $pid1)" test -n "$pid0" -a "$pid0" = "$pid1"
	out=$(ctr "$d/sockd" status 2>&1)
	check "sockd status shows the new version and the upgrade" \
		eval 'grep -q "^sockd [^ ]*+b (pid $pid1)" <<<"$out" && grep -q "^upgrades: 1 ok" <<<"$out"' ||
		say "$out"
	echo during >&"${held[1]}"; IFS= read -r -t 5 out <&"${held[0]}"
	check "the held connection still echoes after the upgrade" test "$out" = during
	eval "exec ${held[1]}>&-"
	wait "$held_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		[ "$(ctr pgrep -c -P "$pid1")" = 2 ] && break
		sleep 0.1
	done
	check "the old workers are gone once their connection closed (2 workers left)" \
		test "$(ctr pgrep -c -P "$pid1")" = 2
	sleep 0.5
	touch "$tmp/load.stop"; wait "$loader"
	read -r good bad <"$tmp/load.out" 2>/dev/null
	check "a connect loop through the upgrade: ${good:-?} answered, ${bad:-?} failed" \
		test "${good:-0}" -ge 20 -a "${bad:-1}" = 0
	# A broken new binary: refused, the running master serves on.
	printf '#!/bin/sh\nexit 1\n' | ctr sh -c "cat >$d/sockd.new && chmod 755 $d/sockd.new &&
		mv $d/sockd.new $d/sockd"
	ctr systemctl kill -s USR2 sockd
	if wait_journal 'upgrade failed: .*sockd -V: exit status 1; sockd [^ ]+\+b serves on'; then
		ok "a broken binary: the upgrade is refused, and the journal says why"
	else
		notok "a broken binary: the upgrade is refused, and the journal says why"
		svc_journal -o cat | grep -E 'upgrad' | indent
	fi
	check "... sockd stays active with the same MainPID" eval \
		'wait_active && test "$(ctr systemctl show -p MainPID --value sockd)" = "$pid1"'
	check "... and echo answers" echo_roundtrip 127.0.0.1 7007
	ctr systemctl stop sockd
	ctr rm -f "$dropin"
	ctr systemctl daemon-reload
	restore_config
}
test_upgrade_unit


# ---- 10. datagram services from a .socket unit, without listen ---------------
# A second socket unit (ListenDatagram= and ListenStream=, one name each)
# for sockd.service, and a sockd.conf whose services have no listen at all:
# the addresses are written once, in the unit. A UDP echo and a TCP echo
# answer, both sockets logged as from systemd; a reload keeps them. (bash
# reads a socket a byte at a time, which would drop the rest of a datagram:
# head reads it whole.)
udp_roundtrip() { # udp_roundtrip PORT: one datagram and its echo, in the container's network
	local msg="dgram $RANDOM$RANDOM"
	ctr_net timeout 5 bash -c '
		exec 3<>"/dev/udp/127.0.0.1/$1" || exit 1
		printf "%s" "$2" >&3
		line=$(head -c ${#2} <&3) && [ "$line" = "$2" ]' _ "$1" "$msg" 2>/dev/null
}
test_datagram_socket_unit() {
	local u=/etc/systemd/system/sockd-dg.socket
	printf '[Socket]\nListenDatagram=127.0.0.1:7008\nFileDescriptorName=dg\nService=sockd.service\n' |
		ctr sh -c "cat >$u" &&
		printf '[Socket]\nListenStream=127.0.0.1:7009\nFileDescriptorName=st\nService=sockd.service\n' |
		ctr sh -c "cat >${u%dg.socket}st.socket" && ctr systemctl daemon-reload ||
		{ notok "two socket units for sockd.service"; return; }
	use_config 'services = (
  { name = "dg"; handler = "echo"; model = "event"; workers = 1; },
  { name = "st"; handler = "echo"; framing = "line"; workers = 1; }
);'
	if ctr systemctl start sockd-dg.socket sockd-st.socket && ctr systemctl start sockd &&
		wait_active; then
		ok "sockd.service with ListenDatagram= and ListenStream= units, no listen in sockd.conf"
	else
		notok "sockd.service with ListenDatagram= and ListenStream= units, no listen in sockd.conf"
		diag
	fi
	check "a UDP datagram to the ListenDatagram= socket is echoed" udp_roundtrip 7008
	check "the ListenStream= socket echoes" echo_roundtrip 127.0.0.1 7009
	check "sockd took both from systemd (journal)" eval \
		'invocation_log | grep -q "dg: listening on udp:127\.0\.0\.1:7008 (from systemd)" &&
		invocation_log | grep -q "st: listening on 127\.0\.0\.1:7009 (from systemd)"'
	check "systemctl reload sockd" eval 'ctr systemctl reload sockd && wait_active'
	check "... and the datagram service still echoes" udp_roundtrip 7008
	ctr systemctl stop sockd sockd-dg.socket sockd-st.socket
	ctr rm -f "$u" "${u%dg.socket}st.socket"
	ctr systemctl daemon-reload
	restore_config
}
test_datagram_socket_unit

# ---- 11. instances: sockd@a and sockd@b, two independent daemons -----------
# The installed template units, instance configs in SYSCONFDIR/sockd/ (the
# host writes them through a bind mount). Each instance has its own master,
# user, /run/sockd-NAME (control socket), journal field SOCKD_INSTANCE and
# reload: reloading a leaves b's MainPID, workers and a held connection
# alone, stopping a leaves b serving. Then sockd@c.socket with a drop-in.
# a's service runs model = "uring": the template's filter allows io_uring too.
inst_conf() { # inst_conf NAME TEXT: SYSCONFDIR/sockd/NAME.conf in the container
	printf '%s\n' "$2" >"$tmp/instances/$1.conf"
}
inst_active() { test "$(ctr systemctl is-active "sockd@$1")" = active; }
inst_pid() { ctr systemctl show -p MainPID --value "sockd@$1"; }
inst_workers() { ctr pgrep -P "$1" | sort | tr '\n' ' '; }
inst_journal() { # inst_journal NAME: this start's lines of sockd@NAME
	ctr journalctl --no-pager _SYSTEMD_INVOCATION_ID="$(ctr systemctl show -p InvocationID --value "sockd@$1")" -o cat
}
holds_ring() { # holds_ring [UNIT]: every worker of UNIT (sockd) has an io_uring descriptor
	local main w n=0
	main=$(ctr systemctl show -P MainPID "${1:-sockd}") || return 1
	for w in $(ctr ps -o pid= --ppid "$main"); do
		ctr ls -l "/proc/$w/fd" 2>/dev/null | grep -q 'anon_inode:\[io_uring\]' || return 1
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}
test_instances() {
	local u f d=/etc/systemd/system pa pb wb wb2 ua ub out held_out i sec1 sec2 score
	for u in sockd@.service sockd@.socket; do
		f=$(find "$dest" -path "*/systemd/system/$u" -type f | head -1)
		if [ -z "$f" ]; then notok "make install installs $u"; return; fi
		ctr sh -c "cat >$d/$u" <"$f" || { notok "copy $u into the container"; return; }
	done
	ok "make install installs sockd@.service and sockd@.socket"
	check "sockd@.service reads ${conf%/*}/sockd/%i.conf" \
		grep -q "^ExecStart=$bin -c ${conf%/*}/sockd/%i\.conf\$" "$(find "$dest" -path '*/systemd/system/sockd@.service' | head -1)"
	# The same sandbox as sockd.service: systemd-analyze rates every item alike.
	if command -v systemd-analyze >/dev/null 2>&1; then
		mkdir -p "$tmp/sec" && cp "$unit" "$tmp/sec/sockd.service" &&
			cp "$(find "$dest" -path '*/systemd/system/sockd@.service' | head -1)" "$tmp/sec/sockd@a.service"
		sec1=$(cd "$tmp/sec" && systemd-analyze security --offline=true "$tmp/sec/sockd.service" 2>&1)
		sec2=$(cd "$tmp/sec" && systemd-analyze security --offline=true "$tmp/sec/sockd@a.service" 2>&1 |
			sed 's/sockd@a\.service/sockd.service/')
		score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$sec2")
		if [ -n "$score" ] && [ "$sec1" = "$sec2" ]; then
			ok "systemd-analyze security: sockd@a.service rates like sockd.service, item for item (exposure $score)"
		else
			notok "systemd-analyze security: sockd@a.service rates like sockd.service, item for item"
			diff <(echo "$sec1") <(echo "$sec2") | indent
		fi
	fi
	if [ -n "${SOCKD_SANITIZERS:-}" ]; then
		ctr mkdir -p "$d/sockd@.service.d" &&
			ctr sh -c "cat >$d/sockd@.service.d/asan.conf" <"$tmp/asan.conf"
	fi
	ctr systemctl daemon-reload
	inst_conf a 'services = ( { name = "alpha"; listen = "127.0.0.1:7101"; handler = "echo";
  framing = "line"; model = "uring"; workers = 2; } );'
	inst_conf b 'services = ( { name = "beta"; listen = "127.0.0.1:7102"; handler = "echo";
  framing = "line"; workers = 2; timeouts = { graceful = 20.0; }; } );'
	if ctr systemctl start sockd@a sockd@b && wait_for inst_active a && wait_for inst_active b; then
		ok "systemctl start sockd@a sockd@b"
	else
		notok "systemctl start sockd@a sockd@b"
		ctr systemctl status --no-pager -l sockd@a sockd@b 2>&1 | indent; return
	fi
	pa=$(inst_pid a) pb=$(inst_pid b)
	ua=$(ctr grep '^Uid:' "/proc/${pa:-0}/status" 2>/dev/null | cut -f2)
	ub=$(ctr grep '^Uid:' "/proc/${pb:-0}/status" 2>/dev/null | cut -f2)
	check "two masters ($pa, $pb), two dynamic users sockd-a ($ua) and sockd-b ($ub)" \
		eval 'test -n "$pa" -a -n "$pb" -a "$pa" != "$pb" -a "$pa" != 0 -a "$pb" != 0 &&
		test -n "$ua" -a -n "$ub" -a "$ua" != "$ub" -a "$ua" != 0 -a "$ub" != 0 &&
		test "$(ctr systemctl show -p User --value sockd@a)" = sockd-a'
	check "a's uring workers hold an io_uring (sockd@.service's filter allows it too)" \
		holds_ring sockd@a
	check "a echoes on 127.0.0.1:7101, b on 127.0.0.1:7102" \
		eval 'echo_roundtrip 127.0.0.1 7101 && echo_roundtrip 127.0.0.1 7102'
	check "each has its control socket: /run/sockd-a/control, /run/sockd-b/control" \
		eval 'ctr test -S /run/sockd-a/control && ctr test -S /run/sockd-b/control'
	for i in a b; do
		out=$(ctr "$bin" status -s "/run/sockd-$i/control" 2>&1)
		if [ $i = a ]; then set -- "$pa" alpha beta uring; else set -- "$pb" beta alpha prefork; fi
		if grep -q "(pid $1)" <<<"$out" && grep -qE "^$2 +$4 +2 \(" <<<"$out" &&
			! grep -q "^$3" <<<"$out"; then
			ok "sockd status -s /run/sockd-$i/control: $i's master ($1), $2 and not $3"
		else
			notok "sockd status -s /run/sockd-$i/control: $i's master ($1), $2 and not $3"
			indent <<<"$out"
		fi
	done
	out=$(ctr journalctl --no-pager SOCKD_INSTANCE=a -o cat)
	check "journalctl SOCKD_INSTANCE=a: a's lines (alpha), none of b's (beta)" \
		eval 'grep -q "^alpha: listening on 127\.0\.0\.1:7101" <<<"$out" && ! grep -q "^beta:" <<<"$out"'
	check "journalctl -u sockd@b -o json: SOCKD_INSTANCE=b on sockd's own entries" \
		eval 'ctr journalctl --no-pager -u sockd@b -o json --output-fields=SOCKD_INSTANCE,MESSAGE |
		grep "beta: listening on" | grep -q "\"SOCKD_INSTANCE\":\"b\""'
	check "journalctl -t sockd-b: b's own entries carry its identifier (beta), none of a's" \
		eval 'o=$(ctr journalctl --no-pager -t sockd-b -o cat) &&
		grep -q "^beta: listening on" <<<"$o" && ! grep -q "^alpha:" <<<"$o"'

	# A connection held open to b across a's reload and a's stop.
	wb=$(inst_workers "$pb")
	coproc held { timeout 60 nsenter -t "$init" -n bash -c '
		exec 3<>/dev/tcp/127.0.0.1/7102 || exit 1
		while IFS= read -r l; do printf "%s\n" "$l" >&3; IFS= read -r -t 3 r <&3 || exit 1
			printf "%s\n" "$r"; done' 2>/dev/null; }
	echo first >&"${held[1]}"; IFS= read -r -t 5 held_out <&"${held[0]}"
	check "a connection held open to b echoes" test "$held_out" = first
	check "systemctl reload sockd@a" ctr systemctl reload sockd@a
	check "a logged its reload (journalctl -u sockd@a: 'reloaded: generation 2')" \
		wait_for eval 'inst_journal a | grep -q "reloaded: generation 2"'
	check "b did not reload: no SIGHUP, no 'reloaded' in its journal" \
		eval '! inst_journal b | grep -qE "SIGHUP|reloaded"'
	wb2=$(inst_workers "$pb")
	check "b's MainPID ($pb) and workers ($wb) are unchanged ($(inst_pid b); $wb2)" \
		test "$(inst_pid b)" = "$pb" -a "$wb2" = "$wb" -a -n "$wb"
	echo second >&"${held[1]}"; IFS= read -r -t 5 held_out <&"${held[0]}"
	check "the connection held to b still echoes after a's reload" test "$held_out" = second
	check "a echoes after its reload" echo_roundtrip 127.0.0.1 7101

	check "systemctl stop sockd@a" ctr systemctl stop sockd@a
	check "a is inactive and /run/sockd-a is gone" \
		eval '! inst_active a && ! ctr test -e /run/sockd-a'
	check "b still active with the same MainPID and workers, /run/sockd-b/control there" \
		eval 'inst_active b && test "$(inst_pid b)" = "$pb" -a "$(inst_workers "$pb")" = "$wb" &&
		ctr test -S /run/sockd-b/control'
	echo third >&"${held[1]}"; IFS= read -r -t 5 held_out <&"${held[0]}"
	check "the connection held to b still echoes after a's stop" test "$held_out" = third
	check "b answers new clients; a's port refuses" \
		eval 'echo_roundtrip 127.0.0.1 7102 && refuses 127.0.0.1 7101'
	eval "exec ${held[1]}>&-"
	wait "$held_PID" 2>/dev/null

	# sockd@c.socket: the template names no address, a drop-in gives it.
	inst_conf c 'services = ( { name = "gamma"; handler = "echo"; framing = "line"; workers = 1; } );'
	ctr mkdir -p "$d/sockd@c.socket.d" &&
		printf '[Socket]\nListenStream=127.0.0.1:7103\nFileDescriptorName=gamma\n' |
		ctr sh -c "cat >$d/sockd@c.socket.d/listen.conf" && ctr systemctl daemon-reload
	check "systemctl start sockd@c.socket (address from a drop-in)" ctr systemctl start sockd@c.socket
	check "a client of 127.0.0.1:7103 starts sockd@c and gets its echo" echo_roundtrip 127.0.0.1 7103
	check "sockd@c took the socket from systemd" \
		wait_for eval 'inst_active c && inst_journal c | grep -q "gamma: listening on 127\.0\.0\.1:7103 (from systemd)"'
	check "systemctl stop sockd@c.socket sockd@c sockd@b" ctr systemctl stop sockd@c.socket sockd@c sockd@b
	out=$(for i in a b c; do ctr systemctl show -p Result --value "sockd@$i"; done | tr '\n' ' ')
	check "every instance stopped cleanly (Result: $out)" test "$out" = "success success success "
	ctr rm -rf "$d/sockd@c.socket.d" "$d/sockd@.service.d" "$d/sockd@.service" "$d/sockd@.socket"
	ctr systemctl daemon-reload
}
test_instances

# ---- 12. io_uring under the shipped unit's system call filter -------------------
# @system-service leaves io_uring out on 252; the unit allows its three
# calls. A uring service's workers hold a ring (no "runs as event" notice)
# and serve, with the exposure score of the unit as it was.
test_uring_unit() {
	use_config 'services = (
  { name = "ur"; listen = "127.0.0.1:7010"; handler = "echo"; framing = "line";
    model = "uring"; workers = 2; }
);'
	if ctr systemctl restart sockd && wait_active; then
		ok "a uring service starts under the shipped unit"
	else
		notok "a uring service starts under the shipped unit"
		diag
	fi
	check "its workers hold an io_uring (the filter lets io_uring_setup through)" holds_ring
	check "... and say no fallback to event" eval '! invocation_log | grep -q "runs as \"event\""'
	check "the uring service echoes" echo_roundtrip 127.0.0.1 7010
	# A filter that denies io_uring: one notice, served as event.
	local d=/etc/systemd/system/sockd.service.d
	ctr mkdir -p "$d" && printf '[Service]\nSystemCallFilter=~io_uring_setup\n' |
		ctr sh -c "cat >$d/no-uring.conf" && ctr systemctl daemon-reload &&
		ctr systemctl restart sockd && wait_active ||
		{ notok "restart with io_uring_setup denied"; diag; }
	check "io_uring denied by the filter: one notice, \"runs as event\"" eval \
		'[ "$(invocation_log | grep -c "ur: io_uring cannot be used (io_uring_setup: Operation not permitted): model \"uring\" runs as \"event\"")" = 1 ]'
	check "... its workers hold no ring" eval '! holds_ring'
	check "... and it echoes as event" echo_roundtrip 127.0.0.1 7010
	ctr rm -f "$d/no-uring.conf"
	ctr systemctl daemon-reload
	restore_config
	ctr systemctl restart sockd && wait_active
}
test_uring_unit

rc=$failed
exit "$rc"
