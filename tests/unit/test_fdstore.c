/*
 * test_fdstore.c - the fd store, as sockd speaks to it: the names sockd
 * stores its sockets under and tells from a socket unit's, the FDSTORE=
 * and FDSTOREREMOVE= messages word for word, the plan that turns one
 * store content into another (a name that loses a socket is removed and
 * its other sockets stored again; removals first), and notify_fdstore()
 * sending nothing without NOTIFY_SOCKET but the message and the fd with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdstore.h"
#include "notify.h"

static void
test_names(void **state)
{
	char buf[FDSTORE_NAME_MAX + 1], svc[300];

	(void)state;
	assert_int_equal(fdstore_name(buf, sizeof(buf), "echo"), 0);
	assert_string_equal(buf, "store/echo");
	assert_int_equal(fdstore_name(buf, 8, "echo"), -1);	/* does not fit */
	memset(svc, 'a', sizeof(svc) - 1);
	svc[sizeof(svc) - 1] = '\0';
	assert_int_equal(fdstore_name(buf, sizeof(buf), svc), -1);	/* over 255 */
	assert_string_equal(fdstore_service("store/echo"), "echo");
	assert_string_equal(fdstore_service("store/web.2"), "web.2");
	assert_null(fdstore_service("echo"));		/* a socket unit's name */
	assert_null(fdstore_service("store/"));
	assert_null(fdstore_service("stor"));
	assert_null(fdstore_service(NULL));
}

static void
test_name_valid(void **state)
{
	char name[FDSTORE_NAME_MAX + 2];

	(void)state;
	assert_true(fdstore_name_valid("store/echo"));
	assert_true(fdstore_name_valid("a"));
	assert_false(fdstore_name_valid(""));
	assert_false(fdstore_name_valid("a:b"));	/* LISTEN_FDNAMES' separator */
	assert_false(fdstore_name_valid("a b"));
	assert_false(fdstore_name_valid("a\nFDSTORE=1"));	/* no second line */
	assert_false(fdstore_name_valid("caf\xc3\xa9"));
	memset(name, 'x', FDSTORE_NAME_MAX);
	name[FDSTORE_NAME_MAX] = '\0';
	assert_true(fdstore_name_valid(name));
	name[FDSTORE_NAME_MAX] = 'x';
	name[FDSTORE_NAME_MAX + 1] = '\0';
	assert_false(fdstore_name_valid(name));
}

static void
test_message(void **state)
{
	char buf[FDSTORE_MSG_MAX], name[FDSTORE_NAME_MAX + 1];
	int n;

	(void)state;
	n = fdstore_message(buf, sizeof(buf), FDSTORE_ADD, "store/echo");
	assert_string_equal(buf, "FDSTORE=1\nFDNAME=store/echo");
	assert_int_equal(n, (int)strlen(buf));
	n = fdstore_message(buf, sizeof(buf), FDSTORE_REMOVE, "store/echo");
	assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=store/echo");
	assert_int_equal(n, (int)strlen(buf));
	assert_int_equal(fdstore_message(buf, sizeof(buf), FDSTORE_ADD, "a:b"), -1);
	assert_int_equal(fdstore_message(buf, sizeof(buf), FDSTORE_ADD, ""), -1);
	assert_int_equal(fdstore_message(buf, 10, FDSTORE_ADD, "store/echo"), -1);
	/* The longest name fits FDSTORE_MSG_MAX, for both. */
	memset(name, 'x', FDSTORE_NAME_MAX);
	name[FDSTORE_NAME_MAX] = '\0';
	assert_true(fdstore_message(buf, sizeof(buf), FDSTORE_REMOVE, name) > 0);
	assert_true(fdstore_message(buf, sizeof(buf), FDSTORE_ADD, name) > 0);
}

/* ---- plans ---------------------------------------------------------- */

static struct fdstore_action act[16];
static char plan_text[512];

/* The plan as text: "-name" per REMOVE, "+fd:name" per ADD. */
static const char *
plan(const struct fdstore_entry *cur, size_t n_cur, const struct fdstore_entry *want,
    size_t n_want)
{
	size_t n = fdstore_plan(cur, n_cur, want, n_want, act), len = 0;

	assert_true(n <= n_cur + n_want);
	plan_text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (act[i].op == FDSTORE_REMOVE)
			len += (size_t)snprintf(plan_text + len, sizeof(plan_text) - len, "%s-%s",
			    i ? " " : "", act[i].e->name);
		else
			len += (size_t)snprintf(plan_text + len, sizeof(plan_text) - len, "%s+%d:%s",
			    i ? " " : "", act[i].e->fd, act[i].e->name);
	}
	return plan_text;
}

#define E(fd, name) { fd, name, "" }

static void
test_plan_start(void **state)
{
	struct fdstore_entry want[] = { E(3, "store/echo"), E(4, "store/echo"), E(5, "store/web") };

	(void)state;
	assert_string_equal(plan(NULL, 0, want, 3), "+3:store/echo +4:store/echo +5:store/web");
	assert_string_equal(plan(NULL, 0, NULL, 0), "");
}

static void
test_plan_unchanged(void **state)
{
	struct fdstore_entry cur[] = { E(3, "store/echo"), E(4, "store/echo") };
	struct fdstore_entry want[] = { E(4, "store/echo"), E(3, "store/echo") };

	(void)state;
	assert_string_equal(plan(cur, 2, want, 2), "");	/* the order does not matter */
}

/* A reload closes one of echo's two: remove the name, store the other again. */
static void
test_plan_loses_one(void **state)
{
	struct fdstore_entry cur[] = { E(3, "store/echo"), E(4, "store/echo"), E(5, "store/web") };
	struct fdstore_entry want[] = { E(3, "store/echo"), E(5, "store/web") };

	(void)state;
	assert_string_equal(plan(cur, 3, want, 2), "-store/echo +3:store/echo");
}

static void
test_plan_gains_one(void **state)
{
	struct fdstore_entry cur[] = { E(3, "store/echo") };
	struct fdstore_entry want[] = { E(3, "store/echo"), E(7, "store/echo") };

	(void)state;
	assert_string_equal(plan(cur, 1, want, 2), "+7:store/echo");
}

/* Nothing wanted any more (the store gave back what the configuration
 * no longer has): every name removed, once. */
static void
test_plan_gone(void **state)
{
	struct fdstore_entry cur[] = { E(3, "store/echo"), E(4, "store/web"), E(5, "store/web") };

	(void)state;
	assert_string_equal(plan(cur, 3, NULL, 0), "-store/echo -store/web");
}

/* An address moved from one service to another: its old name goes first,
 * or systemd would ignore the fd it already holds. */
static void
test_plan_moved(void **state)
{
	struct fdstore_entry cur[] = { E(3, "store/a") };
	struct fdstore_entry want[] = { E(3, "store/b") };

	(void)state;
	assert_string_equal(plan(cur, 1, want, 1), "-store/a +3:store/b");
}

/* What a failed send left (fd -1): its name is removed and stored anew. */
static void
test_plan_retry(void **state)
{
	struct fdstore_entry cur[] = { E(-1, "store/echo"), E(4, "store/echo") };
	struct fdstore_entry want[] = { E(3, "store/echo"), E(4, "store/echo") };
	struct fdstore_entry left[] = { E(-1, "store/old"), E(3, "store/echo") };

	(void)state;
	assert_string_equal(plan(cur, 2, want, 2), "-store/echo +3:store/echo +4:store/echo");
	assert_string_equal(plan(left, 2, want + 1, 1), "-store/old -store/echo +4:store/echo");
}

/* ---- notify_fdstore, in a child each: notify.c reads NOTIFY_SOCKET once */

static char dir[64];

static void
setup_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_fdstore.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static int
child_status(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Without NOTIFY_SOCKET (unset, or empty) nothing is sent, and it is no error. */
static void
test_notify_absent(void **state)
{
	const char *envs[] = { NULL, "" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			if (envs[i] == NULL)
				unsetenv("NOTIFY_SOCKET");
			else
				setenv("NOTIFY_SOCKET", envs[i], 1);
			_exit(notify_fdstore(FDSTORE_ADD, "store/echo", 0) == 0 &&
			    notify_fdstore(FDSTORE_REMOVE, "store/echo", -1) == 0 ? 0 : 1);
		}
		assert_int_equal(child_status(pid), 0);
	}
}

/* With it: the datagram says FDSTORE=1 and FDNAME=, and carries the fd
 * (the very socket: same inode); FDSTOREREMOVE= carries none. */
static void
test_notify_sends(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	struct stat a, b;
	int rx, sent, got = -1;
	ssize_t n;
	pid_t pid;

	(void)state;
	setup_dir();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rx >= 0);
	assert_int_equal(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0);
	sent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sent >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", sa.sun_path, 1);
		_exit(notify_fdstore(FDSTORE_ADD, "store/echo", sent) == 1 &&
		    notify_fdstore(FDSTORE_REMOVE, "store/web", -1) == 1 &&
		    notify_fdstore(FDSTORE_ADD, "bad:name", sent) == -1 ? 0 : 1);
	}
	assert_int_equal(child_status(pid), 0);

	n = recvmsg(rx, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "FDSTORE=1\nFDNAME=store/echo");
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			assert_int_equal(c->cmsg_len, CMSG_LEN(sizeof(int)));
			memcpy(&got, CMSG_DATA(c), sizeof(int));
		}
	assert_true(got >= 0);
	assert_int_equal(fstat(got, &a), 0);
	assert_int_equal(fstat(sent, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(got);

	mh.msg_controllen = sizeof(cbuf);
	n = recvmsg(rx, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=store/web");
	assert_int_equal(mh.msg_controllen, 0);

	/* Nothing for the invalid name. */
	assert_int_equal(recv(rx, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(rx);
	close(sent);
	unlink(sa.sun_path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_plan_start),
		cmocka_unit_test(test_plan_unchanged),
		cmocka_unit_test(test_plan_loses_one),
		cmocka_unit_test(test_plan_gains_one),
		cmocka_unit_test(test_plan_gone),
		cmocka_unit_test(test_plan_moved),
		cmocka_unit_test(test_plan_retry),
		cmocka_unit_test(test_notify_absent),
		cmocka_unit_test(test_notify_sends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
