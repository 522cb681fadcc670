/*
 * lsan.c - what LeakSanitizer is told to ignore, built into every sockd
 * binary so that it holds for any invocation, not only under make check
 * (LSAN_OPTIONS still overrides it). Without a sanitizer runtime nothing
 * calls these.
 */

const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

/* libconfig 1.5 leaks a string token when a syntax error follows it (its
 * grammar has no %destructor, so the parser drops the token's buffer,
 * allocated in strbuf_append, or for an empty string "" by the scanner
 * itself, libconfig_yylex: `a = { b = 1 ""; };`). Not ours to free, and
 * without this a sockd -t built with ASan exits 1 on such a file instead
 * of 78. libconfig has no frame pointers, so a leak's stack shows only the
 * function that allocated: these two names, nothing of ours. */
const char *
__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* No table of suppressions used on stderr: it would follow every such
 * error message, and tests read stderr. */
const char *
__lsan_default_options(void)
{
	return "print_suppressions=0";
}
