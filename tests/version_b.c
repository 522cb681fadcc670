/*
 * version_b.c - a second version string, for the upgrade tests: linked
 * before the daemon's objects, it replaces version.c's (weak) one, so
 * tests/sockd-b is the same daemon under another version.
 */
const char sockd_version[] = PACKAGE_VERSION "+b";
