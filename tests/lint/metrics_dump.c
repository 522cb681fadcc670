/*
 * metrics_dump.c - the sample snapshot's metrics on stdout; with "empty"
 * those of the same daemon with no service (every family without series),
 * with "json" its status document: for tests/lint/metrics.sh to hand to
 * promtool and to a JSON parser.
 */
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "sample.h"
#include "status_format.h"

int
main(int argc, char **argv)
{
	struct snapshot s;
	struct strbuf b = { 0 };
	struct status_opts o = { .workers = true };

	sample_snapshot(&s);
	if (argc > 1 && strcmp(argv[1], "empty") == 0)
		s.n_services = s.n_workers = 0;
	if (argc > 1 && strcmp(argv[1], "json") == 0)
		status_format_json(&b, &s, &o);
	else
		metrics_format(&b, &s);
	snapshot_free(&s);
	if (b.overflow || b.p == NULL) {
		fprintf(stderr, "metrics_dump: the document did not fit\n");
		return 1;
	}
	if (fwrite(b.p, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
		perror("metrics_dump: stdout");
		return 1;
	}
	strbuf_free(&b);
	return 0;
}
