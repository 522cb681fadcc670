/*
 * test_tree.c - no process sockd started outlives a SIGKILLed master: under
 * every model, an exec program (a shell with a child of its own) holding a
 * connection, its supervisor and the workers are all gone within a few
 * seconds of the master's SIGKILL, without systemd to clean up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define MAX_TREE 64
#define GONE_MS 3000		/* generous: the promise is one second */

/* Add the children of every thread of PID (a thread may have forked them). */
static void
add_children(pid_t pid, pid_t *tree, size_t *n)
{
	char path[320], buf[4096];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/children", (long)pid, de->d_name);
		if ((fp = fopen(path, "re")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), fp) != NULL)
			for (char *p = buf, *end; *n < MAX_TREE; p = end) {
				long v = strtol(p, &end, 10);

				if (v <= 0)
					break;
				tree[(*n)++] = (pid_t)v;
			}
		fclose(fp);
	}
	closedir(dir);
}

/* Every descendant of ROOT, breadth first. */
static size_t
descendants(pid_t root, pid_t *tree)
{
	size_t n = 0;

	add_children(root, tree, &n);
	for (size_t i = 0; i < n; i++)
		add_children(tree[i], tree, &n);
	return n;
}

static bool
is_sleep(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return false;
	if (fgets(comm, sizeof(comm), fp) == NULL)
		comm[0] = '\0';
	fclose(fp);
	return strcmp(comm, "sleep\n") == 0;
}

/* Wait until the program's shell has started both its sleeps; the tree. */
static size_t
wait_tree(pid_t root, pid_t *tree)
{
	for (long long end = now_ms() + T_MS;; usleep(20000)) {
		size_t n = descendants(root, tree), sleeps = 0;

		for (size_t i = 0; i < n; i++)
			sleeps += is_sleep(tree[i]);
		if (sleeps == 2)
			return n;
		assert_true(now_ms() < end);
	}
}

static void
tree_dies_with_master(const char *model)
{
	pid_t tree[MAX_TREE];
	struct daemon *d;
	char buf[3];
	int port, fd;
	size_t n, alive = 0;

	d = start_service(config("services = ( { name = \"exec\"; handler = \"exec\";"
	    " listen = \"127.0.0.1:0\"; workers = 1; %s;"
	    " exec = { argv = [ \"/bin/sh\", \"-c\","
	    " \"echo up; /bin/sleep 60 & /bin/sleep 61; echo never\" ]; }; } );\n", model),
	    "exec", &port);
	fd = tcp_connect("127.0.0.1", port);
	assert_true(fd >= 0);
	assert_int_equal(recv_exact(fd, buf, 3, T_MS), 3);
	assert_memory_equal(buf, "up\n", 3);
	n = wait_tree(d->pid, tree);
	assert_int_equal(daemon_stop(d, SIGKILL, T_MS), 128 + SIGKILL);
	for (long long end = now_ms() + GONE_MS; now_ms() < end; usleep(20000)) {
		alive = 0;
		for (size_t i = 0; i < n; i++)
			alive += !pid_gone(tree[i]);
		if (alive == 0)
			break;
	}
	for (size_t i = 0; i < n; i++)
		if (!pid_gone(tree[i])) {
			print_error("%s: pid %ld outlived the master\n", model, (long)tree[i]);
			kill(tree[i], SIGKILL);	/* leave nothing behind either way */
		}
	assert_int_equal(alive, 0);
	assert_true(recv_eof(fd, T_MS));	/* and the client is told */
	close(fd);
	daemon_free(d);
}

static void
test_prefork(void **state)
{
	(void)state;
	tree_dies_with_master("model = \"prefork\"");
}

static void
test_prefork_threads(void **state)
{
	(void)state;
	tree_dies_with_master("model = \"prefork\"; threads = 2");
}

static void
test_event(void **state)
{
	(void)state;
	tree_dies_with_master("model = \"event\"");
}

static void
test_fork(void **state)
{
	(void)state;
	tree_dies_with_master("model = \"fork\"");
}

static void
test_thread(void **state)
{
	(void)state;
	tree_dies_with_master("model = \"thread\"");
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_prefork),
		T(test_prefork_threads),
		T(test_event),
		T(test_fork),
		T(test_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
