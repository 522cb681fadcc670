/*
 * test_http.c - the http handler through the real binary, over raw
 * sockets: the fixed response byte for byte under every model; keep-alive,
 * HTTP/1.0, HEAD, pipelining split at every byte, request bodies dropped;
 * each hostile request answered with its exact status; static files
 * (index, media types, 404, 301, Last-Modified, 304), a 5 MB sendfile,
 * every way out of the root refused; the access log's format, and its
 * byte count when a client leaves in the middle of a file; a keep-alive
 * request after a file that had to wait in the event model; STATUS's
 * req/s counting requests, not reads; and, when wrk is installed, a short
 * load run without errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#define BIG (5 * 1024 * 1024)

static const char *const models[] = {
	"model = \"prefork\"; workers = 2;",
	"model = \"event\"; workers = 1;",
	"model = \"uring\"; workers = 1;",
	"model = \"prefork\"; workers = 1; threads = 2;",
	"model = \"fork\"; workers = 1;",
	"model = \"thread\"; workers = 1;",
};
#define ALL_MODELS 6
#define MAIN_MODELS 3		/* prefork, event and uring */

/* A fixed-response service under MODEL with small limits. */
static struct daemon *
start_fixed(const char *model, int *port_r)
{
	return start_service(config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
	    " handler = \"http\"; %s limits = { max_request_line = 256; max_header_bytes = 1024;"
	    " max_message = 1000; }; http = { body = \"hello\\n\"; }; } );", model), "web", port_r);
}

static struct daemon *
start_files(const char *model, const char *root, const char *extra, int *port_r)
{
	return start_service(config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
	    " handler = \"http\"; %s http = { root = \"%s\"; %s }; } );", model, root, extra),
	    "web", port_r);
}

/* A connection's responses, read as they come (pipelined ones too). */
struct reader {
	int fd;
	char *buf;
	size_t len, cap;
};

struct resp {
	int status;
	char head[4096];
	char *body;			/* malloc'd */
	size_t body_len;
};

static void
reader_open(struct reader *r, int port)
{
	*r = (struct reader){ .fd = tcp_connect("127.0.0.1", port), .cap = 65536 };
	assert_true(r->fd >= 0);
	r->buf = malloc(r->cap);
	assert_non_null(r->buf);
}

static void
reader_close(struct reader *r)
{
	close(r->fd);
	free(r->buf);
}

/* Until LEN bytes are buffered: false at EOF or the deadline. */
static bool
reader_want(struct reader *r, size_t len)
{
	long long deadline = now_ms() + T_MS;

	while (r->len < len) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		ssize_t n;

		if (len > r->cap) {
			r->cap = len;
			r->buf = realloc(r->buf, r->cap);
			assert_non_null(r->buf);
		}
		if (now_ms() >= deadline || poll(&p, 1, (int)(deadline - now_ms())) <= 0)
			return false;
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
		if (n <= 0 && !(n == -1 && errno == EINTR))
			return false;
		r->len += n > 0 ? (size_t)n : 0;
	}
	return true;
}

static const char *
header(const struct resp *rs, const char *name)
{
	static char value[512];
	char needle[128];
	const char *p, *e;

	snprintf(needle, sizeof(needle), "\r\n%s: ", name);
	if ((p = strcasestr(rs->head, needle)) == NULL)
		return NULL;
	p += strlen(needle);
	e = strstr(p, "\r\n");
	snprintf(value, sizeof(value), "%.*s", (int)(e - p), p);
	return value;
}

/* The next response; no body for HEAD or 304. */
static bool
reader_next(struct reader *r, bool head, struct resp *rs)
{
	char *end = NULL;
	const char *cl;
	size_t hlen;

	for (size_t want = 1; (end = memmem(r->buf, r->len, "\r\n\r\n", 4)) == NULL; want = r->len + 1)
		if (!reader_want(r, want))
			return false;
	hlen = (size_t)(end + 4 - r->buf);
	assert_true(hlen < sizeof(rs->head));
	memcpy(rs->head, r->buf, hlen);
	rs->head[hlen - 2] = '\0';	/* keep the last header's CRLF for header() */
	rs->status = atoi(rs->head + 9);
	cl = header(rs, "Content-Length");
	assert_non_null(cl);
	rs->body_len = head || rs->status == 304 ? 0 : strtoul(cl, NULL, 10);
	if (!reader_want(r, hlen + rs->body_len))
		return false;
	rs->body = malloc(rs->body_len + 1);
	assert_non_null(rs->body);
	memcpy(rs->body, r->buf + hlen, rs->body_len);
	rs->body[rs->body_len] = '\0';
	memmove(r->buf, r->buf + hlen + rs->body_len, r->len - hlen - rs->body_len);
	r->len -= hlen + rs->body_len;
	return true;
}

/* Send REQ on R and read the response. */
static void
ask(struct reader *r, const char *req, bool head, struct resp *rs)
{
	assert_int_equal(send_all(r->fd, req, strlen(req)), 0);
	assert_true(reader_next(r, head, rs));
}

/* One request on a fresh connection: its status (the response in *RS). */
static int
fetch(int port, const char *req, struct resp *rs)
{
	struct reader r;

	reader_open(&r, port);
	ask(&r, req, strncmp(req, "HEAD ", 5) == 0, rs);
	reader_close(&r);
	return rs->status;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* The exact bytes of the fixed response, a HEAD and a third keep-alive
 * request on one connection, under all five models. */
static void
test_fixed_response(void **state)
{
	static const char want[] = "HTTP/1.1 200 OK\r\nServer: sockd\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\nDate: ";
	(void)state;
	for (int m = 0; m < ALL_MODELS; m++) {
		int port;
		struct daemon *d = start_fixed(models[m], &port);
		struct reader r;
		char date[64];

		reader_open(&r, port);
		assert_int_equal(send_all(r.fd, GET("/"), strlen(GET("/"))), 0);
		assert_true(reader_want(&r, sizeof(want) - 1 + 29 + 4 + 6));
		assert_memory_equal(r.buf, want, sizeof(want) - 1);
		memcpy(date, r.buf + sizeof(want) - 1, 29);
		date[29] = '\0';
		assert_non_null(strstr(date, " GMT"));
		assert_memory_equal(r.buf + sizeof(want) - 1 + 29, "\r\n\r\nhello\n", 10);
		assert_int_equal(r.len, sizeof(want) - 1 + 29 + 10);
		r.len = 0;
		for (int i = 0; i < 2; i++) {
			struct resp rs;

			ask(&r, i == 0 ? "HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" : GET("/y?q=1"), i == 0, &rs);
			assert_int_equal(rs.status, 200);
			assert_string_equal(header(&rs, "Content-Length"), "6");
			assert_null(header(&rs, "Connection"));
			assert_int_equal(rs.body_len, i == 0 ? 0 : 6);
			free(rs.body);
		}
		assert_false(recv_eof(r.fd, 100));	/* HEAD sent no body: nothing more */
		reader_close(&r);
		stop(d);
	}
}

/* HTTP/1.0 closes unless it asks for keep-alive; "Connection: close" too. */
static void
test_http10_and_close(void **state)
{
	(void)state;
	for (int m = 0; m < MAIN_MODELS; m++) {
		int port;
		struct daemon *d = start_fixed(models[m], &port);
		struct reader r;
		struct resp rs;

		reader_open(&r, port);
		ask(&r, "GET / HTTP/1.0\r\n\r\n", false, &rs);
		assert_string_equal(header(&rs, "Connection"), "close");
		assert_true(recv_eof(r.fd, T_MS));
		free(rs.body);
		reader_close(&r);

		reader_open(&r, port);
		for (int i = 0; i < 2; i++) {
			ask(&r, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, &rs);
			assert_int_equal(rs.status, 200);
			assert_string_equal(header(&rs, "Connection"), "keep-alive");
			free(rs.body);
		}
		ask(&r, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", false, &rs);
		assert_string_equal(header(&rs, "Connection"), "close");
		assert_true(recv_eof(r.fd, T_MS));
		free(rs.body);
		reader_close(&r);
		stop(d);
	}
}

/* Some directory of files to serve; paths in *DIR_R/www. */
static char *
make_root(char **dir_r)
{
	char *dir = harness_tmpdir(), *root, *big;
	FILE *fp;

	assert_int_equal(chmod(dir, 0755), 0);
	assert_true(asprintf(&root, "%s/www", dir) > 0);
	assert_int_equal(mkdir(root, 0755), 0);
	free(harness_write(dir, "secret.txt", "SECRET\n"));
	free(harness_write(root, "index.html", "<p>index</p>\n"));
	free(harness_write(root, "a.txt", "alpha\n"));
	free(harness_write(root, "b.css", "b{}\n"));
	free(harness_write(root, "c.json", "{}\n"));
	free(harness_write(root, "d.PNG", "png"));
	free(harness_write(root, "e.bin", "bin"));
	free(harness_write(root, "f.woff2", "w"));
	assert_true(asprintf(&big, "%s/sub", root) > 0);
	assert_int_equal(mkdir(big, 0755), 0);
	free(big);
	assert_true(asprintf(&big, "%s/empty", root) > 0);
	assert_int_equal(mkdir(big, 0755), 0);
	free(big);
	free(harness_write(root, "sub/index.html", "sub index\n"));
	assert_true(asprintf(&big, "%s/big.bin", root) > 0);
	assert_non_null(fp = fopen(big, "we"));
	for (uint32_t i = 0; i < BIG / 4; i++)
		assert_int_equal(fwrite(&i, 4, 1, fp), 1);
	assert_int_equal(fclose(fp), 0);
	free(big);
	assert_true(asprintf(&big, "%s/out", root) > 0);
	assert_int_equal(symlink(dir, big), 0);	/* to the secret, outside the root */
	free(big);
	assert_true(asprintf(&big, "%s/etc", root) > 0);
	assert_int_equal(symlink("/etc", big), 0);
	free(big);
	*dir_r = dir;
	return root;
}

/* A 2-request stream, one byte per send: both answered, in order. */
static void
test_pipelining_split(void **state)
{
	static const char stream[] = GET("/a.txt") "GET /b.css HTTP/1.1\r\nHost: t\r\n\r\n";
	char *dir, *root = make_root(&dir);
	int one = 1;

	(void)state;
	for (int m = 0; m < MAIN_MODELS; m++) {
		int port;
		struct daemon *d = start_files(models[m], root, "", &port);
		struct reader r;
		struct resp a, b;

		reader_open(&r, port);
		assert_int_equal(setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
		for (size_t i = 0; i < sizeof(stream) - 1; i++) {
			assert_int_equal(send_all(r.fd, stream + i, 1), 0);
			if (i % 7 == 0)
				usleep(1000);	/* let some bytes arrive alone */
		}
		assert_true(reader_next(&r, false, &a));
		assert_true(reader_next(&r, false, &b));
		assert_string_equal(a.body, "alpha\n");
		assert_string_equal(b.body, "b{}\n");
		free(a.body);
		free(b.body);
		/* And the same stream at once: both from one read. */
		assert_int_equal(send_all(r.fd, stream, sizeof(stream) - 1), 0);
		assert_true(reader_next(&r, false, &a));
		assert_true(reader_next(&r, false, &b));
		assert_string_equal(a.body, "alpha\n");
		assert_string_equal(b.body, "b{}\n");
		free(a.body);
		free(b.body);
		reader_close(&r);
		stop(d);
	}
	harness_rmdir(dir);
	free(root);
}

/* A body with Content-Length is read and dropped, across reads. */
static void
test_body_discarded(void **state)
{
	static const char first[] = "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234";
	static const char rest[] = "56789GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	(void)state;
	for (int m = 0; m < MAIN_MODELS; m++) {
		int port;
		struct daemon *d = start_fixed(models[m], &port);
		struct reader r;
		struct resp a, b;

		reader_open(&r, port);
		assert_int_equal(send_all(r.fd, first, strlen(first)), 0);
		assert_true(reader_next(&r, false, &a));
		usleep(20000);
		assert_int_equal(send_all(r.fd, rest, strlen(rest)), 0);
		assert_true(reader_next(&r, false, &b));
		assert_int_equal(a.status, 200);
		assert_int_equal(b.status, 200);
		assert_false(recv_eof(r.fd, 100));
		free(a.body);
		free(b.body);
		reader_close(&r);
		stop(d);
	}
}

struct hostile {
	const char *req;
	int status;
};

static char long_line[400], long_head[1400];

static const struct hostile hostile[] = {
	{ "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\nHost: t\n\n", 400 },
	{ "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411 },
	{ "GET / HTTP/1.1\r\n\r\n", 400 },
	{ long_line, 414 },
	{ long_head, 431 },
	{ "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n", 413 },
	{ "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505 },
	{ "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405 },
	{ "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501 },
	{ "GET /dir#frag HTTP/1.1\r\nHost: t\r\n\r\n", 400 },	/* RFC 9112 3.2 */
};

/* Each hostile request gets its exact status, a text body, and a close. */
static void
test_hostile_requests(void **state)
{
	(void)state;
	snprintf(long_line, sizeof(long_line), "GET /%0300d HTTP/1.1\r\nHost: t\r\n\r\n", 0);
	snprintf(long_head, sizeof(long_head), "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %01100d\r\n\r\n", 0);
	for (int m = 0; m < MAIN_MODELS; m++) {
		int port;
		struct daemon *d = start_fixed(models[m], &port);

		for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
			struct reader r;
			struct resp rs;
			char body[64];

			reader_open(&r, port);
			ask(&r, hostile[i].req, false, &rs);
			if (rs.status != hostile[i].status)
				fail_msg("request %zu: got %d, want %d", i, rs.status, hostile[i].status);
			snprintf(body, sizeof(body), "%d ", rs.status);
			assert_memory_equal(rs.body, body, strlen(body));
			assert_string_equal(header(&rs, "Connection"), "close");
			assert_non_null(header(&rs, "Date"));
			if (rs.status == 405)
				assert_string_equal(header(&rs, "Allow"), "GET, HEAD");
			assert_true(recv_eof(r.fd, T_MS));
			free(rs.body);
			reader_close(&r);
		}
		stop(d);
	}
}

static void
expect_file(int port, const char *path, const char *type, const char *body)
{
	char req[256];
	struct resp rs;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	assert_int_equal(fetch(port, req, &rs), 200);
	assert_string_equal(header(&rs, "Content-Type"), type);
	assert_string_equal(rs.body, body);
	assert_non_null(header(&rs, "Last-Modified"));
	free(rs.body);
}

static void
check_static(int port)
{
	struct resp rs;
	char req[256], lm[64];

	expect_file(port, "/", "text/html; charset=utf-8", "<p>index</p>\n");
	expect_file(port, "/a.txt?x=/../y", "text/plain; charset=utf-8", "alpha\n");
	expect_file(port, "/b.css", "text/css; charset=utf-8", "b{}\n");
	expect_file(port, "/c.json", "application/json", "{}\n");
	expect_file(port, "/d.PNG", "image/png", "png");
	expect_file(port, "/e.bin", "application/octet-stream", "bin");
	expect_file(port, "/f.woff2", "font/woff2", "w");
	expect_file(port, "/sub/", "text/html; charset=utf-8", "sub index\n");
	expect_file(port, "/%61.txt", "text/plain; charset=utf-8", "alpha\n");
	assert_int_equal(fetch(port, GET("/nothing.html"), &rs), 404);
	free(rs.body);
	assert_int_equal(fetch(port, GET("/sub?a=b"), &rs), 301);
	assert_string_equal(header(&rs, "Location"), "/sub/?a=b");
	free(rs.body);
	assert_int_equal(fetch(port, GET("//sub"), &rs), 301);	/* not to host "sub" */
	assert_string_equal(header(&rs, "Location"), "/sub/");
	free(rs.body);
	assert_int_equal(fetch(port, GET("/sub#frag"), &rs), 400);	/* not to "/sub#frag/" */
	assert_null(header(&rs, "Location"));
	free(rs.body);
	assert_int_equal(fetch(port, GET("/a.txt#x"), &rs), 400);
	free(rs.body);
	assert_int_equal(fetch(port, GET("/empty/"), &rs), 403);	/* no listing */
	free(rs.body);
	assert_int_equal(fetch(port, "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n", &rs), 200);
	assert_string_equal(header(&rs, "Content-Length"), "6");
	snprintf(lm, sizeof(lm), "%s", header(&rs, "Last-Modified"));
	free(rs.body);
	snprintf(req, sizeof(req), "GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: %s\r\n\r\n", lm);
	assert_int_equal(fetch(port, req, &rs), 304);
	free(rs.body);
	assert_int_equal(fetch(port, "GET /a.txt HTTP/1.1\r\nHost: t\r\n"
	    "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT\r\n\r\n", &rs), 200);
	free(rs.body);
}

/* No request may read outside the root, whatever it is answered. */
static void
check_traversal(int port)
{
	static const char *const paths[] = { "/../secret.txt", "/%2e%2e/secret.txt",
		"/a/%2e%2e/%2e%2e/secret.txt", "/%00", "/a.txt%00.html", "/%2E%2E%2Fsecret.txt",
		"/out/secret.txt", "/etc/passwd", "/etc/", "/%zz", "/..", "/sub/../../secret.txt",
		"/./../secret.txt", NULL };

	for (const char *const *p = paths; *p != NULL; p++) {
		char req[256];
		struct resp rs;

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", *p);
		fetch(port, req, &rs);
		if (rs.status != 400 && rs.status != 403 && rs.status != 404)
			fail_msg("%s: status %d", *p, rs.status);
		assert_null(strstr(rs.body, "SECRET"));
		assert_null(strstr(rs.body, "root:"));
		free(rs.body);
	}
}

/* 5 MB by sendfile, intact, then more on the same connection; and the
 * same file pipelined before a small one (the event model holds the
 * second request until the file is out). */
static void
check_big(int port)
{
	static const char two[] = GET("/big.bin") GET("/a.txt");
	struct reader r;
	struct resp rs;

	reader_open(&r, port);
	for (int round = 0; round < 2; round++) {
		ask(&r, GET("/big.bin"), false, &rs);
		assert_int_equal(rs.status, 200);
		assert_int_equal(rs.body_len, BIG);
		for (uint32_t i = 0; i < BIG / 4; i++)
			if (memcmp(rs.body + i * 4, &i, 4) != 0)
				fail_msg("byte %u differs", i * 4);
		free(rs.body);
	}
	assert_int_equal(send_all(r.fd, two, sizeof(two) - 1), 0);
	assert_true(reader_next(&r, false, &rs));
	assert_int_equal(rs.body_len, BIG);
	free(rs.body);
	assert_true(reader_next(&r, false, &rs));
	assert_string_equal(rs.body, "alpha\n");
	free(rs.body);
	reader_close(&r);
}

static void
test_static_files(void **state)
{
	char *dir, *root = make_root(&dir);

	(void)state;
	for (int m = 0; m < MAIN_MODELS; m++) {
		int port;
		struct daemon *d = start_files(models[m], root, "", &port);

		check_static(port);
		check_traversal(port);
		check_big(port);
		stop(d);
	}
	harness_rmdir(dir);
	free(root);
}

/* Wait for the log file to hold N lines; its text. */
static char *
log_lines(const char *path, int n)
{
	static char text[8192];

	for (long long end = now_ms() + T_MS; now_ms() < end; usleep(10000)) {
		FILE *fp = fopen(path, "re");
		size_t len = fp != NULL ? fread(text, 1, sizeof(text) - 1, fp) : 0;
		int lines = 0;

		if (fp != NULL)
			fclose(fp);
		text[len] = '\0';
		for (size_t i = 0; i < len; i++)
			lines += text[i] == '\n';
		if (lines >= n)
			return text;
	}
	fail_msg("%s: fewer than %d lines", path, n);
	return NULL;
}

/* Lines of different workers may come in any order: each must be there. */
static void
test_access_log(void **state)
{
	static const char *const lines[] = {
	    ("^127\\.0\\.0\\.1 - - \\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} "
	    "\\+0000\\] \"GET /a\\.txt\\?q HTTP/1\\.1\" 200 6 \"http://r/\" \"ua \\\\x22q\\\\x22 \\\\x5C\"$"),
	    "^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"HEAD /nope HTTP/1\\.1\" 404 0 \"-\" \"-\"$",
	    "^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"GET /\\\\x7F HTTP/1\\.1\" 400 16 \"-\" \"-\"$",
	};
	char *dir, *root = make_root(&dir), *logpath, extra[512];

	(void)state;
	assert_true(asprintf(&logpath, "%s/access.log", dir) > 0);
	snprintf(extra, sizeof(extra), "access_log = \"%s\";", logpath);
	for (int m = 0; m < MAIN_MODELS; m++) {
		int port;
		struct daemon *d = start_files(models[m], root, extra, &port);
		struct resp rs;
		struct stat st;
		const char *text;

		fetch(port, "GET /a.txt?q HTTP/1.1\r\nHost: t\r\nReferer: http://r/\r\n"
		    "User-Agent: ua \"q\" \\\r\n\r\n", &rs);
		free(rs.body);
		fetch(port, "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n", &rs);
		free(rs.body);
		fetch(port, "GET /\x7f HTTP/1.1\r\nHost: t\r\n\r\n", &rs);
		free(rs.body);
		text = log_lines(logpath, 3);
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			regex_t re;

			assert_int_equal(regcomp(&re, lines[i], REG_EXTENDED | REG_NEWLINE), 0);
			if (regexec(&re, text, 0, NULL, 0) != 0)
				fail_msg("access log has no line like %s:\n%s", lines[i], text);
			regfree(&re);
		}
		assert_int_equal(stat(logpath, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0640);
		stop(d);
		assert_int_equal(unlink(logpath), 0);
	}
	free(logpath);
	harness_rmdir(dir);
	free(root);
}

/* A connection whose receive buffer is too small for a file to go out at
 * once: the server's sendfile must wait. */
static void
reader_open_small(struct reader *r, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int rcv = 16384;

	*r = (struct reader){ .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), .cap = 65536 };
	assert_true(r->fd >= 0);
	assert_int_equal(setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), 0);
	assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	r->buf = malloc(r->cap);
	assert_non_null(r->buf);
}

/* Has the daemon logged a sanitizer's report so far? */
static bool
sanitizer_spoke(struct daemon *d)
{
	while (daemon_read_log(d, now_ms() + 100))
		;
	return strstr(d->log, "runtime error") != NULL || strstr(d->log, "Sanitizer") != NULL;
}

/* A file that has to wait in the connection (event model: queued, then
 * drained), and after it more requests on the same connection: the
 * handler goes on from its drained() hook with nothing kept. Under
 * clang's UBSan that hook used to compute NULL + 0 and kill the worker. */
static void
test_file_then_keepalive(void **state)
{
	char *dir, *root = make_root(&dir);

	(void)state;
	for (int m = 0; m < ALL_MODELS; m++) {
		int port;
		struct daemon *d = start_files(models[m], root, "", &port);
		struct reader r;
		struct resp rs;

		reader_open_small(&r, port);
		assert_int_equal(send_all(r.fd, GET("/big.bin"), strlen(GET("/big.bin"))), 0);
		usleep(100000);		/* let the socket fill and the file wait */
		assert_true(reader_next(&r, false, &rs));
		assert_int_equal(rs.status, 200);
		assert_int_equal(rs.body_len, BIG);
		free(rs.body);
		for (int i = 0; i < 2; i++) {
			ask(&r, GET("/a.txt"), false, &rs);
			assert_int_equal(rs.status, 200);
			assert_string_equal(rs.body, "alpha\n");
			free(rs.body);
		}
		reader_close(&r);
		if (sanitizer_spoke(d))
			fail_msg("%s: the daemon reported:\n%s", models[m], d->log);
		stop(d);
	}
	harness_rmdir(dir);
	free(root);
}

/* The byte count of the access log's line like PATTERN (its status and
 * bytes are the first two numbers after the request), or -1. */
static long long
logged_bytes(const char *path, const char *request)
{
	char *text = log_lines(path, 1), *p = strstr(text, request);
	int status;
	long long bytes;

	if (p == NULL || sscanf(p + strlen(request), "\" %d %lld", &status, &bytes) != 2)
		return -1;
	return status == 200 ? bytes : -1;
}

#define HUGE (64LL * 1024 * 1024)

/* A client that takes part of a file and resets the connection: the
 * access log counts the bytes sent, not the file's size (CLF's %b). And
 * one that takes all of it: the whole size. */
static void
test_access_log_partial(void **state)
{
	char *dir, *root = make_root(&dir), *logpath, *huge, extra[512];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	(void)state;
	assert_true(asprintf(&huge, "%s/huge.bin", root) > 0);
	assert_true((fd = open(huge, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0);
	assert_int_equal(ftruncate(fd, HUGE), 0);	/* sparse: costs no disk */
	close(fd);
	assert_true(asprintf(&logpath, "%s/access.log", dir) > 0);
	snprintf(extra, sizeof(extra), "access_log = \"%s\";", logpath);
	for (int m = 0; m < ALL_MODELS; m++) {
		int port;
		struct daemon *d = start_files(models[m], root, extra, &port);
		struct reader r;
		struct resp rs;
		long long n;

		reader_open_small(&r, port);
		assert_int_equal(send_all(r.fd, GET("/huge.bin"), strlen(GET("/huge.bin"))), 0);
		assert_true(reader_want(&r, 100000));
		assert_int_equal(setsockopt(r.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
		reader_close(&r);	/* a reset, with most of the file unsent */
		n = logged_bytes(logpath, "\"GET /huge.bin HTTP/1.1");
		if (n < 100000 - 4096 || n >= HUGE)
			fail_msg("%s: %lld bytes logged of %lld, more than 100000 read", models[m], n,
			    HUGE);
		assert_int_equal(truncate(logpath, 0), 0);	/* O_APPEND: the next line is the first */

		reader_open_small(&r, port);
		ask(&r, GET("/big.bin"), false, &rs);
		free(rs.body);
		assert_int_equal(logged_bytes(logpath, "\"GET /big.bin HTTP/1.1"), BIG);
		reader_close(&r);
		stop(d);
		assert_int_equal(unlink(logpath), 0);
	}
	free(logpath);
	free(huge);
	harness_rmdir(dir);
	free(root);
}

/* The highest req/s of any STATUS notified so far. */
static long
status_max_rate(struct daemon *d)
{
	long max = -1;

	daemon_read_notes(d);
	for (const char *p = d->notes; (p = strstr(p, " req/s")) != NULL; p++) {
		const char *q = p;

		while (q > d->notes && q[-1] >= '0' && q[-1] <= '9')
			q--;
		if (q < p && atol(q) > max)
			max = atol(q);
	}
	return max;
}

/* STATUS's req/s counts requests, not reads: one request sent a byte at a
 * time over a second is not 30 req/s, and 20 pipelined in one read are
 * not 1. */
static void
test_status_counts_requests(void **state)
{
	static const char req[] = GET("/");
	int one = 1;

	(void)state;
	for (int m = 0; m < MAIN_MODELS; m++) {
		struct launch l = { .notify = true };
		struct daemon *d;
		struct reader r;
		struct resp rs;
		char burst[20 * sizeof(req)];
		int port;

		l.conf = config("services = ( { name = \"web\"; listen = \"127.0.0.1:0\";"
		    " handler = \"http\"; %s } );", models[m]);
		d = daemon_launch(&l);
		port = daemon_port(d, "web", "127.0.0.1");
		assert_true(port > 0);
		assert_true(daemon_wait_note(d, "READY=1", T_MS));
		reader_open(&r, port);
		assert_int_equal(setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
		for (size_t i = 0; i < sizeof(req) - 1; i++) {
			assert_int_equal(send_all(r.fd, req + i, 1), 0);
			usleep(40000);
		}
		assert_true(reader_next(&r, false, &rs));
		free(rs.body);
		usleep(2200000);	/* two STATUS ticks after the last byte */
		if (status_max_rate(d) > 1)
			fail_msg("%s: %ld req/s for one request:\n%s", models[m], status_max_rate(d),
			    d->notes);
		for (int i = 0; i < 20; i++)
			memcpy(burst + i * (sizeof(req) - 1), req, sizeof(req) - 1);
		assert_int_equal(send_all(r.fd, burst, 20 * (sizeof(req) - 1)), 0);
		for (int i = 0; i < 20; i++) {
			assert_true(reader_next(&r, false, &rs));
			free(rs.body);
		}
		/* At least half of them in one tick. */
		for (long long end = now_ms() + T_MS; status_max_rate(d) < 10 && now_ms() < end; )
			usleep(50000);
		if (status_max_rate(d) < 10)
			fail_msg("%s: 20 requests never counted:\n%s", models[m], d->notes);
		reader_close(&r);
		stop(d);
	}
}

/* Run CMD; its whole output (at most SIZE - 1 bytes) in BUF; its status. */
static int
run_capture(const char *cmd, char *buf, size_t size)
{
	FILE *fp = popen(cmd, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	return pclose(fp);
}

/* What a user's curl sees: keep-alive across two URLs, HEAD, the media
 * type, Last-Modified, and 304 for a copy that is up to date. */
static void
test_curl(void **state)
{
	char *dir, *root, cmd[1024], out[16384];
	struct daemon *d;
	int port;

	(void)state;
	if (system("command -v curl >/dev/null 2>&1") != 0)
		skip();
	root = make_root(&dir);
	for (size_t m = 0; m < 2; m++) {
		d = start_files(models[m], root, "", &port);
		snprintf(cmd, sizeof(cmd), "curl -sv http://127.0.0.1:%d/a.txt http://127.0.0.1:%d/ 2>&1",
		    port, port);
		assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "alpha\n"));
		assert_non_null(strstr(out, "<p>index</p>"));
		assert_non_null(strstr(out, "Re-using existing connection"));
		assert_non_null(strstr(out, "< Content-Type: text/html"));
		snprintf(cmd, sizeof(cmd), "curl -sI http://127.0.0.1:%d/b.css", port);
		assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
		assert_non_null(strstr(out, "Content-Type: text/css"));
		assert_non_null(strstr(out, "Content-Length: 4\r\n"));
		assert_non_null(strstr(out, "Last-Modified: "));
		/* -z FILE: If-Modified-Since the file's time; our copy is the file. */
		snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' -z %s/a.txt"
		    " http://127.0.0.1:%d/a.txt", root, port);
		assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
		assert_string_equal(out, "304");
		snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}'"
		    " http://127.0.0.1:%d/nothing-here", port);
		assert_int_equal(run_capture(cmd, out, sizeof(out)), 0);
		assert_string_equal(out, "404");
		stop(d);
	}
	harness_rmdir(dir);
	free(root);
}

/* wrk against the fixed response: requests made, no error, all 2xx. */
static void
test_wrk(void **state)
{
	int port;
	struct daemon *d;
	char cmd[256], line[512];
	long long requests = 0;
	FILE *fp;

	(void)state;
	if (system("command -v wrk >/dev/null 2>&1") != 0)
		skip();
	d = start_fixed(models[1], &port);
	snprintf(cmd, sizeof(cmd), "timeout 30 wrk -t1 -c10 -d2s http://127.0.0.1:%d/ 2>&1", port);
	assert_non_null(fp = popen(cmd, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		print_message("wrk: %s", line);
		if (strstr(line, "Non-2xx") != NULL || strstr(line, "Socket errors") != NULL)
			fail_msg("wrk: %s", line);
		if (strstr(line, " requests in ") != NULL)
			requests = atoll(line);
	}
	assert_int_equal(pclose(fp), 0);
	assert_true(requests > 0);
	stop(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fixed_response, harness_teardown),
		cmocka_unit_test_teardown(test_http10_and_close, harness_teardown),
		cmocka_unit_test_teardown(test_pipelining_split, harness_teardown),
		cmocka_unit_test_teardown(test_body_discarded, harness_teardown),
		cmocka_unit_test_teardown(test_hostile_requests, harness_teardown),
		cmocka_unit_test_teardown(test_static_files, harness_teardown),
		cmocka_unit_test_teardown(test_access_log, harness_teardown),
		cmocka_unit_test_teardown(test_file_then_keepalive, harness_teardown),
		cmocka_unit_test_teardown(test_access_log_partial, harness_teardown),
		cmocka_unit_test_teardown(test_status_counts_requests, harness_teardown),
		cmocka_unit_test_teardown(test_curl, harness_teardown),
		cmocka_unit_test_teardown(test_wrk, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
