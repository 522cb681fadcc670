/*
 * test_config.c - sockd.conf parsing and validation: every accepted form and
 * every class of error, each with its exact message and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cidr.h"
#include "config.h"
#include "config_print.h"

#define SVC(body) "services = ( { " body " } );\n"
#define ECHO "name = \"echo\"; listen = \"127.0.0.1:7007\"; handler = \"echo\";"

static struct sockd_config *
load_ok(const char *text)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg = config_load_string(text, "test.conf", &errs);

	for (size_t i = 0; i < errs.count; i++)
		print_error("unexpected: %s\n", errs.msg[i]);
	assert_int_equal(errs.count, 0);
	assert_non_null(cfg);
	config_errors_free(&errs);
	return cfg;
}

/* Load TEXT, expect failure with exactly the messages given (NULL-ended). */
static void
expect_errors(const char *text, ...)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg = config_load_string(text, "test.conf", &errs);
	const char *want;
	size_t i = 0;
	va_list ap;

	assert_null(cfg);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (i >= errs.count)
			fail_msg("missing error: %s", want);
		assert_string_equal(errs.msg[i], want);
		i++;
	}
	va_end(ap);
	for (size_t j = i; j < errs.count; j++)
		print_error("extra: %s\n", errs.msg[j]);
	assert_int_equal(errs.count, i);
	config_errors_free(&errs);
}

static void
test_minimal_defaults(void **state)
{
	struct sockd_config *cfg = load_ok(SVC(ECHO));
	const struct config_service *s;

	(void)state;
	assert_int_equal(cfg->n_services, 1);
	assert_int_equal(cfg->log_level, LOG_INFO);
	assert_null(cfg->user);
	assert_null(cfg->group);
	s = &cfg->services[0];
	assert_string_equal(s->name, "echo");
	assert_int_equal(s->line, 1);
	assert_int_equal(s->handler, HANDLER_ECHO);
	assert_int_equal(s->framing, FRAMING_RAW);
	assert_int_equal(s->model, MODEL_PREFORK);
	assert_int_equal(s->workers, 4);
	assert_int_equal(s->threads, 1);
	assert_int_equal(s->backlog, 511);
	assert_int_equal(s->max_message, 65536);
	assert_int_equal(s->graceful_ms, 30000);
	assert_int_equal(s->idle_ms, 60000);
	assert_int_equal(s->heartbeat_ms, 30000);
	assert_int_equal(s->max_requests, 0);
	assert_int_equal(s->max_requests_jitter, 0);
	assert_null(s->reply);
	assert_int_equal(s->unix_mode, -1);
	assert_int_equal(s->unix_uid, -1);
	assert_int_equal(s->unix_gid, -1);
	assert_int_equal(s->n_listen, 1);
	assert_string_equal(s->listen[0].text, "127.0.0.1:7007");
	assert_int_equal(addr_port(&s->listen[0].addr), 7007);
	config_free(cfg);
}

static void
test_every_setting(void **state)
{
	struct sockd_config *cfg = load_ok(
	    "log_level = \"debug\";\n"
	    "user = \"root\";\n"
	    "group = \"root\";\n"
	    "services = (\n"
	    "  { name = \"a\";\n"
	    "    listen = [ \"127.0.0.1:7007\", \"[::1]:7007\", \"unix:/tmp/a.sock\", \"*:7008\" ];\n"
	    "    handler = \"echo\"; framing = \"raw\"; model = \"prefork\";\n"
	    "    workers = 16; threads = 1; backlog = 1024; },\n"
	    "  { name = \"b-2.x_y\"; listen = ( \"[::]:7009\" ); handler = \"echo\"; }\n"
	    ");\n");
	const struct config_service *a, *b;

	(void)state;
	assert_int_equal(cfg->log_level, LOG_DEBUG);
	assert_string_equal(cfg->user, "root");
	assert_string_equal(cfg->group, "root");
	assert_int_equal(cfg->n_services, 2);
	a = &cfg->services[0];
	b = &cfg->services[1];
	assert_int_equal(a->workers, 16);
	assert_int_equal(a->backlog, 1024);
	assert_int_equal(a->n_listen, 4);
	assert_int_equal(addr_family(&a->listen[0].addr), AF_INET);
	assert_int_equal(addr_family(&a->listen[1].addr), AF_INET6);
	assert_int_equal(addr_family(&a->listen[2].addr), AF_UNIX);
	assert_int_equal(addr_family(&a->listen[3].addr), AF_INET);
	assert_int_equal(a->listen[0].line, 6);
	assert_string_equal(b->name, "b-2.x_y");
	assert_int_equal(b->line, 9);
	assert_int_equal(b->n_listen, 1);
	assert_int_equal(addr_port(&b->listen[0].addr), 7009);
	config_free(cfg);
}

static void
test_log_levels(void **state)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct sockd_config *cfg;

		snprintf(text, sizeof(text), "log_level = \"%s\";\n" SVC(ECHO), levels[i].name);
		cfg = load_ok(text);
		assert_int_equal(cfg->log_level, levels[i].level);
		config_free(cfg);
	}
	expect_errors("log_level = \"loud\";\n" SVC(ECHO),
	    "test.conf:1: log_level: must be one of \"error\", \"warning\", \"notice\", \"info\", \"debug\" (got \"loud\")",
	    NULL);
}

static void
test_syntax_error(void **state)
{
	(void)state;
	expect_errors("log_level = \"info\";\nservices = ( {\n  name = ;\n} );\n",
	    "test.conf:3: syntax error", NULL);
	expect_errors("log_level = \"info\";\nworkers = = 4;\n", "test.conf:2: syntax error", NULL);
}

static void
test_wrong_types(void **state)
{
	(void)state;
	expect_errors("services = ( {\n"
	    "  name = \"echo\"; listen = \"127.0.0.1:7007\"; handler = \"echo\";\n"
	    "  workers = \"lots\";\n"
	    "  backlog = 1.5;\n"
	    "  threads = true;\n"
	    "} );\n",
	    "test.conf:3: services.[0].workers: must be an integer between 1 and 4096 (got \"lots\")",
	    "test.conf:4: services.[0].backlog: must be an integer between 1 and 65535 (got 1.5)",
	    "test.conf:5: services.[0].threads: must be an integer between 1 and 1024 (got true)",
	    NULL);
	expect_errors("user = 0;\ngroup = [ \"x\" ];\n" SVC(ECHO " name2 = 1;"),
	    "test.conf:1: user: must be a string (got 0)",
	    "test.conf:2: group: must be a string (got a list)",
	    "test.conf:3: services.[0].name2: unknown setting",
	    NULL);
	expect_errors(SVC("name = 7; listen = \"127.0.0.1:7007\"; handler = { x = 1; };"),
	    "test.conf:1: services.[0].name: must be a string (got 7)",
	    "test.conf:1: services.[0].handler: must be one of \"echo\", \"discard\", \"ack\", \"http\", \"status\", \"exec\", \"module\" (got a group)",
	    NULL);
}

static void
test_ranges(void **state)
{
	(void)state;
	expect_errors(SVC(ECHO " workers = 0;"),
	    "test.conf:1: services.[0].workers: must be an integer between 1 and 4096 (got 0)", NULL);
	expect_errors(SVC(ECHO " workers = 4097;"),
	    "test.conf:1: services.[0].workers: must be an integer between 1 and 4096 (got 4097)", NULL);
	expect_errors(SVC(ECHO " workers = 5000000000L;"),
	    "test.conf:1: services.[0].workers: must be an integer between 1 and 4096 (got 5000000000)", NULL);
	expect_errors(SVC(ECHO " backlog = 0;"),
	    "test.conf:1: services.[0].backlog: must be an integer between 1 and 65535 (got 0)", NULL);
	expect_errors(SVC(ECHO " backlog = 65536;"),
	    "test.conf:1: services.[0].backlog: must be an integer between 1 and 65535 (got 65536)", NULL);
	expect_errors(SVC(ECHO " model = \"event\"; threads = 2;"),
	    "test.conf:1: services.[0].threads: more than one thread per worker is only used with model = \"prefork\" (got 2)",
	    NULL);
	expect_errors(SVC(ECHO " threads = 0;"),
	    "test.conf:1: services.[0].threads: must be an integer between 1 and 1024 (got 0)", NULL);
}

static void
test_enums(void **state)
{
	(void)state;
	expect_errors(SVC(ECHO " framing = \"lines\";"),
	    "test.conf:1: services.[0].framing: must be one of \"raw\", \"line\", \"length16\", \"length32\" (got \"lines\")",
	    NULL);
	expect_errors(SVC(ECHO " model = \"events\";"),
	    "test.conf:1: services.[0].model: must be one of \"prefork\", \"event\", \"fork\", \"thread\", \"uring\" (got \"events\")",
	    NULL);
	expect_errors(SVC("name = \"h\"; listen = \"127.0.0.1:80\"; handler = \"ECHO\";"),
	    "test.conf:1: services.[0].handler: must be one of \"echo\", \"discard\", \"ack\", \"http\", \"status\", \"exec\", \"module\" (got \"ECHO\")",
	    NULL);
}

static void
test_unknown_and_reserved(void **state)
{
	(void)state;
	expect_errors("colour = \"blue\";\nstatus = { listen = \"127.0.0.1:9161\"; };\n"
	    "services = ( {\n" ECHO "\n worker = 4;\n} );\n",
	    "test.conf:1: colour: unknown setting",
	    "test.conf:2: status: unknown setting",
	    "test.conf:5: services.[0].worker: unknown setting",
	    NULL);
}

static void
test_control(void **state)
{
	struct sockd_config *cfg;
	char text[512];

	(void)state;
	cfg = load_ok(SVC(ECHO));
	assert_true(cfg->control);
	assert_null(cfg->control_path);
	assert_int_equal(cfg->control_gid, -1);
	config_free(cfg);
	cfg = load_ok("control = { enabled = false; path = \"/run/x/control\"; group = \"root\"; };\n"
	    SVC(ECHO));
	assert_false(cfg->control);
	assert_string_equal(cfg->control_path, "/run/x/control");
	assert_string_equal(cfg->control_group, "root");
	assert_int_equal(cfg->control_gid, 0);
	config_free(cfg);
	snprintf(text, sizeof(text), "control = {\n path = \"/%0120d\";\n};\n" SVC(ECHO), 0);
	expect_errors(text, "test.conf:2: control.path: longer than a Unix socket path can be "
	    "(107 bytes)", NULL);
	expect_errors("control = {\n enabled = 1;\n path = \"control\";\n group = \"no-such-group\";\n"
	    " colour = 1;\n};\n" SVC(ECHO),
	    "test.conf:2: control.enabled: must be true or false",
	    "test.conf:3: control.path: must be an absolute path",
	    "test.conf:4: control.group: no such group \"no-such-group\"",
	    "test.conf:5: control.colour: unknown setting",
	    NULL);
	expect_errors("control = 1;\n" SVC(ECHO), "test.conf:1: control: must be a group { ... } "
	    "(got 1)", NULL);
	/* The status handler: raw framing, no http group. */
	cfg = load_ok("services = ( { name = \"s\"; listen = \"127.0.0.1:9161\"; handler = \"status\"; } );");
	assert_int_equal(cfg->services[0].handler, HANDLER_STATUS);
	config_free(cfg);
	expect_errors("services = ( { name = \"s\"; listen = \"127.0.0.1:9161\"; handler = \"status\";\n"
	    " framing = \"line\";\n http = { status = 200; }; } );",
	    "test.conf:2: services.[0].framing: handler \"status\" needs framing = \"raw\" (got \"line\")",
	    "test.conf:3: services.[0].http: only used with handler = \"http\"",
	    NULL);
}

/* allow, deny, allow_uid, allow_gid, the PROXY protocol, per-client limits. */
static void
test_access(void **state)
{
	struct sockd_config *cfg;
	const struct config_service *v;

	(void)state;
	cfg = load_ok(SVC(ECHO " allow = [ \"192.0.2.0/24\", \"2001:db8::/32\" ]; deny = \"192.0.2.7\";"
	    " limits = { per_ip = 4; rate = 10; ipv6_prefix = 56; }; timeouts = { handshake = 5; };"));
	v = &cfg->services[0];
	assert_int_equal(v->n_allow, 2);
	assert_int_equal(v->n_deny, 1);
	assert_int_equal(v->deny[0].prefix, 32);
	assert_int_equal(v->per_ip, 4);
	assert_int_equal(v->rate, 10);
	assert_int_equal(v->rate_burst, 10);	/* the rate, by default */
	assert_int_equal(v->ipv6_prefix, 56);
	assert_int_equal(v->handshake_ms, 5000);
	assert_false(v->proxy_protocol);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO));
	assert_int_equal(cfg->services[0].handshake_ms, 30000);
	assert_int_equal(cfg->services[0].ipv6_prefix, 64);
	assert_int_equal(cfg->services[0].per_ip, 0);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " proxy_protocol = true; proxy_trusted = [ \"127.0.0.1\" ];"));
	assert_true(cfg->services[0].proxy_protocol);
	assert_int_equal(cfg->services[0].n_proxy_trusted, 1);
	config_free(cfg);
	cfg = load_ok("services = ( { name = \"u\"; listen = \"unix:/tmp/sockd-test-u.sock\";"
	    " handler = \"echo\"; allow_uid = ( 0, \"root\" ); allow_gid = [ \"root\" ]; } );");
	assert_int_equal(cfg->services[0].n_allow_uid, 2);
	assert_int_equal(cfg->services[0].allow_uid[1], 0);
	config_free(cfg);
	expect_errors("services = ( {\n" ECHO "\n allow = ( \"192.0.2.1/24\", 5, \"10.0.0.0/33\" );\n"
	    " deny = [ ];\n allow_uid = [ \"no-such-user\" ];\n proxy_protocol = 1;\n"
	    " proxy_trusted = \"127.0.0.1\";\n limits = { rate_burst = 3; };\n} );\n",
	    "test.conf:3: services.[0].allow.[0]: host bits set: the network is 192.0.2.0/24 (got \"192.0.2.1/24\")",
	    "test.conf:3: services.[0].allow.[1]: must be a network such as \"192.0.2.0/24\" (got 5)",
	    "test.conf:3: services.[0].allow.[2]: prefix length must be 0..32 for an IPv4 network (got \"10.0.0.0/33\")",
	    "test.conf:4: services.[0].deny: must name at least one network",
	    "test.conf:5: services.[0].allow_uid.[0]: no such user \"no-such-user\"",
	    "test.conf:6: services.[0].proxy_protocol: must be true or false",
	    "test.conf:7: services.[0].proxy_trusted: only used with proxy_protocol = true",
	    "test.conf:8: services.[0].limits.rate_burst: only used with limits.rate",
	    NULL);
	expect_errors(SVC(ECHO " allow_uid = [ 0 ];"),
	    "test.conf:1: services.[0].allow_uid: the service has no unix: listener", NULL);
	expect_errors(SVC(ECHO " proxy_protocol = true;"),
	    "test.conf:1: services.[0].proxy_protocol: needs proxy_trusted: the networks of the load "
	    "balancers that may send the header", NULL);
}

static void
test_required(void **state)
{
	(void)state;
	expect_errors("log_level = \"info\";\n",
	    "test.conf: missing required setting \"services\"", NULL);
	expect_errors("services = ();\n",
	    "test.conf:1: services: must be a non-empty list of groups: services = ( { ... } );", NULL);
	expect_errors("services = { name = \"x\"; };\n",
	    "test.conf:1: services: must be a non-empty list of groups: services = ( { ... } );", NULL);
	expect_errors("services = ( \"echo\" );\n",
	    "test.conf:1: services.[0]: must be a group { ... }", NULL);
	expect_errors("services = (\n {\n workers = 2;\n }\n);\n",
	    "test.conf:2: services.[0]: missing required setting \"name\"",
	    "test.conf:2: services.[0]: missing required setting \"handler\"",
	    NULL);
}

static void
test_service_names(void **state)
{
	(void)state;
	expect_errors(SVC("name = \"\"; listen = \"127.0.0.1:1\"; handler = \"echo\";"),
	    "test.conf:1: services.[0].name: must be 1 to 64 characters from A-Z a-z 0-9 - _ . (got \"\")",
	    NULL);
	expect_errors(SVC("name = \"a b\"; listen = \"127.0.0.1:1\"; handler = \"echo\";"),
	    "test.conf:1: services.[0].name: must be 1 to 64 characters from A-Z a-z 0-9 - _ . (got \"a b\")",
	    NULL);
	expect_errors(SVC("name = \"a:b\"; listen = \"127.0.0.1:1\"; handler = \"echo\";"),
	    "test.conf:1: services.[0].name: must be 1 to 64 characters from A-Z a-z 0-9 - _ . (got \"a:b\")",
	    NULL);
}

static void
test_listen_errors(void **state)
{
	(void)state;
	expect_errors("services = ( { name = \"e\"; handler = \"echo\";\n"
	    "  listen = [ \"127.0.0.1:7007\",\n"
	    "             \"localhost:7007\",\n"
	    "             \"[::1]:99999\" ]; } );\n",
	    "test.conf:3: services.[0].listen.[1]: not an IPv4 address (host names are not resolved) (got \"localhost:7007\")",
	    "test.conf:4: services.[0].listen.[2]: port must be a number from 0 to 65535 (got \"[::1]:99999\")",
	    NULL);
	expect_errors(SVC("name = \"e\"; handler = \"echo\"; listen = [];"),
	    "test.conf:1: services.[0].listen: must be an address or a non-empty list of addresses", NULL);
	expect_errors(SVC("name = \"e\"; handler = \"echo\"; listen = 7007;"),
	    "test.conf:1: services.[0].listen: must be an address or a non-empty list of addresses", NULL);
	expect_errors(SVC("name = \"e\"; handler = \"echo\"; listen = ( \"127.0.0.1:1\", 2 );"),
	    "test.conf:1: services.[0].listen.[1]: must be a string (got 2)", NULL);
}

/* An IPv4-mapped address would pass, then fail at bind (IPv6-only sockets)
 * and escape the collision check: refused, with the form to write instead. */
static void
test_listen_mapped(void **state)
{
	(void)state;
	expect_errors("services = ( { name = \"e\"; handler = \"echo\";\n"
	    "  listen = [ \"127.0.0.1:7007\",\n \"[::ffff:127.0.0.1]:7007\",\n"
	    " \"[::FFFF:0.0.0.0]:80\" ]; } );\n",
	    "test.conf:3: services.[0].listen.[1]: an IPv4-mapped IPv6 address cannot be bound by "
	    "sockd's IPv6-only sockets: write \"127.0.0.1:7007\" (got \"[::ffff:127.0.0.1]:7007\")",
	    "test.conf:4: services.[0].listen.[2]: an IPv4-mapped IPv6 address cannot be bound by "
	    "sockd's IPv6-only sockets: write \"0.0.0.0:80\" (got \"[::FFFF:0.0.0.0]:80\")",
	    NULL);
}

static void
test_duplicates(void **state)
{
	(void)state;
	expect_errors("services = (\n"
	    " { name = \"a\"; listen = \"127.0.0.1:7007\"; handler = \"echo\"; },\n"
	    " { name = \"a\"; listen = \"127.0.0.1:7008\"; handler = \"echo\"; }\n"
	    ");\n",
	    "test.conf:3: services.[1].name: duplicate service name \"a\" (first at line 2)", NULL);
	expect_errors("services = (\n"
	    " { name = \"a\"; listen = [ \"127.0.0.1:7007\", \"127.0.0.1:7007\" ]; handler = \"echo\"; },\n"
	    " { name = \"b\"; listen = \"*:7007\"; handler = \"echo\"; },\n"
	    " { name = \"c\"; listen = [ \"unix:/tmp/s\",\n \"unix:/tmp/s\" ]; handler = \"echo\"; }\n"
	    ");\n",
	    "test.conf:2: services.[0].listen.[1]: \"127.0.0.1:7007\" collides with \"127.0.0.1:7007\" of service \"a\" (line 2)",
	    "test.conf:3: services.[1].listen: \"*:7007\" collides with \"127.0.0.1:7007\" of service \"a\" (line 2)",
	    "test.conf:3: services.[1].listen: \"*:7007\" collides with \"127.0.0.1:7007\" of service \"a\" (line 2)",
	    "test.conf:5: services.[2].listen.[1]: \"unix:/tmp/s\" collides with \"unix:/tmp/s\" of service \"c\" (line 4)",
	    NULL);
	/* The same port on two families, and two ephemeral ports, are fine. */
	config_free(load_ok(SVC("name = \"a\"; handler = \"echo\"; "
	    "listen = [ \"127.0.0.1:7007\", \"[::1]:7007\", \"127.0.0.1:0\", \"127.0.0.1:0\" ];")));
}

static void
test_users(void **state)
{
	(void)state;
	expect_errors("user = \"no-such-user-sockd\";\ngroup = \"no-such-group-sockd\";\n" SVC(ECHO),
	    "test.conf:1: user: no such user \"no-such-user-sockd\"",
	    "test.conf:2: group: no such group \"no-such-group-sockd\"",
	    NULL);
}

static void
test_every_error_reported(void **state)
{
	(void)state;
	expect_errors("log_level = 3;\n"
	    "services = (\n"
	    " { name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"echo\"; workers = -1; },\n"
	    " { name = \"b\"; listen = \"nowhere\"; handler = \"echo\"; model = \"threads\"; }\n"
	    ");\n",
	    "test.conf:1: log_level: must be one of \"error\", \"warning\", \"notice\", \"info\", \"debug\" (got 3)",
	    "test.conf:3: services.[0].workers: must be an integer between 1 and 4096 (got -1)",
	    "test.conf:4: services.[1].listen: expected ADDRESS:PORT, [IPv6]:PORT, *:PORT or unix:/PATH (udp: or unixgram: before them for datagrams) (got \"nowhere\")",
	    "test.conf:4: services.[1].model: must be one of \"prefork\", \"event\", \"fork\", \"thread\", \"uring\" (got \"threads\")",
	    NULL);
}

static void
test_error_count_bounded(void **state)
{
	struct config_errors errs = { 0 };
	char text[4096] = "";
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "unknown%d = 1;\n", i);
	snprintf(text + n, sizeof(text) - n, SVC(ECHO));
	assert_null(config_load_string(text, "test.conf", &errs));
	assert_int_equal(errs.count, CONFIG_ERRORS_MAX);
	assert_int_equal(errs.dropped, 80 - CONFIG_ERRORS_MAX);
	assert_string_equal(errs.msg[0], "test.conf:1: unknown0: unknown setting");
	config_errors_free(&errs);
}

static char *
data_path(const char *name)
{
	const char *dir = getenv("SOCKD_SRCDIR");
	char *p;

	assert_non_null(dir);
	assert_true(asprintf(&p, "%s/tests/data/%s", dir, name) > 0);
	return p;
}

static void
test_files(void **state)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg;
	char *path, *want;

	(void)state;
	path = data_path("good.conf");
	cfg = config_load_file(path, &errs);
	assert_non_null(cfg);
	assert_int_equal(errs.count, 0);
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->n_services, 2);
	config_free(cfg);
	free(path);

	path = data_path("no-such-file.conf");
	assert_null(config_load_file(path, &errs));
	assert_int_equal(errs.count, 1);
	assert_true(asprintf(&want, "%s: cannot open: No such file or directory", path) > 0);
	assert_string_equal(errs.msg[0], want);
	config_errors_free(&errs);
	free(want);
	free(path);

	path = data_path("");
	assert_null(config_load_file(path, &errs));
	assert_int_equal(errs.count, 1);
	assert_true(asprintf(&want, "%s: cannot read: a directory, not a regular file", path) > 0);
	assert_string_equal(errs.msg[0], want);
	config_errors_free(&errs);
	free(want);
	free(path);
}

static void
test_include(void **state)
{
	struct config_errors errs = { 0 };
	struct sockd_config *cfg;
	char *path, *inc, *want;

	(void)state;
	path = data_path("include.conf");
	cfg = config_load_file(path, &errs);
	assert_non_null(cfg);
	assert_string_equal(cfg->services[0].name, "included");
	config_free(cfg);
	free(path);

	/* An error inside an included file names that file and its line. */
	path = data_path("include-bad.conf");
	inc = data_path("include-bad-services.conf");
	assert_null(config_load_file(path, &errs));
	assert_int_equal(errs.count, 1);
	assert_true(asprintf(&want, "%s:3: services.[0].workers: must be an integer between 1 and 4096 (got 0)", inc) > 0);
	assert_string_equal(errs.msg[0], want);
	config_errors_free(&errs);
	free(want);
	free(inc);
	free(path);

	/* So does a collision found there. */
	path = data_path("include-collide.conf");
	inc = data_path("include-collide-services.conf");
	assert_null(config_load_file(path, &errs));
	assert_int_equal(errs.count, 1);
	assert_true(asprintf(&want, "%s:3: services.[1].listen: \"127.0.0.1:7101\" collides with "
	    "\"127.0.0.1:7101\" of service \"one\" (line 2)", inc) > 0);
	assert_string_equal(errs.msg[0], want);
	config_errors_free(&errs);
	free(want);
	free(inc);
	free(path);
}

/* Errors before, inside and after an @include, each at its own FILE:LINE
 * (also the "(line N)" of a listen in the included file, which has no
 * newline at its end), in the order they stand. */
static void
test_include_lines(void **state)
{
	struct config_errors errs = { 0 };
	char *path = data_path("include-lines.conf"), *inc = data_path("include-lines-part.conf");
	char *want[4];

	(void)state;
	assert_null(config_load_file(path, &errs));
	assert_int_equal(errs.count, 4);
	assert_true(asprintf(&want[0], "%s:2: log_level: must be one of \"error\", \"warning\", "
	    "\"notice\", \"info\", \"debug\" (got \"loud\")", path) > 0);
	assert_true(asprintf(&want[1], "%s:3: services.[0].workers: must be an integer between 1 "
	    "and 4096 (got 0)", inc) > 0);
	assert_true(asprintf(&want[2], "%s:5: services.[1].listen: \"127.0.0.1:7101\" collides with "
	    "\"127.0.0.1:7101\" of service \"a\" (line 2)", path) > 0);
	assert_true(asprintf(&want[3], "%s:6: services.[1].workers: must be an integer between 1 "
	    "and 4096 (got 0)", path) > 0);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(errs.msg[i], want[i]);
		free(want[i]);
	}
	config_errors_free(&errs);
	free(inc);
	free(path);
}

/* A scratch directory for files the tests make. */
static char *
scratch_dir(void)
{
	char *dir = strdup("/tmp/sockd-test-config.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static char *
scratch_file(const char *dir, const char *name, const char *text, size_t len)
{
	char *path;
	FILE *fp;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	fp = fopen(path, "we");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static void
scratch_remove(char *dir, const char *const *names)
{
	char path[4096];

	for (; *names != NULL; names++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *names);
		unlink(path);
		rmdir(path);
	}
	assert_int_equal(rmdir(dir), 0);
	free(dir);
}

/* Load DIR/main.conf holding TEXT: expect its one error to be WANT, in
 * which '^' stands for DIR. */
static void
expect_file_error(const char *dir, const char *text, size_t len, const char *want)
{
	struct config_errors errs = { 0 };
	char *path = scratch_file(dir, "main.conf", text, len), expanded[4096];
	size_t n = 0;

	for (const char *p = want; *p != '\0' && n + strlen(dir) + 1 < sizeof(expanded); p++)
		if (*p == '^')
			n += (size_t)snprintf(expanded + n, sizeof(expanded) - n, "%s", dir);
		else
			expanded[n++] = *p;
	expanded[n] = '\0';
	assert_null(config_load_file(path, &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msg[0], expanded);
	config_errors_free(&errs);
	free(path);
}

#define GOOD_SVC SVC(ECHO)

/* What an @include may not name: each a clear error at the line of the
 * @include, and nothing that blocks or ends the process. */
static void
test_include_refused(void **state)
{
	static const char *const names[] = { "main.conf", "fifo", "sub", "a.conf", "b.conf",
		NULL };
	char *dir = scratch_dir(), path[4096];
	char *a, *b;

	(void)state;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	a = scratch_file(dir, "a.conf", "\n@include \"b.conf\"\n", 18);
	b = scratch_file(dir, "b.conf", "@include \"a.conf\"\n", 18);
#define FILE_ERROR(text, want) expect_file_error(dir, text, strlen(text), want)
	FILE_ERROR("@include \".\"\n" GOOD_SVC,
	    "^/main.conf:1: @include \".\": ^/.: cannot read: a directory, not a regular file");
	FILE_ERROR(GOOD_SVC "@include \"\"\n", "^/main.conf:2: @include \"\": no file name");
	FILE_ERROR("\n@include \"sub\"\n",
	    "^/main.conf:2: @include \"sub\": ^/sub: cannot read: a directory, not a regular file");
	FILE_ERROR("@include \"fifo\"\n",
	    "^/main.conf:1: @include \"fifo\": ^/fifo: cannot read: a FIFO, not a regular file");
	FILE_ERROR("@include \"/dev/zero\"\n",
	    "^/main.conf:1: @include \"/dev/zero\": /dev/zero: cannot read: a device, not a regular file");
	FILE_ERROR("@include \"main.conf\"\n",
	    "^/main.conf:1: @include \"main.conf\": ^/main.conf includes itself");
	FILE_ERROR("@include \"a.conf\"\n", "^/b.conf:1: @include \"a.conf\": ^/a.conf includes itself");
	FILE_ERROR("@include \"none.conf\"\n",
	    "^/main.conf:1: @include \"none.conf\": ^/none.conf: cannot open: No such file or directory");
	FILE_ERROR("@include \"a.conf\" x = 1;\n",
	    "^/main.conf:1: @include \"a.conf\": more on the line after it");
	FILE_ERROR("@include \"a.conf\n", "^/main.conf:1: @include: file name not closed on its line");
#undef FILE_ERROR
	free(a);
	free(b);
	scratch_remove(dir, names);
}

/* An absolute @include works (libconfig 1.5 alone would prepend the
 * directory); a relative one is relative to the main file's directory,
 * in an included file too; an @include in a string or comment is text. */
static void
test_include_paths(void **state)
{
	static const char *const names[] = { "main.conf", "sub/part.conf", "sub/svc.conf",
		"sub", NULL };
	struct config_errors errs = { 0 };
	struct sockd_config *cfg;
	char *dir = scratch_dir(), *sub, text[8192], *p1, *p2, *main_path;

	(void)state;
	assert_true(asprintf(&sub, "%s/sub", dir) > 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	p1 = scratch_file(dir, "sub/part.conf", "@include \"sub/svc.conf\"\n", 24);
	p2 = scratch_file(dir, "sub/svc.conf", GOOD_SVC, strlen(GOOD_SVC));
	snprintf(text, sizeof(text), "/* @include \"none.conf\"\n@include \"none.conf\" */\n"
	    "log_level = \"debug\n@include \\\"none.conf\\\"\n\";\n@include \"%s\"\n", p1);
	main_path = scratch_file(dir, "main.conf", text, strlen(text));
	cfg = config_load_file(main_path, &errs);
	for (size_t i = 0; i < errs.count; i++)
		print_error("unexpected: %s\n", errs.msg[i]);
	assert_int_equal(errs.count, 1);
	assert_null(cfg);
	/* The one error is the odd log level, not an include. */
	assert_non_null(strstr(errs.msg[0], "main.conf:3: log_level: must be one of"));
	config_errors_free(&errs);
	snprintf(text, sizeof(text), "@include \"%s\"\n", p1);
	free(scratch_file(dir, "main.conf", text, strlen(text)));
	cfg = config_load_file(main_path, &errs);
	assert_int_equal(errs.count, 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->services[0].name, "echo");
	config_free(cfg);
	free(main_path);
	free(p1);
	free(p2);
	free(sub);
	scratch_remove(dir, names);
}

static char *
repeated(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *t = malloc(hl + ul * times + tl + 1), *p = t;

	assert_non_null(t);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < times; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return t;
}

static void
expect_limit(char *text, const char *want)
{
	expect_errors(text, want, NULL);
	free(text);
}

/* The bounds that keep a parse linear, each a FILE:LINE error; what is
 * just inside them still loads. */
static void
test_file_limits(void **state)
{
	struct sockd_config *cfg;
	char *t;

	(void)state;
	expect_limit(repeated("x = \"", "a", 1024 * 1024 + 1, "\";\n" GOOD_SVC),
	    "test.conf:1: string longer than 1048576 bytes");
	expect_limit(repeated("\nx = \"\"", " \"aaaaaaaaaa\"", 110000, ";\n" GOOD_SVC),
	    "test.conf:2: string longer than 1048576 bytes");
	expect_limit(repeated("", "# comment\n", 220000, GOOD_SVC),
	    "test.conf:209716: the configuration is larger than 2097152 bytes, with all it includes");
	expect_limit(repeated("x = ", "[", 33, "];\n"), "test.conf:1: nested deeper than 32 levels");
	expect_limit(repeated(GOOD_SVC, "x = 1;\n", 1100, ""),
	    "test.conf:1025: more than 1024 settings in one group");
	expect_limit(repeated("x = (", "1,\n", 10000, "1);\n"),
	    "test.conf:9999: more than 10000 settings and values in the configuration");
	expect_limit(repeated(GOOD_SVC, "@include \"/dev/null\"\n", 70, ""),
	    "test.conf:2: @include \"/dev/null\": /dev/null: cannot read: a device, not a regular file");
	expect_limit(repeated(GOOD_SVC "x = \"abc", "", 0, ";\n"), "test.conf:2: string not closed");
	expect_limit(repeated(GOOD_SVC "/* abc", "", 0, ";\n"), "test.conf:2: comment /* not closed");
	/* The largest http.body there is (1 MiB) still fits. */
	t = repeated("services = ( { name = \"web\"; listen = \"127.0.0.1:7007\"; handler = \"http\";"
	    " http = { body = \"", "a", 1024 * 1024, "\"; }; } );\n");
	cfg = load_ok(t);
	assert_int_equal(cfg->services[0].http_body_len, 1024 * 1024);
	config_free(cfg);
	free(t);
}

/* A NUL byte: libconfig would read the text up to it only. */
static void
test_file_nul(void **state)
{
	static const char *const names[] = { "main.conf", NULL };
	char *dir = scratch_dir();
	const char text[] = GOOD_SVC "\n# a\0b\n";

	(void)state;
	expect_file_error(dir, text, sizeof(text) - 1, "^/main.conf:3: a NUL byte: not a text file");
	scratch_remove(dir, names);
}

static void
test_describe(void **state)
{
	struct sockd_config *cfg = load_ok(SVC("name = \"e\"; handler = \"echo\"; workers = 1;"
	    "listen = [ \"127.0.0.1:7\", \"unix:/tmp/e\" ];"));
	char buf[512];

	(void)state;
	config_describe_service(&cfg->services[0], buf, sizeof(buf));
	assert_string_equal(buf, "e: handler echo, framing raw, model prefork, 1 worker x 1 thread, "
	    "backlog 511, listen 127.0.0.1:7 unix:/tmp/e");
	config_free(cfg);
}


static void
test_handlers_and_framings(void **state)
{
	static const char *const framings[] = { "raw", "line", "length16", "length32" };
	struct sockd_config *cfg;
	char text[512];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), SVC("name = \"a\"; listen = \"127.0.0.1:1\"; "
		    "handler = \"discard\"; framing = \"%s\";"), framings[i]);
		cfg = load_ok(text);
		assert_int_equal(cfg->services[0].handler, HANDLER_DISCARD);
		assert_int_equal(cfg->services[0].framing, (int)i);
		config_free(cfg);
	}
	cfg = load_ok(SVC("name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"ack\";"));
	assert_string_equal(cfg->services[0].reply, "OK");
	config_free(cfg);
	cfg = load_ok(SVC("name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"ack\"; reply = \"+PONG\";"));
	assert_string_equal(cfg->services[0].reply, "+PONG");
	config_free(cfg);
	expect_errors(SVC(ECHO " reply = \"x\";"),
	    "test.conf:1: services.[0].reply: only used by handler \"ack\"", NULL);
	expect_errors(SVC("name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"ack\"; reply = 1;"),
	    "test.conf:1: services.[0].reply: must be a string (got 1)", NULL);
}

static void
test_limits_and_timeouts(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC(ECHO " limits = { max_message = 1; }; timeouts = { graceful = 2.5; };"));
	assert_int_equal(cfg->services[0].max_message, 1);
	assert_int_equal(cfg->services[0].graceful_ms, 2500);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " timeouts = { graceful = 0; };"));
	assert_int_equal(cfg->services[0].graceful_ms, 0);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " timeouts = { idle = 0.5; heartbeat = 0; }; max_requests = 100;"
	    " max_requests_jitter = 10;"));
	assert_int_equal(cfg->services[0].idle_ms, 500);
	assert_int_equal(cfg->services[0].heartbeat_ms, 0);
	assert_int_equal(cfg->services[0].max_requests, 100);
	assert_int_equal(cfg->services[0].max_requests_jitter, 10);
	config_free(cfg);
	expect_errors("services = ( {\n" ECHO "\n"
	    " limits = { max_message = 0; max_connections = -1; per_ip = 0; mtu = 1; max_output = 10; };\n"
	    " timeouts = { graceful = -1; exec = -5; idle = 90000; };\n"
	    " max_requests_jitter = 5; max_requests = -1;\n"
	    "} );\n",
	    "test.conf:3: services.[0].limits.mtu: unknown setting",
	    "test.conf:3: services.[0].limits.max_message: must be an integer between 1 and 16777216 (got 0)",
	    "test.conf:3: services.[0].limits.max_connections: must be an integer between 0 and 1048576 (got -1)",
	    "test.conf:3: services.[0].limits.max_output: must be an integer between 1024 and 268435456 (got 10)",
	    "test.conf:3: services.[0].limits.per_ip: must be an integer between 1 and 1048576 (got 0)",
	    "test.conf:4: services.[0].timeouts.graceful: must be a number of seconds from 0 to 3600 (got -1)",
	    "test.conf:4: services.[0].timeouts.idle: must be a number of seconds from 0 to 86400 (got 90000)",
	    "test.conf:4: services.[0].timeouts.exec: must be a number of seconds from 0 to 86400 (got -5)",
	    "test.conf:5: services.[0].max_requests: must be an integer between 0 and 2147483647 (got -1)",
	    "test.conf:5: services.[0].max_requests_jitter: needs max_requests",
	    NULL);
	expect_errors(SVC(ECHO " limits = 5;"),
	    "test.conf:1: services.[0].limits: must be a group { ... } (got 5)", NULL);
	expect_errors(SVC(ECHO " timeouts = { graceful = \"soon\"; };"),
	    "test.conf:1: services.[0].timeouts.graceful: must be a number of seconds from 0 to 3600 (got \"soon\")",
	    NULL);
}

static void
test_unix_options(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC("name = \"u\"; handler = \"echo\"; listen = \"unix:/tmp/u.sock\";"
	    " unix = { mode = \"0660\"; owner = \"root\"; group = \"root\"; };"));
	assert_int_equal(cfg->services[0].unix_mode, 0660);
	assert_int_equal(cfg->services[0].unix_uid, 0);
	assert_int_equal(cfg->services[0].unix_gid, 0);
	config_free(cfg);
	expect_errors(SVC("name = \"u\"; handler = \"echo\"; listen = \"unix:/tmp/u.sock\";"
	    " unix = { mode = \"0778\"; owner = \"no-such-user-sockd\"; colour = 1; };"),
	    "test.conf:1: services.[0].unix.colour: unknown setting",
	    "test.conf:1: services.[0].unix.mode: must be an octal mode from \"0000\" to \"0777\" (got \"0778\")",
	    "test.conf:1: services.[0].unix.owner: no such user \"no-such-user-sockd\"",
	    NULL);
	expect_errors(SVC(ECHO " unix = { mode = \"0600\"; };"),
	    "test.conf:1: services.[0].unix: the service has no unix: listener", NULL);
}

static void
test_fork_model(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC(ECHO " model = \"fork\";"));
	assert_int_equal(cfg->services[0].model, MODEL_FORK);
	assert_int_equal(cfg->services[0].max_children, 256);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " model = \"fork\"; max_children = 3;"));
	assert_int_equal(cfg->services[0].max_children, 3);
	config_free(cfg);
	expect_errors(SVC(ECHO " max_children = 3;"),
	    "test.conf:1: services.[0].max_children: only used with model = \"fork\" or handler = \"exec\"", NULL);
	expect_errors(SVC(ECHO " model = \"fork\"; max_children = 0;"),
	    "test.conf:1: services.[0].max_children: must be an integer between 1 and 65535 (got 0)", NULL);
}

static void
test_pool_modes(void **state)
{
	struct sockd_config *cfg;
	char buf[512];

	(void)state;
	cfg = load_ok(SVC(ECHO " pool = { mode = \"static\"; };"));
	assert_int_equal(cfg->services[0].pool_mode, POOL_MODE_STATIC);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " workers = 2; pool = { mode = \"dynamic\"; };"));
	assert_int_equal(cfg->services[0].pool_mode, POOL_MODE_DYNAMIC);
	assert_int_equal(cfg->services[0].min_spare, 1);
	assert_int_equal(cfg->services[0].max_spare, 4);
	assert_int_equal(cfg->services[0].max_workers, 256);
	config_describe_service(&cfg->services[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, "2 workers (dynamic: 1-4 idle, at most 256) x 1 thread"));
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " pool = { mode = \"dynamic\"; min_spare = 6; max_workers = 20; };"));
	assert_int_equal(cfg->services[0].max_spare, 6);	/* follows min_spare */
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " workers = 3; pool = { mode = \"ondemand\"; };"));
	assert_int_equal(cfg->services[0].pool_mode, POOL_MODE_ONDEMAND);
	assert_int_equal(cfg->services[0].max_workers, 3);	/* follows workers */
	assert_int_equal(cfg->services[0].pool_idle_ms, 10000);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " pool = { mode = \"ondemand\"; max_workers = 7; idle_timeout = 0.5; };"));
	assert_int_equal(cfg->services[0].max_workers, 7);
	assert_int_equal(cfg->services[0].pool_idle_ms, 500);
	config_free(cfg);
	expect_errors(SVC(ECHO " pool = { mode = \"ondemand\"; idle_timeout = 0; min_spare = 1; };"),
	    "test.conf:1: services.[0].pool.idle_timeout: must be more than 0 seconds",
	    "test.conf:1: services.[0].pool.min_spare: only used with mode = \"dynamic\"", NULL);
	expect_errors(SVC(ECHO " pool = { mode = \"dynamic\"; idle_timeout = 3; };"),
	    "test.conf:1: services.[0].pool.idle_timeout: only used with mode = \"ondemand\"", NULL);
	/* The same message under every mode that does not use a setting. */
	expect_errors("services = ( { " ECHO "\n pool = { min_spare = 2;\n idle_timeout = 1;\n"
	    " max_workers = 9; }; } );\n",
	    "test.conf:2: services.[0].pool.min_spare: only used with mode = \"dynamic\"",
	    "test.conf:3: services.[0].pool.idle_timeout: only used with mode = \"ondemand\"",
	    "test.conf:4: services.[0].pool.max_workers: only used with mode = \"dynamic\" or \"ondemand\"",
	    NULL);
	expect_errors(SVC(ECHO " pool = { mode = \"ondemand\"; max_spare = 2; };"),
	    "test.conf:1: services.[0].pool.max_spare: only used with mode = \"dynamic\"", NULL);
	expect_errors(SVC(ECHO " workers = 8; pool = { mode = \"dynamic\"; min_spare = 3; max_spare = 2; max_workers = 4; };"),
	    "test.conf:1: services.[0].pool: max_spare (2) must be at least min_spare (3)",
	    "test.conf:1: services.[0].pool: max_workers (4) must be at least workers (8) and min_spare (3)",
	    NULL);
}

static void
test_models(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC(ECHO " threads = 8;"));
	assert_int_equal(cfg->services[0].threads, 8);
	assert_int_equal(cfg->services[0].max_connections, 0);
	assert_int_equal(cfg->services[0].max_output, 1024 * 1024);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " model = \"event\"; limits = { max_connections = 100; max_output = 4096; };"));
	assert_int_equal(cfg->services[0].model, MODEL_EVENT);
	assert_int_equal(cfg->services[0].max_connections, 100);
	assert_int_equal(cfg->services[0].max_output, 4096);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " model = \"thread\";"));
	assert_int_equal(cfg->services[0].model, MODEL_THREAD);
	assert_int_equal(cfg->services[0].max_threads, 256);
	config_free(cfg);
	cfg = load_ok(SVC(ECHO " model = \"thread\"; max_threads = 9;"));
	assert_int_equal(cfg->services[0].max_threads, 9);
	config_free(cfg);
	expect_errors(SVC(ECHO " max_threads = 9;"),
	    "test.conf:1: services.[0].max_threads: only used with model = \"thread\"", NULL);
	expect_errors(SVC(ECHO " model = \"fork\"; threads = 2;"),
	    "test.conf:1: services.[0].threads: more than one thread per worker is only used with model = \"prefork\" (got 2)",
	    NULL);
	expect_errors(SVC(ECHO " model = \"thread\"; max_threads = 0;"),
	    "test.conf:1: services.[0].max_threads: must be an integer between 1 and 65535 (got 0)", NULL);
}

#define HTTP "name = \"h\"; listen = \"127.0.0.1:80\"; handler = \"http\";"

static void
test_http_settings(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC(HTTP));
	assert_int_equal(cfg->services[0].http_status, 200);
	assert_string_equal(cfg->services[0].http_body, "Hello world!\n");
	assert_int_equal(cfg->services[0].http_body_len, 13);
	assert_string_equal(cfg->services[0].http_content_type, "text/plain; charset=utf-8");
	assert_null(cfg->services[0].http_root);
	assert_int_equal(cfg->services[0].max_header_bytes, 8192);
	config_free(cfg);
	cfg = load_ok(SVC(HTTP " http = { status = 404; body = \"no\"; content_type = \"text/html\";"
	    " access_log = \"/var/log/sockd/h.log\"; }; limits = { max_header_bytes = 1024; };"));
	assert_int_equal(cfg->services[0].http_status, 404);
	assert_string_equal(cfg->services[0].http_body, "no");
	assert_string_equal(cfg->services[0].http_access_log, "/var/log/sockd/h.log");
	assert_int_equal(cfg->services[0].max_header_bytes, 1024);
	config_free(cfg);
	cfg = load_ok(SVC(HTTP " http = { root = \"/\"; };"));
	assert_string_equal(cfg->services[0].http_root, "/");
	assert_string_equal(cfg->services[0].http_index, "index.html");
	assert_null(cfg->services[0].http_body);
	config_free(cfg);
	expect_errors(SVC(HTTP " http = { root = \"/nonexistent\"; };"),
	    "test.conf:1: services.[0].http.root: not a directory: \"/nonexistent\" (No such file or directory)",
	    NULL);
	expect_errors(SVC(HTTP " http = { root = \"/etc/passwd\"; };"),
	    "test.conf:1: services.[0].http.root: not a directory: \"/etc/passwd\"", NULL);
	expect_errors(SVC(HTTP " http = { root = \"/\"; body = \"x\"; index = \"../x\"; };"),
	    "test.conf:1: services.[0].http.index: must be a file name, without '/' or a leading '.' (got \"../x\")",
	    "test.conf:1: services.[0].http.body: a fixed response and root exclude each other", NULL);
	expect_errors(SVC(HTTP " http = { root = \"/\"; index = 5; };"),
	    "test.conf:1: services.[0].http.index: must be a string (got 5)", NULL);
	expect_errors(SVC(HTTP " http = { root = \"srv\"; status = 99; };"),
	    "test.conf:1: services.[0].http.root: must be an absolute path (got \"srv\")",
	    "test.conf:1: services.[0].http.status: a fixed response and root exclude each other", NULL);
	expect_errors(SVC(HTTP " http = { status = 99; index = \"a\"; port = 1; };"),
	    "test.conf:1: services.[0].http.port: unknown setting",
	    "test.conf:1: services.[0].http.status: must be an integer between 200 and 599 (got 99)",
	    "test.conf:1: services.[0].http.index: only used with root", NULL);
	expect_errors(SVC(ECHO " http = { };"),
	    "test.conf:1: services.[0].http: only used with handler = \"http\"", NULL);
}

/* A bad root hides nothing else of its group: every error, in file order. */
static void
test_http_root_errors(void **state)
{
	(void)state;
	expect_errors("services = ( { " HTTP "\n http = {\n root = \"/nonexistent\";\n"
	    " index = \"../x\";\n body = \"x\"; }; } );\n",
	    "test.conf:3: services.[0].http.root: not a directory: \"/nonexistent\" (No such file or directory)",
	    "test.conf:4: services.[0].http.index: must be a file name, without '/' or a leading '.' (got \"../x\")",
	    "test.conf:5: services.[0].http.body: a fixed response and root exclude each other", NULL);
	expect_errors(SVC(HTTP " http = { root = 5; index = \".x\"; status = 200; };"),
	    "test.conf:1: services.[0].http.root: must be a string (got 5)",
	    "test.conf:1: services.[0].http.index: must be a file name, without '/' or a leading '.' (got \".x\")",
	    "test.conf:1: services.[0].http.status: a fixed response and root exclude each other", NULL);
}

/* Strings that go onto the wire cannot change the protocol's framing:
 * no header split by CR/LF (issue 10, item 12), no line reply that is two. */
static void
test_wire_strings(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	expect_errors(SVC(HTTP " http = { content_type = \"text/plain\\r\\nSet-Cookie: x=1\"; };"),
	    "test.conf:1: services.[0].http.content_type: an HTTP header value must not contain "
	    "control characters such as CR or LF (got \"text/plain\\r\\nSet-Cookie: x=1\")", NULL);
	expect_errors(SVC(HTTP " http = { content_type = \"text/plain\\n\"; };"),
	    "test.conf:1: services.[0].http.content_type: an HTTP header value must not contain "
	    "control characters such as CR or LF (got \"text/plain\\n\")", NULL);
	expect_errors(SVC(HTTP " http = { content_type = \"a\\x01b\"; };"),
	    "test.conf:1: services.[0].http.content_type: an HTTP header value must not contain "
	    "control characters such as CR or LF (got \"a\\x01b\")", NULL);
	expect_errors(SVC(HTTP " http = { content_type = \"\"; };"),
	    "test.conf:1: services.[0].http.content_type: must not be empty", NULL);
	cfg = load_ok(SVC(HTTP " http = { content_type = \"text/plain;\\tcharset=\\xc3\\xa9\"; };"));
	assert_string_equal(cfg->services[0].http_content_type, "text/plain;\tcharset=\xc3\xa9");
	config_free(cfg);

	expect_errors(SVC("name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"ack\"; framing = \"line\";"
	    " reply = \"ok\\nMORE\";"),
	    "test.conf:1: services.[0].reply: must not contain a newline with framing = \"line\": "
	    "the client would read it as more than one message (got \"ok\\nMORE\")", NULL);
	/* A CR is data to line framing (a CRLF protocol wants it); raw takes anything. */
	cfg = load_ok(SVC("name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"ack\"; framing = \"line\";"
	    " reply = \"ok\\r\";"));
	config_free(cfg);
	cfg = load_ok(SVC("name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"ack\"; reply = \"ok\\nMORE\";"));
	config_free(cfg);
}

/* A CR, LF or escape sequence in the file does not split or colour an
 * error line: values are quoted as libconfig would read them back. */
static void
test_messages_escaped(void **state)
{
	(void)state;
	expect_errors(SVC("name = \"a\\nb\"; listen = \"127.0.0.1:1\\r\"; handler = \"echo\";"),
	    "test.conf:1: services.[0].name: must be 1 to 64 characters from A-Z a-z 0-9 - _ . (got \"a\\nb\")",
	    "test.conf:1: services.[0].listen: port must be a number from 0 to 65535 (got \"127.0.0.1:1\\r\")",
	    NULL);
	expect_errors("user = \"\\x1b[31mx\";\n" SVC(ECHO),
	    "test.conf:1: user: no such user \"\\x1b[31mx\"", NULL);
}

/* HTTP finds request boundaries itself: only framing raw makes sense. */
static void
test_http_needs_raw_framing(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC(HTTP " framing = \"raw\";"));
	config_free(cfg);
	expect_errors(SVC(HTTP " framing = \"line\";"),
	    "test.conf:1: services.[0].framing: handler \"http\" needs framing = \"raw\" (got \"line\")",
	    NULL);
	expect_errors(SVC(HTTP " framing = \"length32\";"),
	    "test.conf:1: services.[0].framing: handler \"http\" needs framing = \"raw\" (got \"length32\")",
	    NULL);
}

#define EXEC "name = \"x\"; listen = \"127.0.0.1:80\"; handler = \"exec\";"

static void
test_exec_settings(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC(EXEC " exec = { argv = [ \"/bin/cat\", \"-u\" ]; env = { TZ = \"UTC\"; };"
	    " }; timeouts = { exec = 2.5; }; max_children = 7;"));
	assert_string_equal(cfg->services[0].exec_argv[0], "/bin/cat");
	assert_string_equal(cfg->services[0].exec_argv[1], "-u");
	assert_null(cfg->services[0].exec_argv[2]);
	assert_string_equal(cfg->services[0].exec_env[0], "TZ=UTC");
	assert_null(cfg->services[0].exec_env[1]);
	assert_int_equal(cfg->services[0].exec_timeout_ms, 2500);
	assert_int_equal(cfg->services[0].max_children, 7);
	config_free(cfg);
	expect_errors(SVC(EXEC), "test.conf:1: services.[0]: missing required setting \"exec\"", NULL);
	expect_errors(SVC(EXEC " exec = { env = { }; };"),
	    "test.conf:1: services.[0].exec: missing required setting \"argv\"", NULL);
	expect_errors(SVC(EXEC " exec = { argv = [ \"cat\" ]; };"),
	    "test.conf:1: services.[0].exec.argv.[0]: the program must be an absolute path (got \"cat\")",
	    NULL);
	expect_errors(SVC(EXEC " exec = { argv = [ \"/nonexistent\" ]; };"),
	    "test.conf:1: services.[0].exec.argv.[0]: not an executable file: \"/nonexistent\" (No such file or directory)",
	    NULL);
	expect_errors(SVC(EXEC " exec = { argv = ( \"/bin/cat\", 1, \"-u\" ); };"),
	    "test.conf:1: services.[0].exec.argv.[1]: must be a string (got 1)", NULL);
	expect_errors(SVC(EXEC " exec = { argv = [ ]; };"),
	    "test.conf:1: services.[0].exec.argv: must be a non-empty list of strings (got a list)", NULL);
	expect_errors(SVC(EXEC " exec = { argv = [ \"/bin/cat\" ]; env = { A = 1; }; };"),
	    "test.conf:1: services.[0].exec.env.A: must be a string (got 1)", NULL);
}

/* What execve() would refuse, sockd -t refuses: a directory is "executable"
 * to access(2), and a file without x bits is not even for root. */
static void
test_exec_program(void **state)
{
	char path[] = "/tmp/sockd-test-exec-XXXXXX", text[512], want[512];
	int fd;

	(void)state;
	expect_errors(SVC(EXEC " exec = { argv = [ \"/\" ]; };"),
	    "test.conf:1: services.[0].exec.argv.[0]: not an executable file: \"/\" (not a regular file)",
	    NULL);
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(text, sizeof(text), SVC(EXEC " exec = { argv = [ \"%s\" ]; };"), path);
	snprintf(want, sizeof(want), "test.conf:1: services.[0].exec.argv.[0]: not an executable "
	    "file: \"%s\" (Permission denied)", path);
	expect_errors(text, want, NULL);
	assert_int_equal(chmod(path, 0755), 0);
	config_free(load_ok(text));
	unlink(path);
}

static void
test_module_settings(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok(SVC("name = \"m\"; listen = \"127.0.0.1:80\"; handler = \"module\";"
	    " module = { path = \"/usr/lib/x.so\"; config = { greeting = \"hi\"; times = 3; }; };"));
	assert_string_equal(cfg->services[0].module_path, "/usr/lib/x.so");
	assert_string_equal(cfg->services[0].module_keys[0], "greeting");
	assert_string_equal(cfg->services[0].module_values[0], "hi");
	assert_string_equal(cfg->services[0].module_keys[1], "times");
	assert_string_equal(cfg->services[0].module_values[1], "3");
	assert_null(cfg->services[0].module_keys[2]);
	config_free(cfg);
	expect_errors(SVC("name = \"m\"; listen = \"127.0.0.1:80\"; handler = \"module\";"
	    " module = { path = \"x.so\"; config = { g = { }; }; };"),
	    "test.conf:1: services.[0].module.path: must be an absolute path (got \"x.so\")",
	    "test.conf:1: services.[0].module.config.g: must be a string, number or boolean", NULL);
}

static void
test_listen_count(void **state)
{
	char text[8192] = "services = ( { name = \"a\"; handler = \"echo\"; listen = [ ";
	size_t n = strlen(text);

	(void)state;
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"127.0.0.1:%d\"", i ? ", " : "", 1000 + i);
	snprintf(text + n, sizeof(text) - n, " ]; } );\n");
	expect_errors(text, "test.conf:1: services.[0].listen: at most 64 addresses per service (got 65)", NULL);
}

/* Where module.path stands, for the module loader's errors (handler_module.c). */
static void
test_module_where(void **state)
{
	struct sockd_config *cfg;

	(void)state;
	cfg = load_ok("services = ( { " ECHO " },\n"
	    "  { name = \"m\"; listen = \"127.0.0.1:81\"; handler = \"module\";\n"
	    "    module = {\n      path = \"/usr/lib/x.so\"; }; } );\n");
	assert_null(cfg->services[0].module_where);
	assert_string_equal(cfg->services[1].module_where, "test.conf:4: services.[1].module.path");
	assert_null(cfg->services[1].module_dl);	/* loading is the handler's job */
	config_free(cfg);
}

/* CFG printed (config_print()) as an allocated string. */
static char *
print_config(const struct sockd_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	assert_int_equal(config_print(fp, cfg), 0);
	assert_int_equal(fclose(fp), 0);
	return text;
}

/* TEXT loads; printed, it loads again; printed again, the same text. */
static char *
print_fixed_point(const char *text)
{
	struct sockd_config *cfg = load_ok(text);
	char *once = print_config(cfg), *twice;

	config_free(cfg);
	cfg = load_ok(once);
	twice = print_config(cfg);
	config_free(cfg);
	assert_string_equal(once, twice);
	free(twice);
	return once;
}

static void
test_print_defaults(void **state)
{
	struct sockd_config *cfg;
	char *text;

	(void)state;
	text = print_fixed_point(SVC(ECHO));
	/* Every default is written out... */
	assert_non_null(strstr(text, "log_level = \"info\";\n"));
	assert_non_null(strstr(text, "    listen = [ \"127.0.0.1:7007\" ];\n"));
	assert_non_null(strstr(text, "    workers = 4;\n    threads = 1;\n    backlog = 511;\n"));
	assert_non_null(strstr(text, "      max_message = 65536;\n"));
	assert_non_null(strstr(text, "      graceful = 30;\n      idle = 60;\n      heartbeat = 30;\n"));
	assert_non_null(strstr(text, "    pool = {\n      mode = \"static\";\n    };\n"));
	/* ...but no setting that another model or handler would need. */
	assert_null(strstr(text, "max_children"));
	assert_null(strstr(text, "max_threads"));
	assert_null(strstr(text, "reply"));
	cfg = load_ok(text);
	assert_int_equal(cfg->services[0].heartbeat_ms, 30000);
	config_free(cfg);
	free(text);
}

/* Every group and kind of value survives the round trip. */
static void
test_print_everything(void **state)
{
	struct sockd_config *cfg;
	char *text;

	(void)state;
	text = print_fixed_point("log_level = \"debug\"; user = \"root\"; group = \"root\";\n"
	    "services = (\n"
	    " { name = \"a\"; listen = \"127.0.0.1:1\"; handler = \"ack\"; framing = \"line\";"
	    "   reply = \"q\\\"\\\\\\xc3\\xa9\\t\\r\"; model = \"thread\"; max_threads = 3;"
	    "   max_requests = 10; max_requests_jitter = 2;"
	    "   timeouts = { graceful = 2.5; idle = 0.0005; heartbeat = 0; exec = 1.25; }; },\n"
	    " { name = \"h\"; listen = [ \"[::1]:2\", \"unix:/tmp/h\\\"\\n.sock\" ]; handler = \"http\";"
	    "   model = \"event\"; limits = { max_connections = 5; max_output = 4096; };"
	    "   http = { status = 404; content_type = \"text/plain;\\tq=\\\"\\xc3\\xa9\\\"\";"
	    "     body = \"1\\n2\\x01\\\\\"; access_log = \"/var/log/h.log\"; };"
	    "   unix = { mode = \"0640\"; owner = \"root\"; group = \"root\"; };"
	    "   pool = { mode = \"dynamic\"; min_spare = 2; max_workers = 30; }; },\n"
	    " { name = \"r\"; listen = \"127.0.0.1:3\"; handler = \"http\"; http = { root = \"/\"; };"
	    "   pool = { mode = \"ondemand\"; idle_timeout = 0.5; }; },\n"
	    " { name = \"x\"; listen = \"127.0.0.1:4\"; handler = \"exec\";"
	    "   exec = { argv = [ \"/bin/sh\", \"-c\", \"echo \\\"$1\\\"\" ]; env = { TZ = \"UTC\"; Q = \"x=y\"; }; }; },\n"
	    " { name = \"f\"; listen = \"unix:/tmp/f\"; handler = \"echo\"; model = \"fork\"; max_children = 9; },\n"
	    " { name = \"m\"; listen = \"127.0.0.1:5\"; handler = \"module\"; module = { path = \"/x.so\";"
	    "   config = { greeting = \"h\\xc3\\xa9 \\\"you\\\"\"; times = 3; big = 5000000000L;"
	    "   f = 1.5; b = true; }; }; }\n"
	    ");\n");
	/* Plain ASCII out: non-ASCII and control bytes as escapes. */
	for (const char *p = text; *p != '\0'; p++)
		assert_true((*p >= 0x20 && *p < 0x7f) || *p == '\n');
	assert_non_null(strstr(text, "    reply = \"q\\\"\\\\\\xc3\\xa9\\t\\r\";\n"));
	assert_non_null(strstr(text, "      idle = 0.001;\n"));	/* 0.0005 s rounds to 1 ms */
	assert_non_null(strstr(text, "        times = \"3\";\n"));	/* as the module sees it */
	cfg = load_ok(text);
	assert_string_equal(cfg->services[0].reply, "q\"\\\xc3\xa9\t\r");
	assert_int_equal(cfg->services[0].graceful_ms, 2500);
	assert_int_equal(cfg->services[0].max_requests_jitter, 2);
	assert_string_equal(cfg->services[1].listen[1].text, "unix:/tmp/h\"\n.sock");
	assert_string_equal(cfg->services[1].http_body, "1\n2\x01\\");
	assert_string_equal(cfg->services[1].http_content_type, "text/plain;\tq=\"\xc3\xa9\"");
	assert_int_equal(cfg->services[1].unix_mode, 0640);
	assert_int_equal(cfg->services[1].unix_uid, 0);
	assert_int_equal(cfg->services[1].max_spare, 4);
	assert_int_equal(cfg->services[2].pool_idle_ms, 500);
	assert_string_equal(cfg->services[3].exec_argv[2], "echo \"$1\"");
	assert_string_equal(cfg->services[3].exec_env[1], "Q=x=y");
	assert_int_equal(cfg->services[4].max_children, 9);
	assert_string_equal(cfg->services[5].module_keys[0], "greeting");
	assert_string_equal(cfg->services[5].module_values[0], "h\xc3\xa9 \"you\"");
	assert_string_equal(cfg->services[5].module_values[2], "5000000000");
	assert_string_equal(cfg->services[5].module_values[4], "true");
	config_free(cfg);
	free(text);
}

static void
test_print_quote(void **state)
{
	char buf[16];

	(void)state;
	config_print_quote(buf, sizeof(buf), "a\"b\\c");
	assert_string_equal(buf, "\"a\\\"b\\\\c\"");
	config_print_quote(buf, sizeof(buf), "\r\n\x7f\xff");
	assert_string_equal(buf, "\"\\r\\n\\x7f\\xff\"");
	/* Too long: cut between escapes, never inside one. */
	config_print_quote(buf, sizeof(buf), "0123456789abcdef");
	assert_string_equal(buf, "\"0123456789...\"");
	config_print_quote(buf, sizeof(buf), "012345678\n\n\n");
	assert_string_equal(buf, "\"012345678...\"");
	config_print_quote(buf, sizeof(buf), "0123456789\n");
	assert_string_equal(buf, "\"0123456789\\n\"");	/* just fits */
}

/* Datagram services: all addresses one kind, no framing, no stream-only
 * handler or setting, no credentials rules. */
static void
test_datagram_services(void **state)
{
	struct sockd_config *cfg;
	char buf[512];

	(void)state;
	cfg = load_ok("services = ( { name = \"u\"; handler = \"echo\";\n"
	    "  listen = [ \"udp:127.0.0.1:7\", \"udp:[::1]:7\", \"unixgram:/run/u\" ]; },\n"
	    "  { name = \"s\"; handler = \"echo\"; listen = \"127.0.0.1:7\"; } );\n");
	assert_true(cfg->services[0].datagram);
	assert_false(cfg->services[1].datagram);
	config_describe_service(&cfg->services[0], buf, sizeof(buf));
	assert_string_equal(buf, "u: handler echo, datagrams, model prefork, 4 workers x 1 thread, "
	    "listen udp:127.0.0.1:7 udp:[::1]:7 unixgram:/run/u");
	config_free(cfg);
	expect_errors("services = ( { name = \"u\"; handler = \"echo\";\n"
	    "  listen = \"unixgram:/run/u\";\n  allow_uid = [ 0 ]; } );\n",
	    "test.conf:3: services.[0].allow_uid: allow_uid and allow_gid need a connected "
	    "client's credentials; a datagram carries none (use file permissions on the socket)",
	    NULL);
	expect_errors("services = ( { name = \"u\"; handler = \"echo\"; listen = \"udp:*:7\";\n"
	    "  limits = { max_connections = 3;\n max_output = 9999; };\n"
	    "  timeouts = { idle = 3;\n handshake = 1; };\n backlog = 5; } );\n",
	    "test.conf:2: services.[0].limits.max_connections: limits.max_connections is about "
	    "connections; a datagram service has none",
	    "test.conf:3: services.[0].limits.max_output: limits.max_output is about "
	    "connections; a datagram service has none",
	    "test.conf:4: services.[0].timeouts.idle: timeouts.idle is about "
	    "connections; a datagram service has none",
	    "test.conf:5: services.[0].timeouts.handshake: timeouts.handshake is about "
	    "connections; a datagram service has none",
	    "test.conf:6: services.[0].backlog: backlog is the queue of connections; a datagram "
	    "service has none (the socket's receive buffer holds datagrams)", NULL);
	expect_errors("services = ( { name = \"u\"; handler = \"echo\";\n"
	    "  listen = [ \"udp:127.0.0.1:7\", \"127.0.0.1:7\" ]; } );\n",
	    "test.conf:2: services.[0].listen: a service serves streams or datagrams, not both: "
	    "\"udp:127.0.0.1:7\" is a datagram address, \"127.0.0.1:7\" a stream one "
	    "(make two services)", NULL);
	expect_errors("services = ( { name = \"u\"; listen = \"udp:127.0.0.1:7\";\n"
	    "  handler = \"http\";\n  framing = \"raw\";\n  proxy_protocol = true;\n"
	    "  proxy_trusted = [ \"127.0.0.1\" ];\n  limits = { per_ip = 2; }; } );\n",
	    "test.conf:2: services.[0].handler: handler \"http\" needs a byte stream; a datagram "
	    "service takes \"echo\", \"discard\", \"ack\" or \"module\"",
	    "test.conf:3: services.[0].framing: framing does not apply to datagrams: one datagram "
	    "is one message (limits.max_message bounds its size)",
	    "test.conf:4: services.[0].proxy_protocol: the PROXY protocol is for streams; a "
	    "datagram service cannot take it",
	    "test.conf:6: services.[0].limits.per_ip: limits.per_ip counts connections; a "
	    "datagram service has none (limits.rate bounds each source)", NULL);
	/* A TCP and a UDP listener may share a port. */
	cfg = load_ok("services = (\n  { name = \"b\"; handler = \"echo\"; listen = \"udp:127.0.0.1:7\"; },\n"
	    "  { name = \"c\"; handler = \"echo\"; listen = \"127.0.0.1:7\"; } );\n");
	config_free(cfg);
}

/* No listen: the service takes systemd's sockets by its name; -t says so. */
static void
test_listen_from_systemd(void **state)
{
	struct sockd_config *cfg = load_ok("services = ( { name = \"web\"; handler = \"echo\"; } );\n");
	char line[512];

	(void)state;
	assert_int_equal(cfg->services[0].n_listen, 0);
	assert_false(cfg->services[0].datagram);
	config_describe_service(&cfg->services[0], line, sizeof(line));
	assert_non_null(strstr(line, ", listen: expects sockets from systemd "
	    "(FileDescriptorName=web)"));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_every_setting),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_unknown_and_reserved),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_service_names),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_listen_mapped),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_error_count_bounded),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_include_lines),
		cmocka_unit_test(test_include_refused),
		cmocka_unit_test(test_include_paths),
		cmocka_unit_test(test_file_limits),
		cmocka_unit_test(test_file_nul),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_handlers_and_framings),
		cmocka_unit_test(test_limits_and_timeouts),
		cmocka_unit_test(test_unix_options),
		cmocka_unit_test(test_listen_count),
		cmocka_unit_test(test_pool_modes),
		cmocka_unit_test(test_fork_model),
		cmocka_unit_test(test_models),
		cmocka_unit_test(test_http_settings),
		cmocka_unit_test(test_http_needs_raw_framing),
		cmocka_unit_test(test_exec_settings),
		cmocka_unit_test(test_exec_program),
		cmocka_unit_test(test_print_defaults),
		cmocka_unit_test(test_print_everything),
		cmocka_unit_test(test_print_quote),
		cmocka_unit_test(test_http_root_errors),
		cmocka_unit_test(test_wire_strings),
		cmocka_unit_test(test_messages_escaped),
		cmocka_unit_test(test_module_settings),
		cmocka_unit_test(test_module_where),
		cmocka_unit_test(test_datagram_services),
		cmocka_unit_test(test_listen_from_systemd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
