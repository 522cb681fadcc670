/*
 * fuzz_upgrade.c - a fuzz target for the binary upgrade's handover text
 * (upgrade_parse). The handover comes from the image before, not from a
 * client, but a half-written or foreign one must be refused, never
 * misread: every input either fails with a reason, or parses into a state
 * whose descriptors are ones the parser accepts (above stderr), that
 * formats back, and that parses again to the same thing. A broken promise
 * aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_same(const struct upgrade_state *a, const struct upgrade_state *b)
{
	if (strcmp(a->version, b->version) != 0 || strcmp(a->layout, b->layout) != 0 ||
	    a->generation != b->generation || a->sb_fd != b->sb_fd || a->st_fd != b->st_fd ||
	    a->pt_fd != b->pt_fd || a->wake_fd != b->wake_fd || a->ctl_fd != b->ctl_fd ||
	    a->n_l != b->n_l || a->n_k != b->n_k)
		abort();
	for (size_t i = 0; i < a->n_l; i++)
		if (a->l[i].fd != b->l[i].fd || strcmp(a->l[i].addr, b->l[i].addr) != 0)
			abort();
	for (size_t i = 0; i < a->n_k; i++)
		if (a->k[i].pid != b->k[i].pid || a->k[i].slot != b->k[i].slot ||
		    a->k[i].kill_at_ns != b->k[i].kill_at_ns)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upgrade_state s, again;
	struct strbuf out = { 0 };
	char why[160] = "";

	if (upgrade_parse((const char *)data, size, &s, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			abort();	/* refused without a reason */
		upgrade_free(&s);
		return 0;
	}
	if (s.sb_fd <= 2 || s.wake_fd <= 2)
		abort();
	if (upgrade_format(&s, &out) == 0) {
		if (upgrade_parse(out.p, out.len, &again, why, sizeof(why)) == -1)
			abort();
		fuzz_same(&s, &again);
		upgrade_free(&again);
	}
	strbuf_free(&out);
	upgrade_free(&s);
	return 0;
}
