/*
 * handler_http.c - an HTTP/1.1 server: a fixed response (a health check,
 * a benchmark target), static files from a root directory, or (handler
 * "status") the daemon's own /status and /metrics (http_status.c).
 *
 * The service's framing is raw, so message() gets whatever each read
 * returned. Complete requests in it are answered at once, in order
 * (pipelining); only an incomplete head is copied, into a per-connection
 * buffer of at most limits.max_header_bytes, and the parser goes on where
 * it stopped when more arrives (struct http_scan), so a head that comes a
 * byte at a time costs linear work. Request bodies (Content-Length only)
 * are read and dropped. Every response has Date, Server and
 * Content-Length; a parser error is answered with its status and the
 * connection closed.
 *
 * The fixed response's head is built once in start(); answering it is one
 * sendmsg of (head, Date, connection line, body), nothing copied. File
 * bodies go out with sendfile through conn_send_file(). In the event
 * model an answer that does not go out at once waits in the connection,
 * and answering the requests after it waits too (conn_pending): what is
 * left of the read is kept, and the drained() hook goes on with it.
 *
 * The access log's byte count is the body bytes that reached the socket
 * (Combined Log Format's %b), not the body's length: each answer notes
 * where its body ends in the connection's output (conn_sent()), and its
 * line is written once the last byte is out, or when the connection ends
 * first. Since one answer at most waits at a time, one line at most is
 * held back, with copies of the client's fields.
 *
 * When the worker drains (a reload, a graceful stop, max_requests) the
 * connection layer says so (conn_draining): the next answer says
 * "Connection: close" and the connection lingers after it, so the client
 * takes its next request to the new generation, and idle() tells the
 * layer when a connection may be closed for being quiet (conn.h).
 *
 * The slot's message count (STATUS's req/s) is of requests: raw framing's
 * messages are reads, which a client may split as it likes. A request's
 * latency, for the histogram, runs from the read that brought its last
 * byte (the connection's clock, read anyway) to its answer handed to the
 * socket: one clock read per request.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "handler.h"
#include "http_file.h"
#include "http_log.h"
#include "http_parse.h"
#include "http_status.h"
#include "http_time.h"
#include "strbuf.h"
#include "util.h"

#define HTTP_HEAD_MAX 1024		/* a response head we build */
#define HTTP_REQUEST_LOGGED 512		/* of a request line that did not parse */

/* Per worker: set by start(), read-only after. */
static struct {
	struct http_limits lim;
	bool files;
	bool status;			/* handler "status": /status and /metrics */
	char *fixed;			/* status line ... "Date: " */
	size_t fixed_len;
	bool fixed_body;		/* 204 and 304 have none */
} http;

/* An access log line waiting for its answer's last byte. */
struct http_held {
	bool on;
	int status;
	uint64_t body_end, body_len;	/* where the body ends in conn_sent()'s count */
	char *text;			/* the fields below point into it */
	struct http_str request, referer, user_agent;
};

/* Per connection (conn_data()). */
struct http_conn {
	char *buf;			/* an incomplete head, or requests held back: */
	size_t off, len, cap;		/* buf[off .. off + len) */
	struct http_scan scan;		/* how far the head at buf[off] was checked */
	uint64_t discard;		/* request body bytes still to drop */
	struct http_held held;
};

static const char *const http_conn_line[] = {
	"\r\n\r\n",			/* HTTP/1.1, staying open */
	"\r\nConnection: keep-alive\r\n\r\n",	/* HTTP/1.0, staying open */
	"\r\nConnection: close\r\n\r\n",
};

/* The connection line for REQ's answer (none: an answer without a
 * request, which always closes). */
static const char *
http_connection(const struct http_request *req, bool keep)
{
	if (!keep || req == NULL)
		return http_conn_line[2];
	return req->minor == 0 ? http_conn_line[1] : http_conn_line[0];
}

/* Does the connection stay open after this answer? As the client asked
 * (KEEP: its request, and the answer allows it), unless the worker
 * drains: then this answer is the connection's last, and the client
 * sends the next request to the new generation (conn.h, conn_drain). */
static bool
http_keep(const struct conn *c, bool keep)
{
	return keep && !conn_draining(c);
}

/*
 * After an answer the connection does not survive: if the client asked
 * for the end, close; if the drain ends it, linger, since the client may
 * have pipelined more requests, or sent the next one as the answer went
 * out: they are read and dropped, unanswered (it retries them on a new
 * connection), so that it reads this answer and the end, not a reset.
 */
static void
http_end_conn(struct conn *c)
{
	if (conn_draining(c))
		conn_linger(c);
	else
		conn_close(c);
}

static int
http_start(const struct config_service *svc)
{
	http.lim = (struct http_limits){ .max_line = (size_t)svc->max_request_line,
		.max_head = (size_t)svc->max_header_bytes, .max_body = (uint64_t)svc->max_message };
	http.files = svc->http_root != NULL;
	http.status = svc->handler == HANDLER_STATUS;
	if (http.status)
		return 0;
	if (svc->http_access_log != NULL && http_log_start(svc->http_access_log) == -1)
		return -1;
	if (http.files)
		return http_file_start(svc->http_root);
	http.fixed_body = svc->http_status != 204 && svc->http_status != 304;
	if (http.fixed_body)
		http.fixed = xasprintf("HTTP/1.1 %d %s\r\nServer: sockd\r\nContent-Type: %s\r\n"
		    "Content-Length: %zu\r\nDate: ", svc->http_status, http_reason(svc->http_status),
		    svc->http_content_type, svc->http_body_len);
	else
		http.fixed = xasprintf("HTTP/1.1 %d %s\r\nServer: sockd\r\nDate: ", svc->http_status,
		    http_reason(svc->http_status));
	http.fixed_len = strlen(http.fixed);
	return 0;
}

static void http_resume(struct conn *c);

static void
http_open(struct conn *c)
{
	conn_set_data(c, xcalloc(1, sizeof(struct http_conn)));
	conn_set_drained(c, http_resume);
	conn_set_counts_messages(c);	/* a read is not a request: STATUS's req/s */
}

static void http_log_held(struct conn *c, struct http_conn *h);

static void
http_close(struct conn *c)
{
	struct http_conn *h = conn_data(c);

	http_log_held(c, h);	/* the client left before an answer's end, maybe */
	free(h->buf);
	free(h);
	conn_set_data(c, NULL);
}

/* The request line as received, for the log. */
static struct http_str
http_request_line(const struct http_request *req)
{
	const char *end = req->target.p + req->target.len + sizeof(" HTTP/1.x") - 1;

	return (struct http_str){ req->method_name.p, (size_t)(end - req->method_name.p) };
}

/* Of a body of BODY_LEN bytes ending at BODY_END in the connection's
 * output, how many went out. */
static uint64_t
http_body_sent(const struct conn *c, uint64_t body_end, uint64_t body_len)
{
	uint64_t start = body_end - body_len, sent = conn_sent(c);

	return sent <= start ? 0 : sent >= body_end ? body_len : sent - start;
}

/* Copy S to *AT, at most HTTP_HELD_FIELD bytes (the log cuts fields
 * anyway); where the copy is. */
#define HTTP_HELD_FIELD 1024

static struct http_str
http_hold_str(char **at, struct http_str s)
{
	struct http_str copy = { *at, s.len < HTTP_HELD_FIELD ? s.len : HTTP_HELD_FIELD };

	if (copy.len > 0)
		memcpy(*at, s.p, copy.len);
	*at += copy.len;
	return copy;
}

/* Keep E's line until the answer's last byte is out: its fields point
 * into a read buffer that is about to be reused. */
static void
http_hold(struct http_conn *h, const struct http_log_entry *e, uint64_t body_end,
    uint64_t body_len)
{
	char *at = h->held.text = xreallocarray(h->held.text, 3, HTTP_HELD_FIELD);

	h->held.on = true;
	h->held.status = e->status;
	h->held.body_end = body_end;
	h->held.body_len = body_len;
	h->held.request = http_hold_str(&at, e->request);
	h->held.referer = http_hold_str(&at, e->referer);
	h->held.user_agent = http_hold_str(&at, e->user_agent);
}

/* The held line, with the bytes that went out by now. */
static void
http_log_held(struct conn *c, struct http_conn *h)
{
	struct http_log_entry e = { .peer = conn_peer(c), .request = h->held.request,
		.status = h->held.status, .referer = h->held.referer,
		.user_agent = h->held.user_agent };

	if (!h->held.on)
		return;
	e.bytes = http_body_sent(c, h->held.body_end, h->held.body_len);
	http_log_write(&e);
	h->held.on = false;
	free(h->held.text);
	h->held.text = NULL;
}

/* Log an answer just handed to the connection: its body is the last
 * BODY_LEN of the bytes up to BODY_END in conn_sent()'s count. Written now
 * if all of it is out (or will never be), else held. */
static void
http_log(struct conn *c, const struct http_request *req, struct http_str line, int status,
    uint64_t body_end, uint64_t body_len)
{
	struct http_log_entry e = { .peer = conn_peer(c), .request = line, .status = status };

	if (!http_log_enabled())
		return;
	if (req != NULL) {
		e.request = http_request_line(req);
		e.referer = req->referer;
		e.user_agent = req->user_agent;
	}
	if (conn_pending(c) && !conn_broken(c)) {
		http_log_held(c, conn_data(c));	/* none, as one answer at most waits */
		http_hold(conn_data(c), &e, body_end, body_len);
		return;
	}
	e.bytes = http_body_sent(c, body_end, body_len);
	http_log_write(&e);
}

/* Where an answer of these N pieces ends in conn_sent()'s count, were it
 * all sent: nothing else waits (see http_serve), so it starts there. */
static uint64_t
http_end(const struct conn *c, const struct iovec *iov, int n)
{
	uint64_t end = conn_sent(c);

	for (int i = 0; i < n; i++)
		end += iov[i].iov_len;
	return end;
}

/* A response head: status line, Server, Date, Content-Type (if TYPE),
 * EXTRA (whole header lines), Content-Length and the connection line,
 * which ends the head. */
static size_t
http_head(char *buf, int status, uint64_t length, const char *type, const char *extra,
    const char *conn_line)
{
	int n = snprintf(buf, HTTP_HEAD_MAX, "HTTP/1.1 %d %s\r\nServer: sockd\r\nDate: %s\r\n"
	    "%s%s%s%sContent-Length: %" PRIu64 "%s", status, http_reason(status), http_time_now(),
	    type != NULL ? "Content-Type: " : "", type != NULL ? type : "", type != NULL ? "\r\n" : "",
	    extra, length, conn_line);

	return n < HTTP_HEAD_MAX ? (size_t)n : HTTP_HEAD_MAX - 1;	/* EXTRA is bounded */
}

/* A status with a one-line text body; REQ is NULL when the head did not
 * parse (LINE is then what came). Closes unless KEEP. */
static void
http_status_page(struct conn *c, const struct http_request *req, struct http_str line,
    int status, const char *extra, bool keep)
{
	char head[HTTP_HEAD_MAX], body[64];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
	bool with_body = req == NULL || req->method != HTTP_HEAD;
	struct iovec iov[2];
	uint64_t end;

	keep = http_keep(c, keep && req != NULL);
	iov[0].iov_base = head;
	iov[0].iov_len = http_head(head, status, (uint64_t)blen, "text/plain; charset=utf-8", extra,
	    http_connection(req, keep));
	iov[1] = (struct iovec){ .iov_base = body, .iov_len = (size_t)blen };
	end = http_end(c, iov, with_body ? 2 : 1);
	conn_sendv(c, iov, with_body ? 2 : 1);
	http_log(c, req, line, status, end, with_body ? (uint64_t)blen : 0);
	/* After an error the client may still be sending: linger, so that
	 * it reads this answer rather than a reset (RFC 9112 9.6). */
	if (!keep && status >= 400)
		conn_linger(c);
	else if (!keep)
		http_end_conn(c);
}

/* The parser refused what starts at P: answer and close. */
static void
http_error(struct conn *c, int status, const char *p, size_t n)
{
	struct http_str line = { p, n < HTTP_REQUEST_LOGGED ? n : HTTP_REQUEST_LOGGED };
	const char *nl = memchr(line.p, '\n', line.len);

	if (nl != NULL)
		line.len = (size_t)(nl - line.p);
	if (line.len > 0 && line.p[line.len - 1] == '\r')
		line.len--;
	http_status_page(c, NULL, line, status, status == 405 ? "Allow: GET, HEAD\r\n" : "", false);
}

static void
http_answer_fixed(struct conn *c, const struct http_request *req)
{
	const struct config_service *svc = conn_svc(c);
	bool keep = http_keep(c, req->keep_alive);
	const char *conn_line = http_connection(req, keep);
	bool body = http.fixed_body && req->method != HTTP_HEAD;
	struct iovec iov[4] = {
		{ .iov_base = http.fixed, .iov_len = http.fixed_len },
		{ .iov_base = (void *)http_time_now(), .iov_len = HTTP_DATE_LEN },
		{ .iov_base = (void *)conn_line, .iov_len = strlen(conn_line) },
		{ .iov_base = svc->http_body, .iov_len = svc->http_body_len },
	};
	uint64_t end = http_end(c, iov, body ? 4 : 3);

	conn_sendv(c, iov, body ? 4 : 3);
	http_log(c, req, (struct http_str){ 0 }, svc->http_status, end,
	    body ? svc->http_body_len : 0);
	if (!keep)
		http_end_conn(c);
}

/* A directory named without its slash: 301 to the name with it. */
static void
http_redirect(struct conn *c, const struct http_request *req)
{
	struct http_str t = req->target;
	const char *q;
	size_t path;
	char extra[HTTP_HEAD_MAX / 2];

	/* "//host/dir" would send the client to another host. */
	while (t.len > 1 && t.p[1] == '/') {
		t.p++;
		t.len--;
	}
	q = memchr(t.p, '?', t.len);
	path = q != NULL ? (size_t)(q - t.p) : t.len;

	if (t.len + sizeof("Location: /\r\n") > sizeof(extra)) {
		http_status_page(c, req, (struct http_str){ 0 }, 404, "", req->keep_alive);
		return;
	}
	/* The target has no CR, LF or space (the parser saw to that). */
	snprintf(extra, sizeof(extra), "Location: %.*s/%.*s\r\n", (int)path, t.p,
	    (int)(t.len - path), t.p + path);
	http_status_page(c, req, (struct http_str){ 0 }, 301, extra, req->keep_alive);
}

/* If-Modified-Since: is the client's copy current? */
static bool
http_not_modified(const struct http_request *req, time_t mtime)
{
	time_t since;

	return req->if_modified_since.len > 0 &&
	    http_time_parse(req->if_modified_since.p, req->if_modified_since.len, &since) &&
	    mtime <= since;
}

static void
http_answer_file(struct conn *c, const struct http_request *req)
{
	char head[HTTP_HEAD_MAX], extra[64], mtime[HTTP_DATE_LEN + 1];
	struct http_file f;
	int status = http_file_open(req->target.p, req->target.len, conn_svc(c)->http_index, &f);
	bool body, keep = http_keep(c, req->keep_alive);
	size_t n;
	uint64_t end;

	if (status == 301) {
		http_redirect(c, req);
		return;
	}
	if (status != 200) {
		http_status_page(c, req, (struct http_str){ 0 }, status, "",
		    req->keep_alive && status != 400 && status < 500);
		return;
	}
	if (http_not_modified(req, f.mtime))
		status = 304;
	body = status == 200 && req->method != HTTP_HEAD && f.size > 0;
	http_time_format(f.mtime, mtime);
	snprintf(extra, sizeof(extra), "Last-Modified: %s\r\n", mtime);
	/* A 304's Content-Length is the length a 200 would have (RFC 9110 8.6). */
	n = http_head(head, status, (uint64_t)f.size, f.type, extra, http_connection(req, keep));
	end = conn_sent(c) + n + (body ? (uint64_t)f.size : 0);
	conn_send_file(c, head, n, f.fd, 0, body ? (size_t)f.size : 0);
	http_log(c, req, (struct http_str){ 0 }, status, end, body ? (uint64_t)f.size : 0);
	if (!keep)
		http_end_conn(c);
}

/* Handler "status": the daemon's state, made for this request. */
static void
http_answer_status(struct conn *c, const struct http_request *req)
{
	char head[HTTP_HEAD_MAX];
	struct strbuf body = { 0 };
	const char *type;
	int status = http_status_body(req->target.p, req->target.len,
	    (size_t)conn_svc(c)->max_output - HTTP_HEAD_MAX, &body, &type);
	bool with_body = req->method != HTTP_HEAD, keep = http_keep(c, req->keep_alive);
	struct iovec iov[2];
	uint64_t end;

	if (status != 200) {
		strbuf_free(&body);
		http_status_page(c, req, (struct http_str){ 0 }, status, "",
		    req->keep_alive && status == 404);
		return;
	}
	iov[0] = (struct iovec){ .iov_base = head, .iov_len = http_head(head, 200, body.len, type,
	    "Cache-Control: no-store\r\n", http_connection(req, keep)) };
	iov[1] = (struct iovec){ .iov_base = body.p, .iov_len = body.len };
	end = http_end(c, iov, with_body ? 2 : 1);
	conn_sendv(c, iov, with_body && body.len > 0 ? 2 : 1);
	http_log(c, req, (struct http_str){ 0 }, 200, end, with_body ? body.len : 0);
	strbuf_free(&body);
	if (!keep)
		http_end_conn(c);
}

/*
 * Answer the complete requests at the start of P (N bytes), in order;
 * the number of bytes used. Stops at an incomplete head (H->scan says how
 * far it was checked), after an error, and while output waits in the
 * connection (event model: see drained), so one answer at most waits.
 */
static size_t
http_serve(struct conn *c, struct http_conn *h, const char *p, size_t n)
{
	size_t used = 0;

	while (used < n && !conn_closing(c) && !conn_lingering(c) && !conn_pending(c)) {
		struct http_request req;
		long r;

		if (h->discard > 0) {
			size_t k = n - used < h->discard ? n - used : (size_t)h->discard;

			h->discard -= k;
			used += k;
			continue;
		}
		if ((r = http_parse_more(&h->scan, p + used, n - used, &http.lim, &req)) == 0)
			break;
		h->scan = (struct http_scan){ 0 };
		conn_count_message(c);
		if (r < 0) {
			http_error(c, (int)-r, p + used, n - used);
			break;
		}
		used += (size_t)r;
		h->discard = req.content_length;
		if (http.status)
			http_answer_status(c, &req);
		else if (http.files)
			http_answer_file(c, &req);
		else
			http_answer_fixed(c, &req);
		conn_record_latency(c);
	}
	return used;
}

/* Keep N more bytes from DATA after those kept; the buffer doubles, so a
 * head arriving in many small reads is copied little. */
static void
http_append(struct http_conn *h, const char *data, size_t n)
{
	if (h->off > 0 && h->off + h->len + n > h->cap) {
		memmove(h->buf, h->buf + h->off, h->len);	/* only after requests were taken */
		h->off = 0;
	}
	if (h->len + n > h->cap) {
		h->cap = h->cap * 2 > h->len + n ? h->cap * 2 : h->len + n;
		h->buf = xreallocarray(h->buf, h->cap, 1);
	}
	memcpy(h->buf + h->off + h->len, data, n);
	h->len += n;
}

/* Go on with what was kept: after more bytes came, or output drained. */
static void
http_resume(struct conn *c)
{
	struct http_conn *h = conn_data(c);
	size_t used;

	http_log_held(c, h);
	if (h->len == 0)
		return;		/* h->buf may be NULL: no arithmetic on it */
	used = http_serve(c, h, h->buf + h->off, h->len);
	h->off += used;
	h->len -= used;
	if (h->len == 0 || conn_closing(c) || conn_lingering(c))
		h->off = h->len = 0;	/* what follows the last answer is dropped */
}

static void
http_message(struct conn *c, const char *data, size_t len)
{
	struct http_conn *h = conn_data(c);
	size_t used;

	if (h->len == 0) {	/* the common case: parse the read in place */
		used = http_serve(c, h, data, len);
		h->off = 0;
		if (!conn_closing(c) && !conn_lingering(c) && used < len)
			http_append(h, data + used, len - used);
		return;
	}
	/* An incomplete head of at most max_header_bytes (or, in the event
	 * model, requests held back): the parser bounds what can follow. */
	http_append(h, data, len);
	http_resume(c);
}

/* The worker drains: nothing of a request begun (no head in part, no
 * body being read, none held back), so a close loses nothing. */
static bool
http_idle(const struct conn *c)
{
	const struct http_conn *h = conn_data(c);

	return h != NULL && h->len == 0 && h->discard == 0;
}

/* timeouts.handshake passed before a whole request head: 408, then the
 * connection closes (RFC 9110 15.5.9). */
static void
http_late(struct conn *c)
{
	http_status_page(c, NULL, (struct http_str){ 0 }, 408, "", false);
}

const struct handler handler_http = {
	.name = "http",
	.start = http_start,
	.open = http_open,
	.message = http_message,
	.close = http_close,
	.late = http_late,
	.idle = http_idle,
};
