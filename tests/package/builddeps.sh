#!/bin/bash
# builddeps.sh - are debian/control's Build-Depends complete? Builds the
# package on a system that has nothing but the Essential packages,
# build-essential, and what Build-Depends names for the nocheck profile,
# with everything those pull in: less than a buildd chroot has
# (debootstrap --variant=minbase keeps Priority: required packages too).
#
# How: a throw-away systemd-nspawn container (no systemd booted in it: the
# payload is this script) whose root is a tmpfs, with the host's /etc, /usr
# and /var under writable layers in a temporary directory. In there every
# installed package is marked automatically installed except the ones above,
# and "apt-get autoremove --purge" takes the rest away (Recommends and
# Suggests do not keep a package: a build does not get them either). No
# network is needed for removals; the host's packages are never touched.
# Then dpkg-checkbuilddeps and dpkg-buildpackage -b run there.
#
# Run as root: bash tests/package/builddeps.sh. Exit 0 pass, 1 fail, 77
# skip (no nspawn, not root), 99 rig error. Takes a few minutes (the
# removal of every package not needed is most of it), so it is not a CI
# stage; run it after changing Build-Depends or configure's dependencies.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd) || exit 99
SOCKD_SRCDIR=${SOCKD_SRCDIR:-$(cd "$here/../.." && pwd)}

if [ "${1:-}" = --inside ]; then
	# ---- in the container ----------------------------------------------
	set -e
	export DEBIAN_FRONTEND=noninteractive
	cd /build/sockd
	# Build-Depends for this architecture and the nocheck profile, one
	# name a line (an alternative: its first), virtual names mapped to the
	# installed package that provides them (debhelper-compat: debhelper).
	perl -MDpkg::Control::Info -MDpkg::Deps -MDpkg::Arch=get_host_arch -e '
		my $src = Dpkg::Control::Info->new("debian/control")->get_source;
		my $d = deps_parse($src->{"Build-Depends"}, build_dep => 1, reduce_arch => 1,
			host_arch => get_host_arch(), reduce_profiles => 1, build_profiles => ["nocheck"]);
		for my $dep ($d->get_deps) {
			my $s = $dep->isa("Dpkg::Deps::OR") ? ($dep->get_deps)[0] : $dep;
			print $s->{package}, "\n";
		}' >/tmp/bdeps
	keep=" build-essential"
	while read -r p; do
		if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$'; then
			keep="$keep $p"
		else
			prov=$(dpkg-query -W -f='${Package} ${Status} ${Provides}\n' |
				grep ' installed .*\b'"$p"'\b' | cut -d' ' -f1 | head -1)
			[ -n "$prov" ] || { echo "not ok - build dependency $p is not installed on the host"; exit 1; }
			keep="$keep $prov"
		fi
	done </tmp/bdeps
	base=$(dpkg-query -W -f='${Package} ${Essential} ${Status}\n' |
		grep -E '^[^ ]+ yes .* installed$' | cut -d' ' -f1 | xargs)
	before=$(dpkg-query -W -f='${Status}\n' | grep -c ' installed$')
	echo "# build dependencies (nocheck):$keep"
	echo "# kept as the base: the $(echo $base | wc -w) Essential packages"
	dpkg-query -W -f='${Package}\n' | xargs apt-mark auto >/dev/null
	# shellcheck disable=SC2086
	apt-mark manual $keep $base >/dev/null
	apt-get -y -q autoremove --purge \
		-o APT::AutoRemove::RecommendsImportant=false \
		-o APT::AutoRemove::SuggestsImportant=false >/tmp/autoremove.log 2>&1 ||
		{ tail -20 /tmp/autoremove.log; echo "not ok - apt-get autoremove"; exit 1; }
	after=$(dpkg-query -W -f='${Status}\n' | grep -c ' installed$')
	echo "ok - apt-get autoremove --purge: $before packages before, $after left"
	gone=""
	for p in clang valgrind mandoc curl jq systemd-container libssl-dev; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || gone="$gone $p"
	done
	echo "# no longer installed, among others:$gone"
	dpkg-checkbuilddeps -P nocheck && echo "ok - dpkg-checkbuilddeps -P nocheck" ||
		{ echo "not ok - dpkg-checkbuilddeps -P nocheck"; exit 1; }
	if DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b -Pnocheck \
		>/tmp/build.log 2>&1 && ls ../sockd_*.deb ../sockd-dev_*.deb >/dev/null; then
		echo "ok - dpkg-buildpackage -us -uc -b with only those installed: $(cd .. && echo *.deb)"
	else
		tail -30 /tmp/build.log | sed 's/^/#   /'
		echo "not ok - dpkg-buildpackage -us -uc -b with only those installed"; exit 1
	fi
	exit 0
fi

# ---- on the host ----------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "SKIP: not root"; exit 77; }
for t in systemd-nspawn dpkg-buildpackage git; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not found"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-builddeps.XXXXXX") || exit 99
machine=sockd-builddeps-$$
trap 'rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT
mkdir -p "$tmp/src/sockd" "$tmp/ov/etc" "$tmp/ov/usr" "$tmp/ov/var" || exit 99
if [ -d "$SOCKD_SRCDIR/.git" ] || [ -f "$SOCKD_SRCDIR/.git" ]; then
	(cd "$SOCKD_SRCDIR" && git ls-files -z -c -o --exclude-standard | tar --null -T - -cf -) |
		tar -C "$tmp/src/sockd" -xf - || exit 99
else
	tar -C "$SOCKD_SRCDIR" -cf - . | tar -C "$tmp/src/sockd" -xf - || exit 99
fi
cp "$0" "$tmp/src/builddeps.sh" || exit 99
SECONDS=0
timeout 1800 systemd-nspawn --quiet -D / --volatile=yes --register=no --keep-unit \
	--private-network --machine="$machine" \
	--overlay="/etc:$tmp/ov/etc:/etc" --overlay="/usr:$tmp/ov/usr:/usr" \
	--overlay="/var:$tmp/ov/var:/var" --bind="$tmp/src:/build" \
	/bin/bash /build/builddeps.sh --inside </dev/null
st=$?
echo "# finished in $SECONDS s"
exit "$st"
