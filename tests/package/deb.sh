#!/bin/bash
# deb.sh - the Debian package as a user gets it: build sockd and sockd-dev
# with dpkg-buildpackage from a clean copy of the tree, check them with
# lintian, then install, reinstall, upgrade, remove and purge them under a
# real systemd (PID 1 of a throw-away systemd-nspawn container over the
# host's tree, every write of it in a tmpfs overlay) and check what a
# Debian administrator relies on at each step. See README.md next to it.
#
# Run as root. Exit codes (automake): 0 pass, 1 a check failed, 77 skipped
# (a "SKIP:" line says why; with SOCKD_REQUIRE_TOOLS=1 a missing tool is a
# failure instead), 99 rig error. Not part of make check: "make deb" runs it.
#
# Safety (DESIGN.md section 8, as in tests/systemd/run.sh): before the
# container's systemd starts, this shell moves into a sub-cgroup of its own
# in every systemd-relevant hierarchy; the container is ended by pid, the
# sub-cgroups are removed, and every wait is bounded. The container's root
# is a tmpfs, and the host's /etc, /usr and /var are laid under writable
# layers in a temporary directory: dpkg in there never touches the host.
set -u
export LC_ALL=C SYSTEMD_PAGER= SYSTEMD_COLORS=0 SYSTEMD_LESS=
unset MAKEFLAGS MFLAGS MAKELEVEL

here=$(cd "$(dirname "$0")" && pwd) || exit 99
SOCKD_SRCDIR=${SOCKD_SRCDIR:-$(cd "$here/../.." && pwd)}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-30}
# Hard limit for everything after the builds (normally under a minute).
TEST_TIMEOUT=${TEST_TIMEOUT:-240}
# The builds run with nocheck: make check has run on this tree already (CI
# runs it first); DEB_BUILD_OPTIONS from the caller is added to that.
build_opts="nocheck parallel=${SOCKD_DEB_JOBS:-2} ${DEB_BUILD_OPTIONS:-}"

exec 3>&1 4>&2
SECONDS=0
failed=0
rc=99 # until the end is reached: an unexpected exit is a rig error
tmp=
nsp=
init=
watchdog=
machine=
subcgs=() # "mountpoint|original path|sub-cgroup directory"

say() { printf '# %s\n' "$*"; }
ok() { printf 'ok - %s\n' "$*"; }
notok() { printf 'not ok - %s\n' "$*"; failed=1; }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
skip() {
	if [ "${SOCKD_REQUIRE_TOOLS:-}" = 1 ]; then
		echo "not ok - $* (SOCKD_REQUIRE_TOOLS=1: this may not be skipped)"; rc=1; exit 1
	fi
	echo "SKIP: $*"; rc=77; exit 77
}
bail() { echo "Bail out! $*"; rc=99; exit 99; }
indent() { sed 's/^/#   /'; }

# ---- can this machine do it at all? ---------------------------------------
[ "$(id -u)" = 0 ] || skip "not root (dpkg -i under a booted systemd container needs root)"
for t in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian systemd-nspawn:systemd-container \
	nsenter:util-linux timeout:coreutils; do
	command -v "${t%%:*}" >/dev/null 2>&1 ||
		skip "${t%%:*} not found (Debian: apt-get install ${t#*:})"
done
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd on this machine"
[ -f "$SOCKD_SRCDIR/debian/control" ] || bail "no debian/control in $SOCKD_SRCDIR"

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
		kill -TERM "$nsp" 2>/dev/null # nspawn: an orderly poweroff
		if ! wait_gone "$nsp" 150; then
			say "container did not power off in 15 s: SIGKILL to its init and to nspawn"
			[ -n "$init" ] && kill -KILL "$init" 2>/dev/null
			kill -KILL "$nsp" 2>/dev/null
			wait_gone "$nsp" 50 || { say "nspawn $nsp survived SIGKILL"; rc=99; }
		fi
	fi
	[ -n "$nsp" ] && wait "$nsp" 2>/dev/null
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
	if [ -n "$tmp" ]; then
		if [ -n "${SOCKD_DEB_KEEP:-}" ]; then
			say "kept $tmp (SOCKD_DEB_KEEP)"
		else
			rm -rf --one-file-system "$tmp"
		fi
	fi
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-deb.XXXXXX") || bail "mktemp failed"
case $tmp in *:*) bail "temporary directory $tmp contains ':' (nspawn uses it as separator)" ;; esac
machine=sockd-deb-$$

# ---- 1. build version A, lint it, build version B -------------------------
# A copy of the tree: from git, the files git knows or would add (so
# uncommitted work is packaged, build output never); from a release
# tarball, everything. Nothing is written into the tree itself.
copy_tree() { # copy_tree DEST
	mkdir -p "$1" || return 1
	if git -C "$SOCKD_SRCDIR" rev-parse --show-toplevel >/dev/null 2>&1 &&
		[ "$(git -C "$SOCKD_SRCDIR" rev-parse --show-toplevel)" = "$SOCKD_SRCDIR" ]; then
		(cd "$SOCKD_SRCDIR" && git ls-files -z -c -o --exclude-standard |
			tar --null -T - -cf -) | tar -C "$1" -xf -
	else
		tar -C "$SOCKD_SRCDIR" --exclude=./_ci -cf - . | tar -C "$1" -xf -
	fi
}
build() { # build DIR: dpkg-buildpackage in DIR/sockd, the .debs land in DIR
	(cd "$1/sockd" && DEB_BUILD_OPTIONS=$build_opts timeout 600 \
		dpkg-buildpackage -us -uc -b -Pnocheck) >"$1/build.log" 2>&1
}
version_of() { dpkg-parsechangelog -l "$1/sockd/debian/changelog" -S Version; }

copy_tree "$tmp/a/sockd" || bail "cannot copy $SOCKD_SRCDIR"
va=$(version_of "$tmp/a") || bail "cannot read debian/changelog"
vb="$va+pkgtest1"
marker="# sockd $vb: this line is new in the packaged default"
arch=$(dpkg --print-architecture)
if [ -n "${SOCKD_DEB_REUSE:-}" ]; then
	# A kept run's debs/ (SOCKD_DEB_KEEP=1): no build, no lintian.
	mkdir -p "$tmp/debs" && cp "$SOCKD_DEB_REUSE"/*.deb "$tmp/debs/" ||
		bail "no packages in $SOCKD_DEB_REUSE"
	say "SOCKD_DEB_REUSE: packages from $SOCKD_DEB_REUSE, not built"
else
if (cd "$tmp/a/sockd" && dpkg-checkbuilddeps -P nocheck) >"$tmp/a/checkbuilddeps.log" 2>&1; then
	ok "dpkg-checkbuilddeps -P nocheck: the build dependencies are installed"
else
	notok "dpkg-checkbuilddeps -P nocheck"; indent <"$tmp/a/checkbuilddeps.log"
	rc=1; exit 1
fi
if build "$tmp/a" && [ -f "$tmp/a/sockd_${va}_$arch.deb" ] && [ -f "$tmp/a/sockd-dev_${va}_all.deb" ]; then
	ok "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=$(echo $build_opts)): sockd and sockd-dev $va"
else
	notok "dpkg-buildpackage -us -uc -b builds sockd and sockd-dev $va"
	tail -30 "$tmp/a/build.log" | indent
	rc=1; exit 1
fi

# lintian says it should not run as root: as nobody where nobody can read
# the build (not under a TMPDIR only root may enter), else as root.
changes=$tmp/a/sockd_${va}_$arch.changes
lint=(lintian --fail-on error,warning --display-info --pedantic --show-overrides "$changes")
chmod -R a+rX "$tmp/a" && chmod a+x "$tmp"
if command -v runuser >/dev/null 2>&1 && getent passwd nobody >/dev/null &&
	runuser -u nobody -- test -r "$changes" 2>/dev/null; then
	lint=(runuser -u nobody -- env HOME=/nonexistent "${lint[@]}")
fi
if (cd / && timeout 300 "${lint[@]}") >"$tmp/lintian.out" 2>&1; then
	ok "lintian on the .changes (its debs and .buildinfo): no error, no warning"
else
	notok "lintian on the .changes: no error, no warning"
fi
grep -E '^[EWIPNXO]: ' "$tmp/lintian.out" | indent
say "lintian: $(grep -c '^E: ' "$tmp/lintian.out") errors, $(grep -c '^W: ' "$tmp/lintian.out") warnings, $(grep -cE '^[IP]: ' "$tmp/lintian.out") info/pedantic, $(grep -c '^O: ' "$tmp/lintian.out") overridden"

# Version B: the same tree one changelog entry later, and a default
# sockd.conf that changed too, as a real upgrade's may: an administrator's
# changed file must win over both (dpkg keeps it, B's goes to .dpkg-dist).
copy_tree "$tmp/b/sockd" || bail "cannot copy $SOCKD_SRCDIR"
who=$(dpkg-parsechangelog -l "$tmp/b/sockd/debian/changelog" -S Maintainer)
{
	printf 'sockd (%s) unstable; urgency=medium\n\n' "$vb"
	printf '  * Test build for tests/package/deb.sh: a higher version to upgrade to.\n\n'
	printf ' -- %s  %s\n\n' "$who" "$(date -R)"
	cat "$tmp/a/sockd/debian/changelog"
} >"$tmp/b/sockd/debian/changelog"
printf '%s\n' "$marker" >>"$tmp/b/sockd/conf/sockd.conf"
if build "$tmp/b" && [ -f "$tmp/b/sockd_${vb}_$arch.deb" ]; then
	ok "dpkg-buildpackage of version $vb (for the upgrade)"
else
	notok "dpkg-buildpackage of version $vb"; tail -30 "$tmp/b/build.log" | indent
	rc=1; exit 1
fi
mkdir -p "$tmp/debs" && cp "$tmp/a/sockd_${va}_$arch.deb" "$tmp/a/sockd-dev_${va}_all.deb" \
	"$tmp/b/sockd_${vb}_$arch.deb" "$tmp/b/sockd-dev_${vb}_all.deb" "$tmp/debs/" ||
	bail "cannot collect the packages"
say "built in ${SECONDS} s"
fi

# From here on, a watchdog: past TEST_TIMEOUT it sends this shell SIGTERM.
(
	sleep "$TEST_TIMEOUT" &
	s=$!
	trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM
	wait $s && kill -TERM $$ 2>/dev/null
) &
watchdog=$!

# ---- 2. safety: a sub-cgroup of our own before any systemd starts ----------
add_subcg() { # add_subcg MOUNTPOINT ORIGINAL-PATH
	local sub=$1${2%/}/sockd-deb-test.$$
	mkdir "$sub" 2>/dev/null || return 1
	subcgs+=("$1|$2|$sub")
	echo $$ >"$sub/cgroup.procs" 2>/dev/null
}
cgfs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)
case $cgfs in
cgroup2fs)
	orig=$(sed -n 's/^0:://p' /proc/$$/cgroup)
	add_subcg /sys/fs/cgroup "$orig" ||
		skip "cannot create a sub-cgroup under /sys/fs/cgroup$orig: not starting a systemd manager without one"
	;;
tmpfs)
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
	key=
	[ "$mnt" = /sys/fs/cgroup/systemd ] && key=name=systemd
	grep -qx "[0-9]*:$key:${sub#$mnt}" /proc/$$/cgroup ||
		bail "this shell is not in $sub after moving there: refusing to start systemd"
done
say "this shell is in its own sub-cgroup(s): $(for s in "${subcgs[@]}"; do printf '%s ' "${s##*|}"; done)"

# ---- 3. boot the container ------------------------------------------------
# The host's /etc, /usr and /var, each with a writable layer in $tmp laid
# over it (nspawn refuses --volatile=overlay for -D /, so --volatile=yes and
# three --overlay=): dpkg sees the host's installed libraries and its
# database, and writes only into those layers. The packages bound in
# read-only; a network of its own (the shipped config's 127.0.0.1:7007 and
# [::1]:7007 never meet a host port); basic.target only, so none of the
# host's enabled services start in there.
mkdir -p "$tmp/ov/etc" "$tmp/ov/usr" "$tmp/ov/var" || bail "cannot make the overlay layers"
systemd-nspawn --quiet --console=read-only -D / --volatile=yes --register=no --keep-unit \
	--machine="$machine" --private-network \
	--overlay="/etc:$tmp/ov/etc:/etc" --overlay="/usr:$tmp/ov/usr:/usr" \
	--overlay="/var:$tmp/ov/var:/var" --bind-ro="$tmp/debs:/srv/sockd-debs" \
	-b systemd.unit=basic.target systemd.firstboot=off </dev/null >"$tmp/console.log" 2>&1 &
nsp=$!
say "systemd-nspawn pid $nsp, machine $machine"
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

ctr() { timeout 60 nsenter -t "$init" -a "$@"; }
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
	ok "container's systemd booted basic.target: $state ($(ctr systemctl --version | head -1))" ;;
*)
	echo "# systemd-nspawn output:"; tail -15 "$tmp/console.log" | indent
	pid_alive "$nsp" || skip "the container's systemd did not come up (nspawn exited)"
	bail "container's systemd not running after ${BOOT_TIMEOUT} s (state: '$state')" ;;
esac

# ---- 4. the checks --------------------------------------------------------
diag() {
	ctr systemctl status --no-pager -l sockd sockd.socket 2>&1 | indent
	ctr journalctl --no-pager -n 15 -u sockd 2>&1 | indent
}
dpkg_in() { # dpkg_in ARGS...: dpkg in the container, its output kept
	ctr env DEBIAN_FRONTEND=noninteractive dpkg "$@" </dev/null >"$tmp/dpkg.out" 2>&1
	local st=$?
	[ "$st" = 0 ] || indent <"$tmp/dpkg.out"
	return "$st"
}
wait_active() { # wait_active UNIT: up to 5 s (READY=1 follows the workers)
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(ctr systemctl is-active "$1")" = active ] && return 0
		sleep 0.1
	done
	return 1
}
echo_roundtrip() { # echo_roundtrip HOST PORT, in the container's network
	local msg="sockd-deb-test $RANDOM$RANDOM"
	ctr_net timeout 5 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "%s\n" "$3" >&3
		IFS= read -r -t 3 line <&3 && [ "$line" = "$3" ]' _ "$1" "$2" "$msg" 2>/dev/null
}
echo_both() { echo_roundtrip 127.0.0.1 7007 && echo_roundtrip ::1 7007; }
status_line() { ctr systemctl status --no-pager -l sockd 2>&1 | sed -n 's/^ *Status: //p'; }
installed_version() { ctr dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
dpkg_files() { ctr sh -c 'ls /etc/sockd.conf.dpkg-* /etc/logrotate.d/sockd.dpkg-* 2>/dev/null'; }
sockd_paths() { # every path named *sockd* where a package or its service could leave one
	ctr find /etc /lib/systemd /usr /var /run /srv -path /srv/sockd-debs -prune -o \
		-path /run/systemd -prune -o -name '*sockd*' -print 2>/dev/null | sort
}

# Deliberately nothing like policy-rc.d in there: the postinst is to start
# sockd as on a real system (a policy-rc.d on the host, left by another
# install, is removed from the overlay only).
ctr rm -f /usr/sbin/policy-rc.d
sockd_paths >"$tmp/paths.before"

# Install A.
if dpkg_in -i "/srv/sockd-debs/sockd_${va}_$arch.deb" "/srv/sockd-debs/sockd-dev_${va}_all.deb"; then
	ok "dpkg -i sockd_${va}_$arch.deb sockd-dev_${va}_all.deb"
else
	notok "dpkg -i sockd $va and sockd-dev $va"; rc=1; exit 1
fi
conffiles=$(ctr dpkg-query -W -f='${Conffiles}\n' sockd | grep -o '/[^ ]*' | sort | xargs)
check "conffiles: ${conffiles}" test "$conffiles" = "/etc/logrotate.d/sockd /etc/sockd.conf"
check "sockd.service is enabled ($(ctr systemctl is-enabled sockd.service))" \
	test "$(ctr systemctl is-enabled sockd.service)" = enabled
if wait_active sockd.service; then
	ok "the postinst started sockd.service: active (READY=1)"
else
	notok "the postinst started sockd.service: $(ctr systemctl is-active sockd.service)"; diag
fi
check "sockd.socket is shipped but disabled and not started ($(ctr systemctl is-enabled sockd.socket), $(ctr systemctl is-active sockd.socket))" \
	eval 'test "$(ctr systemctl is-enabled sockd.socket)" = disabled &&
		test "$(ctr systemctl is-active sockd.socket)" = inactive'
st=$(status_line)
check "systemctl status sockd shows the STATUS= line ($st)" grep -q '^"echo: 4 workers' <<<"$st"
check "echo round trip on the shipped config's addresses (127.0.0.1:7007, [::1]:7007)" echo_both
check "sockd -V names /etc/sockd.conf as its default" \
	eval 'ctr /usr/sbin/sockd -V | grep -qx "default config: /etc/sockd.conf"'
check "the access log directory the unit made exists (/var/log/sockd)" ctr test -d /var/log/sockd
check "/etc/logrotate.d/sockd, the unit and the examples are in place" \
	ctr test -f /etc/logrotate.d/sockd -a -f /lib/systemd/system/sockd.service \
	-a -f /usr/share/doc/sockd/examples/sockd.conf -a -f /usr/share/doc/sockd/examples/sockd-alerts.yml
check "the manuals (sockd(8), sockd.conf(5), sockd-handler(3)), handler.h and sockd.pc are in place" \
	ctr test -f /usr/share/man/man8/sockd.8.gz -a -f /usr/share/man/man5/sockd.conf.5.gz \
	-a -f /usr/share/man/man3/sockd-handler.3.gz -a -f /usr/include/sockd/handler.h \
	-a -f /usr/share/pkgconfig/sockd.pc
check "the sockd@ template units and DEPLOYMENT.md are in place" \
	ctr test -f /lib/systemd/system/sockd@.service -a -f /lib/systemd/system/sockd@.socket \
	-a -f /usr/share/doc/sockd/DEPLOYMENT.md.gz
# An instance from the packaged template: /etc/sockd/NAME.conf.
ctr mkdir -p /etc/sockd
printf 'services = ( { name = "pkg"; listen = "127.0.0.1:7011"; handler = "echo"; framing = "line"; workers = 1; } );\n' |
	ctr sh -c 'cat >/etc/sockd/pkg.conf'
check "systemctl start sockd@pkg: the packaged template runs /etc/sockd/pkg.conf" \
	eval 'ctr systemctl start sockd@pkg && wait_active sockd@pkg && echo_roundtrip 127.0.0.1 7011'
ctr systemctl stop sockd@pkg
ctr rm -rf /etc/sockd
# sockd-dev: the example module builds from what the package installed,
# and the packaged daemon accepts it (sockd -t loads it).
modconf='services = ( { name = "hello"; listen = "127.0.0.1:7010"; framing = "line";
  handler = "module"; module = { path = "/root/hello.so"; config = { greeting = "hi"; }; }; } );'
check "sockd-dev: the example module builds with pkg-config sockd and sockd -t loads it" \
	ctr sh -c 'cc -shared -fPIC $(pkg-config --cflags sockd) -o /root/hello.so \
		/usr/share/doc/sockd-dev/examples/hello.c &&
		printf "%s\n" "$1" >/root/mod.conf && sockd -t -c /root/mod.conf >/dev/null' _ "$modconf"

# The administrator changes /etc/sockd.conf; a reinstall of the same
# version keeps it, and the restarted daemon runs it.
ctr sed -i 's/^\( *workers = \)4;/\12;/' /etc/sockd.conf
ctr sh -c 'printf "# changed by the administrator\n" >>/etc/sockd.conf'
ctr cat /etc/sockd.conf >"$tmp/admin.conf"
check "the administrator's change is made (workers = 2)" grep -q '^ *workers = 2;' "$tmp/admin.conf"
pid0=$(ctr systemctl show -p MainPID --value sockd)
check "dpkg -i sockd_${va}_$arch.deb again (reinstall)" dpkg_in -i "/srv/sockd-debs/sockd_${va}_$arch.deb"
check "the changed /etc/sockd.conf survives the reinstall, with no .dpkg-* file" \
	eval 'ctr cat /etc/sockd.conf | cmp -s - "$tmp/admin.conf" && test -z "$(dpkg_files)"'
wait_active sockd.service
pid1=$(ctr systemctl show -p MainPID --value sockd)
st=$(status_line)
check "sockd was restarted (MainPID $pid0 -> $pid1) and runs the changed file ($st)" \
	eval 'test -n "$pid1" -a "$pid1" != 0 -a "$pid1" != "$pid0" && grep -q "^\"echo: 2 workers" <<<"$st"'

# The administrator turns socket activation on; the upgrade must restart
# the service and leave the socket unit holding its socket.
ctr systemctl stop sockd.service
if ctr systemctl enable --now --quiet sockd.socket && ctr systemctl start sockd.service &&
	wait_active sockd.service; then
	ok "systemctl enable --now sockd.socket, then start sockd (the administrator's choice)"
else
	notok "systemctl enable --now sockd.socket, then start sockd"; diag
fi
sock_since=$(ctr systemctl show -p ActiveEnterTimestampMonotonic --value sockd.socket)

# Upgrade to B, whose default sockd.conf changed as well: as apt's
# --force-confold would, dpkg keeps the administrator's file and puts B's
# next to it; without it dpkg would ask.
pid0=$(ctr systemctl show -p MainPID --value sockd)
check "upgrade: dpkg -i --force-confdef --force-confold sockd_${vb} sockd-dev_${vb}" \
	dpkg_in -i --force-confdef --force-confold "/srv/sockd-debs/sockd_${vb}_$arch.deb" \
	"/srv/sockd-debs/sockd-dev_${vb}_all.deb"
check "installed version is $vb ($(installed_version sockd), sockd-dev $(installed_version sockd-dev))" \
	eval 'test "$(installed_version sockd)" = "$vb" -a "$(installed_version sockd-dev)" = "$vb"'
check "the changed /etc/sockd.conf survives the upgrade" \
	eval 'ctr cat /etc/sockd.conf | cmp -s - "$tmp/admin.conf"'
check "the new default is beside it as /etc/sockd.conf.dpkg-dist" \
	eval 'ctr grep -qxF "$marker" /etc/sockd.conf.dpkg-dist'
wait_active sockd.service
pid1=$(ctr systemctl show -p MainPID --value sockd)
st=$(status_line)
check "sockd restarted after the upgrade (MainPID $pid0 -> $pid1), active, on the changed file ($st)" \
	eval 'test -n "$pid1" -a "$pid1" != 0 -a "$pid1" != "$pid0" &&
		test "$(ctr systemctl is-active sockd)" = active && grep -q "^\"echo: 2 workers" <<<"$st"'
check "sockd.socket was left alone by the upgrade: still enabled, active since before it" \
	eval 'test "$(ctr systemctl is-enabled sockd.socket)" = enabled &&
		test "$(ctr systemctl show -p ActiveEnterTimestampMonotonic --value sockd.socket)" = "$sock_since" &&
		test "$(ctr systemctl is-active sockd.socket)" = active'
check "the restarted sockd took 127.0.0.1:7007 from sockd.socket (journal)" \
	eval 'ctr journalctl --no-pager -o cat _SYSTEMD_UNIT=sockd.service \
		_SYSTEMD_INVOCATION_ID="$(ctr systemctl show -p InvocationID --value sockd)" |
		grep -q "listening on 127\.0\.0\.1:7007 (from systemd)"'
check "echo round trip after the upgrade (127.0.0.1:7007, [::1]:7007)" echo_both

# Remove: the daemon and the socket stop, the configuration stays.
check "dpkg -r sockd-dev sockd" dpkg_in -r sockd-dev sockd
check "sockd.service and sockd.socket are stopped ($(ctr systemctl is-active sockd.service), $(ctr systemctl is-active sockd.socket))" \
	eval 'test "$(ctr systemctl is-active sockd.service)" != active &&
		test "$(ctr systemctl is-active sockd.socket)" != active'
check "no sockd process is left" eval '! ctr pgrep -x sockd >/dev/null'
check "/usr/sbin/sockd is gone, /etc/sockd.conf stays (remove, not purge)" \
	ctr test ! -e /usr/sbin/sockd -a -f /etc/sockd.conf

# Purge: everything the packages and their service made is gone.
check "dpkg --purge sockd sockd-dev" dpkg_in --purge sockd sockd-dev
left=$(ctr dpkg-query -W -f='${Package} ${db:Status-Status}\n' sockd sockd-dev 2>/dev/null |
	grep -v ' not-installed$')
check "dpkg lists neither package as installed or config-files${left:+ ($left)}" test -z "$left"
sockd_paths >"$tmp/paths.after"
if cmp -s "$tmp/paths.before" "$tmp/paths.after"; then
	ok "after the purge no path named *sockd* is left that was not there before (/etc/sockd.conf*, logrotate.d, units, enablement links, /var/log/sockd, /run/sockd)"
else
	notok "after the purge no new path named *sockd* is left"
	diff "$tmp/paths.before" "$tmp/paths.after" | indent
	comm -13 "$tmp/paths.before" "$tmp/paths.after" | while read -r p; do
		ctr ls -ld --full-time "$p"; ctr sh -c "ls -la '$p' | head -5"; done 2>&1 | indent
	ctr date --rfc-3339=ns | indent
	ctr journalctl --no-pager -n 12 | indent
fi
check "... not even as a dangling link: /run/sockd, /var/log/sockd, the enablement links" \
	ctr sh -c 'for p in /run/sockd /run/private/sockd /var/log/sockd /var/log/private/sockd \
		/etc/systemd/system/multi-user.target.wants/sockd.service \
		/etc/systemd/system/sockets.target.wants/sockd.socket; do
		if [ -e "$p" ] || [ -L "$p" ]; then echo "# left: $p"; exit 1; fi; done'
check "systemd no longer knows sockd.service ($(ctr systemctl show -p LoadState --value sockd.service))" \
	test "$(ctr systemctl show -p LoadState --value sockd.service)" = not-found

rc=$failed
exit "$rc"
