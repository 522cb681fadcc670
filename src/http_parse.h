/*
 * http_parse.h - parse an HTTP/1.1 request head (RFC 9112), strictly.
 *
 * Sans-I/O and incremental: hand it the bytes received so far; it says
 * "need more", "here is a complete request head of N bytes", or "this is
 * an error: answer with status S and close". Nothing is copied: the
 * fields of a parsed request point into the caller's buffer. A struct
 * http_scan carries over how far an incomplete head was checked, so a
 * head that arrives a byte at a time costs linear, not quadratic, work.
 *
 * Strict where leniency lets two parsers disagree about where a request
 * ends (request smuggling): a bare LF, whitespace before a header's
 * colon, obsolete line folding, Transfer-Encoding together with
 * Content-Length, differing Content-Length values and an HTTP/1.1 request
 * without exactly one Host are all 400. So is a '#' in the request-target:
 * a fragment is the client's business and never sent (RFC 9112 3.2).
 */
#ifndef SOCKD_HTTP_PARSE_H
#define SOCKD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

/* A piece of the caller's buffer. */
struct http_str {
	const char *p;
	size_t len;
};

struct http_request {
	enum http_method method;
	struct http_str method_name;
	struct http_str target;		/* origin-form: starts with '/' */
	int minor;			/* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;		/* after this request (version and Connection) */
	uint64_t content_length;	/* body bytes to read and discard */
	struct http_str host;
	struct http_str if_modified_since;	/* empty when absent */
	struct http_str user_agent;
	struct http_str referer;
};

struct http_limits {
	size_t max_line;		/* the request line, CRLF excluded: else 414 */
	size_t max_head;		/* request line and headers: else 431 */
	uint64_t max_body;		/* Content-Length: else 413 */
};

/*
 * How far an incomplete head was checked. Zero it before each new head;
 * between calls the caller may move the bytes, not change them.
 */
struct http_scan {
	size_t done;			/* complete lines, each checked already */
	size_t scanned;			/* bytes after DONE searched for a LF */
	bool request_line;		/* the request line is among DONE */
};

/*
 * Parse the request head at the start of BUF (LEN bytes):
 *   > 0  a complete head of that many bytes; *REQ_R is filled in
 *     0  incomplete: call again with more bytes (LEN below the limits)
 *   < 0  minus the status to answer with (400, 405, 411, 413, 414, 431,
 *        501, 505); the connection must be closed after it.
 * Methods: GET and HEAD are parsed; the other methods of RFC 9110 are 405
 * (the caller adds "Allow: GET, HEAD"), unknown ones 501. Chunked request
 * bodies are 411 (sockd reads only Content-Length bodies), other transfer
 * codings 501.
 */
long http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
    struct http_request *req_r);
/*
 * The same, going on from *SCAN: BUF holds the bytes of the previous call
 * and more. Each byte is looked at a bounded number of times however the
 * head is split, and the answers are those of http_parse_request() on the
 * same bytes (lines are checked as they complete; the fields are taken
 * once, from the complete head).
 */
long http_parse_more(struct http_scan *scan, const char *buf, size_t len,
    const struct http_limits *lim, struct http_request *req_r);

const char *http_reason(int status);

#endif
