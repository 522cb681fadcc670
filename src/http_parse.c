/*
 * http_parse.c - parse an HTTP/1.1 request head, strictly (RFC 9110, 9112).
 *
 * Each rule refused here is one where two parsers on a request's path
 * could disagree about where it ends, or about its target; see
 * http_parse.h. The parser never looks past the blank line that ends the
 * head, and never at more than the limits allow, so a hostile client costs
 * at most max_head bytes of the caller's buffer.
 *
 * An incomplete head is checked line by line as its lines complete, and
 * struct http_scan remembers how far: the next call searches only the new
 * bytes for the end of the line. When the blank line comes, the whole head
 * is parsed once more for its fields. So every byte is looked at a few
 * times, not once per read: a head sent a byte at a time, which used to
 * cost O(n^2), costs O(n).
 */
#include <string.h>
#include <strings.h>

#include "http_parse.h"

/* A cursor over the head; errors are statuses, as negative numbers. */
struct http_cur {
	const char *p, *end;
};

struct http_fields {
	int hosts;
	int lengths;
	bool transfer_encoding;
	bool chunked_last;		/* the last transfer coding is chunked */
	bool conn_close, conn_keep_alive;
};

/* RFC 9110 tchar. */
static bool
http_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Field value bytes: VCHAR, obs-text, SP, HTAB. */
static bool
http_vchar(unsigned char c)
{
	return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

static bool
http_is(struct http_str s, const char *word)
{
	return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

/* The line from P to the LF at NL, CRLF excluded: 0, or -400 (a bare LF
 * or a CR inside it). */
static int
http_line_to(const char *p, const char *nl, struct http_str *line_r)
{
	if (nl == p || nl[-1] != '\r' || memchr(p, '\r', (size_t)(nl - 1 - p)) != NULL)
		return -400;
	*line_r = (struct http_str){ p, (size_t)(nl - 1 - p) };
	return 0;
}

/* The next line, CRLF excluded: 1, 0 when incomplete, or -400. */
static int
http_line(struct http_cur *c, struct http_str *line_r)
{
	const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));

	if (nl == NULL)
		return 0;
	if (http_line_to(c->p, nl, line_r) < 0)
		return -400;
	c->p = nl + 1;
	return 1;
}

static int
http_method(struct http_str m, struct http_request *req)
{
	static const char *const others[] = { "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
		"TRACE", "PATCH", NULL };

	req->method_name = m;
	req->method = HTTP_OTHER;
	if (m.len == 3 && memcmp(m.p, "GET", 3) == 0)
		req->method = HTTP_GET;
	else if (m.len == 4 && memcmp(m.p, "HEAD", 4) == 0)
		req->method = HTTP_HEAD;
	if (req->method != HTTP_OTHER)
		return 0;
	for (const char *const *o = others; *o != NULL; o++)
		if (m.len == strlen(*o) && memcmp(m.p, *o, m.len) == 0)
			return -405;
	return -501;
}

/* "HTTP/1.1" and "HTTP/1.0"; another HTTP/d.d is 505, anything else 400. */
static int
http_version(struct http_str v, struct http_request *req)
{
	if (v.len != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[6] != '.' ||
	    v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
		return -400;
	if (v.p[5] != '1' || (v.p[7] != '0' && v.p[7] != '1'))
		return -505;
	req->minor = v.p[7] - '0';
	req->keep_alive = req->minor == 1;
	return 0;
}

/* method SP request-target SP HTTP-version: exactly one space each. */
static int
http_request_line(struct http_str l, struct http_request *req)
{
	const char *sp1 = memchr(l.p, ' ', l.len), *sp2, *end = l.p + l.len;
	struct http_str m, v;
	int r;

	if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) == NULL ||
	    memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)) != NULL)
		return -400;
	m = (struct http_str){ l.p, (size_t)(sp1 - l.p) };
	req->target = (struct http_str){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	v = (struct http_str){ sp2 + 1, (size_t)(end - sp2 - 1) };
	if (m.len == 0)
		return -400;
	for (size_t i = 0; i < m.len; i++)
		if (!http_tchar((unsigned char)m.p[i]))
			return -400;
	if ((r = http_version(v, req)) < 0)
		return r;
	if (req->target.len == 0 || req->target.p[0] != '/')
		return -400;
	for (size_t i = 0; i < req->target.len; i++)
		if ((unsigned char)req->target.p[i] <= 0x20 || (unsigned char)req->target.p[i] >= 0x7f ||
		    req->target.p[i] == '#')
			return -400;	/* '#': a fragment is never sent (RFC 9112 3.2) */
	return http_method(m, req);
}

/* 1*DIGIT, no overflow; the same value again is allowed, another is not. */
static int
http_content_length(struct http_str v, struct http_request *req, struct http_fields *f)
{
	uint64_t n = 0;

	if (v.len == 0 || v.len > 19)
		return -400;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -400;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (f->lengths++ > 0 && n != req->content_length)
		return -400;
	req->content_length = n;
	return 0;
}

/* Call FN for each comma-separated element of V, trimmed. */
static void
http_list(struct http_str v, void (*fn)(struct http_str, struct http_fields *),
    struct http_fields *f)
{
	const char *p = v.p, *end = v.p + v.len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p)), *e = comma ? comma : end;
		struct http_str item;

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		item = (struct http_str){ p, (size_t)(e - p) };
		while (item.len > 0 && (p[item.len - 1] == ' ' || p[item.len - 1] == '\t'))
			item.len--;
		if (item.len > 0)
			fn(item, f);
		p = comma ? comma + 1 : end;
	}
}

static void
http_connection_token(struct http_str t, struct http_fields *f)
{
	if (http_is(t, "close"))
		f->conn_close = true;
	else if (http_is(t, "keep-alive"))
		f->conn_keep_alive = true;
}

static void
http_coding(struct http_str t, struct http_fields *f)
{
	f->chunked_last = http_is(t, "chunked");
}

/* What sockd acts on; other fields are checked for syntax only. */
static int
http_field(struct http_str name, struct http_str v, struct http_request *req,
    struct http_fields *f)
{
	if (http_is(name, "content-length"))
		return http_content_length(v, req, f);
	if (http_is(name, "transfer-encoding")) {
		f->transfer_encoding = true;
		http_list(v, http_coding, f);
	} else if (http_is(name, "host")) {
		f->hosts++;
		req->host = v;
	} else if (http_is(name, "connection"))
		http_list(v, http_connection_token, f);
	else if (http_is(name, "if-modified-since"))
		req->if_modified_since = v;
	else if (http_is(name, "user-agent"))
		req->user_agent = v;
	else if (http_is(name, "referer"))
		req->referer = v;
	return 0;
}

/* field-name ":" OWS field-value OWS; no space before the colon, no folding. */
static int
http_header_line(struct http_str l, struct http_request *req, struct http_fields *f)
{
	const char *colon = memchr(l.p, ':', l.len), *end = l.p + l.len;
	struct http_str name, v;

	if (colon == NULL || colon == l.p)
		return -400;	/* no colon, an empty name, or folding (starts with SP) */
	name = (struct http_str){ l.p, (size_t)(colon - l.p) };
	for (size_t i = 0; i < name.len; i++)
		if (!http_tchar((unsigned char)name.p[i]))
			return -400;
	v.p = colon + 1;
	while (v.p < end && (*v.p == ' ' || *v.p == '\t'))
		v.p++;
	v.len = (size_t)(end - v.p);
	while (v.len > 0 && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
		v.len--;
	for (size_t i = 0; i < v.len; i++)
		if (!http_vchar((unsigned char)v.p[i]))
			return -400;
	return http_field(name, v, req, f);
}

/* The rules that span fields, once the head is complete. */
static int
http_check(struct http_request *req, const struct http_fields *f, const struct http_limits *lim)
{
	if (f->transfer_encoding && (f->lengths > 0 || req->minor == 0))
		return -400;
	if (f->transfer_encoding)
		return f->chunked_last ? -411 : -501;
	if (f->hosts > 1 || (req->minor == 1 && f->hosts == 0))
		return -400;
	if (req->content_length > lim->max_body)
		return -413;
	if (f->conn_close)
		req->keep_alive = false;
	else if (req->minor == 0 && f->conn_keep_alive)
		req->keep_alive = true;
	return 0;
}

/* Still incomplete: which limit, if any, has it outgrown? */
static long
http_incomplete(const char *line, const char *end, bool in_line, const struct http_limits *lim,
    size_t head)
{
	if (in_line && (size_t)(end - line) > lim->max_line + 1)
		return -414;
	return head > lim->max_head ? -431 : 0;
}

/* The whole head, once it is known to be complete: every line again, and
 * now the fields too (they point into BUF, which may have moved since the
 * lines were first checked). */
static long
http_parse_head(const char *buf, size_t len, const struct http_limits *lim,
    struct http_request *req_r)
{
	struct http_cur c = { buf, buf + len };
	struct http_fields f = { 0 };
	struct http_str l;
	const char *start;
	int r;

	*req_r = (struct http_request){ 0 };
	while (c.end - c.p >= 2 && c.p[0] == '\r' && c.p[1] == '\n')
		c.p += 2;	/* RFC 9112 2.2: empty lines before a request */
	start = c.p;
	if ((r = http_line(&c, &l)) <= 0)
		return r < 0 ? r : http_incomplete(start, c.end, true, lim, len);
	if (l.len > lim->max_line)
		return -414;
	if ((r = http_request_line(l, req_r)) < 0)
		return r;
	for (;;) {
		if ((r = http_line(&c, &l)) <= 0)
			return r < 0 ? r : http_incomplete(c.p, c.end, false, lim, len);
		if ((size_t)(c.p - buf) > lim->max_head)
			return -431;
		if (l.len == 0)
			break;
		if ((r = http_header_line(l, req_r, &f)) < 0)
			return r;
	}
	if ((r = http_check(req_r, &f, lim)) < 0)
		return r;
	return (long)(c.p - buf);
}

/* The LF that ends the line at SCAN->done, looking only at bytes not
 * searched before; NULL (and all of them searched) when it has none yet. */
static const char *
http_scan_lf(struct http_scan *scan, const char *buf, size_t len)
{
	size_t from = scan->done + scan->scanned;
	const char *nl = memchr(buf + from, '\n', len - from);

	if (nl == NULL)
		scan->scanned = len - scan->done;
	return nl;
}

/* A line that just completed, checked alone; 1 when it ends the head. */
static int
http_scan_line(struct http_scan *scan, struct http_str l, const struct http_limits *lim)
{
	struct http_request scratch = { 0 };
	struct http_fields f = { 0 };
	int r;

	if (!scan->request_line) {
		if (l.len > lim->max_line)
			return -414;
		if ((r = http_request_line(l, &scratch)) < 0)
			return r;
		scan->request_line = true;
		return 0;
	}
	if (scan->done > lim->max_head)
		return -431;
	if (l.len == 0)
		return 1;
	/* The rules across fields (one Host, one length) wait for the end. */
	return http_header_line(l, &scratch, &f);
}

long
http_parse_more(struct http_scan *scan, const char *buf, size_t len,
    const struct http_limits *lim, struct http_request *req_r)
{
	*req_r = (struct http_request){ 0 };
	for (;;) {
		const char *line = buf + scan->done, *nl;
		struct http_str l;
		int r;

		if (!scan->request_line && len - scan->done >= 2 && line[0] == '\r' &&
		    line[1] == '\n') {
			scan->done += 2;	/* RFC 9112 2.2: empty lines before a request */
			scan->scanned = 0;
			continue;
		}
		if ((nl = http_scan_lf(scan, buf, len)) == NULL)
			return http_incomplete(line, buf + len, !scan->request_line, lim, len);
		if (http_line_to(line, nl, &l) < 0)
			return -400;
		scan->done = (size_t)(nl + 1 - buf);
		scan->scanned = 0;
		if ((r = http_scan_line(scan, l, lim)) < 0)
			return r;
		if (r == 1)
			return http_parse_head(buf, scan->done, lim, req_r);
	}
}

long
http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
    struct http_request *req_r)
{
	struct http_scan scan = { 0 };

	return http_parse_more(&scan, buf, len, lim, req_r);
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
