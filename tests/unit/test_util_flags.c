/* test_util_flags.c - the flag parser every canaryd process and canaryctl
 * command uses (src/util/flags.c): both spellings, one-letter aliases,
 * attached values, booleans, strict numbers with ranges, durations,
 * enumerations, lists, setters, environment fallbacks, positional
 * arguments, "--", help with defaults taken before parsing, and one clear
 * line for every kind of mistake; and the "did you mean" suggestions
 * (src/util/suggest.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/flags.h"
#include "util/suggest.h"

typedef struct opts {
    const char *name, *ns, *format, *server;
    int workers;
    int64_t big, timeout_ms;
    uint32_t window;
    double rate;
    bool verbose, json, verbose_given;
    const char *items_v[4];
    cd_flag_list items;
    int odd;
} opts;

static const char *const formats[] = {"json", "text", NULL};

static bool set_odd(void *target, const char *v, char *err, size_t n)
{
    int x = atoi(v);
    if (x % 2 == 0) {
        snprintf(err, n, "expected an odd number");
        return false;
    }
    *(int *)target = x;
    return true;
}

static void defaults(opts *o)
{
    memset(o, 0, sizeof *o);
    o->ns = "default";
    o->workers = 4;
    o->timeout_ms = 10000;
    o->window = 900;
    o->format = "text";
    o->items = (cd_flag_list){o->items_v, 0, 4};
}

/* argv: a NULL-terminated list after the command name; out/err captured */
static int run(opts *o, bool go_style, char *out, size_t outlen, const char **args, int *nargs,
               char ***argv_out)
{
    static char *argv[32];
    int argc = 0;
    argv[argc++] = "cmd";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    *argv_out = argv;
    cd_flag flags[] = {
        CD_FLAG_STR("name", 0, &o->name, "NAME", "a name"),
        CD_FLAG_STR("namespace", 'n', &o->ns, "NS", "the namespace"),
        CD_FLAG_NUM("workers", &o->workers, "N", 1, 64, "worker threads"),
        {.name = "big", .type = CD_FLAG_I64, .target = &o->big, .lo = 0, .hi = 1e12, .help = "big"},
        {.name = "window", .type = CD_FLAG_U32, .target = &o->window, .lo = 60, .hi = 86400,
         .help = "seconds kept"},
        {.name = "rate", .alias = 'r', .type = CD_FLAG_DOUBLE, .target = &o->rate, .lo = 0,
         .hi = 1000, .help = "per second"},
        CD_FLAG_DUR("timeout", &o->timeout_ms, 1, 3600000, "a timeout"),
        {.name = "verbose", .alias = 'v', .type = CD_FLAG_BOOL, .target = &o->verbose,
         .given = &o->verbose_given, .help = "say more"},
        CD_FLAG_CHOICE("output", 'o', &o->format, formats, "the format"),
        {.name = "log-format", .type = CD_FLAG_FUNC, .target = &o->json, .choices = formats,
         .set = cd_flag_set_log_json, .def = "json", .help = "log format"},
        {.name = "item", .alias = 'f', .type = CD_FLAG_LIST, .target = &o->items, .arg = "FILE",
         .help = "an item (repeatable)"},
        {.name = "odd", .type = CD_FLAG_FUNC, .target = &o->odd, .set = set_odd, .help = "odd"},
        {.name = "server", .type = CD_FLAG_STRING, .target = &o->server, .env = "TEST_FLAGS_SERVER",
         .def = "127.0.0.1:9797", .help = "the server"},
        {.name = "ingress-class", .type = CD_FLAG_IGNORED},
        {.name = "hidden", .type = CD_FLAG_BOOL, .target = &o->verbose},
    };
    static const cd_flag_env_doc env[] = {{"OTHER_VAR", "something else read"}, {NULL, NULL}};
    cd_flag_cmd cmd = {.prog = "canaryctl test", .synopsis = "NAME [flags]",
                       .about = "A command for tests.", .footer = "Exit status: 0, 1 or 2.",
                       .go_style = go_style, .flags = flags,
                       .nflags = sizeof flags / sizeof flags[0], .env = env, .version = "1.2.3",
                       .min_args = 0, .max_args = 2};
    memset(out, 0, outlen);
    FILE *f = fmemopen(out, outlen, "w");
    int rc = cd_flags_parse(&cmd, argc, argv, nargs, f, f);
    fclose(f);
    return rc;
}

#define RUN(o, out, ...)                                                                    \
    ({                                                                                      \
        const char *a_[] = {__VA_ARGS__, NULL};                                             \
        char **av_;                                                                         \
        int n_ = 0;                                                                         \
        run(o, false, out, sizeof out, a_, &n_, &av_);                                      \
    })

static void test_spellings(void **state)
{
    opts o;
    char out[2048];
    defaults(&o);
    const char *a[] = {"--name", "a", "-workers=8", "--namespace=prod", "-v", "--timeout", "1m30s",
                       "--window", "60", "-r", "2.5", "-ojson", "--big", "1000000000000", NULL};
    char **av;
    int n = -1;
    assert_int_equal(run(&o, false, out, sizeof out, a, &n, &av), CD_FLAGS_OK);
    assert_string_equal(o.name, "a");
    assert_int_equal(o.workers, 8);
    assert_string_equal(o.ns, "prod");
    assert_true(o.verbose);
    assert_true(o.verbose_given);
    assert_int_equal(o.timeout_ms, 90000);
    assert_int_equal(o.window, 60);
    assert_true(o.rate == 2.5);
    assert_string_equal(o.format, "json");
    assert_int_equal(o.big, 1000000000000LL);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");

    defaults(&o);
    const char *b[] = {"-n", "x", "-n=y", "-nz", "--verbose=false", "-log-format", "json", NULL};
    assert_int_equal(run(&o, false, out, sizeof out, b, &n, &av), CD_FLAGS_OK);
    assert_string_equal(o.ns, "z");   /* the last one wins */
    assert_false(o.verbose);
    assert_true(o.verbose_given);
    assert_true(o.json);
}

static void test_positionals(void **state)
{
    opts o;
    char out[1024];
    defaults(&o);
    const char *a[] = {"first", "-n", "ns", "second", NULL};
    char **av;
    int n = 0;
    assert_int_equal(run(&o, false, out, sizeof out, a, &n, &av), CD_FLAGS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(av[1], "first");
    assert_string_equal(av[2], "second");
    assert_string_equal(o.ns, "ns");

    defaults(&o);   /* "-" is an argument; after "--" everything is */
    const char *b[] = {"-", "--", "-n", NULL};
    assert_int_equal(run(&o, false, out, sizeof out, b, &n, &av), CD_FLAGS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(av[1], "-");
    assert_string_equal(av[2], "-n");
    assert_string_equal(o.ns, "default");

    defaults(&o);
    const char *c[] = {"a", "b", "c", NULL};
    assert_int_equal(run(&o, false, out, sizeof out, c, &n, &av), CD_FLAGS_USAGE);
    assert_non_null(strstr(out, "canaryctl test: unexpected argument \"c\""));
}

static void test_lists_and_setters(void **state)
{
    opts o;
    char out[1024];
    defaults(&o);
    assert_int_equal(RUN(&o, out, "-f", "a", "--item=b", "-fc", "--odd", "3"), CD_FLAGS_OK);
    assert_int_equal(o.items.n, 3);
    assert_string_equal(o.items_v[0], "a");
    assert_string_equal(o.items_v[2], "c");
    assert_int_equal(o.odd, 3);
    defaults(&o);
    assert_int_equal(RUN(&o, out, "-f", "1", "-f", "2", "-f", "3", "-f", "4", "-f", "5"),
                     CD_FLAGS_USAGE);
    assert_non_null(strstr(out, "-f is given more than 4 times"));
    defaults(&o);
    assert_int_equal(RUN(&o, out, "--odd", "4"), CD_FLAGS_USAGE);
    assert_non_null(strstr(out, "invalid value \"4\" for --odd: expected an odd number"));
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_strict_values(void **state)
{
    opts o;
    char out[1024];
    static const struct {
        const char *args[3];
        const char *message;
    } cases[] = {
        {{"--workers", "0"}, "invalid value \"0\" for --workers: expected a whole number from 1 to 64"},
        {{"--workers", "65"}, "from 1 to 64"},
        {{"--workers", "4x"}, "invalid value \"4x\" for --workers"},
        {{"--workers", ""}, "invalid value \"\" for --workers"},
        {{"-workers", "99999999999999999999"}, "invalid value \"99999999999999999999\" for -workers"},
        {{"--window", "59"}, "from 60 to 86400"},
        {{"--window", "-1"}, "from 60 to 86400"},
        {{"--big", "1e3"}, "invalid value \"1e3\" for --big"},
        {{"--rate", "nan"}, "invalid value \"nan\" for --rate: expected a number from 0 to 1000"},
        {{"--rate", "1001"}, "from 0 to 1000"},
        {{"-r", "fast"}, "invalid value \"fast\" for -r"},
        {{"--timeout", "soon"}, "invalid duration \"soon\" for --timeout: expected a duration such as"},
        {{"--timeout", "10"}, "invalid duration \"10\""},
        {{"--timeout", "0s"}, "invalid duration \"0s\" for --timeout: expected from 1ms to 1h"},
        {{"--timeout", "2h"}, "from 1ms to 1h"},
        {{"--verbose=maybe"}, "invalid value \"maybe\" for --verbose: expected true or false"},
        {{"-o", "xml"}, "invalid value \"xml\" for -o: expected json or text"},
        {{"--log-format", "console"}, "invalid value \"console\" for --log-format: expected json or text"},
        {{"--bogus"}, "unknown flag \"--bogus\" (see canaryctl test --help)"},
        {{"--namespce", "x"}, "unknown flag \"--namespce\": did you mean --namespace?"},
        {{"-x"}, "unknown flag \"-x\""},
        {{"--hiden"}, "unknown flag \"--hiden\" (see"},   /* hidden flags are not suggested */
        {{"--name"}, "flag needs an argument: --name"},
        {{"-n"}, "flag needs an argument: -n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        defaults(&o);
        const char *a[4] = {cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL};
        char **av;
        int n;
        int rc = run(&o, false, out, sizeof out, a, &n, &av);
        if (rc != CD_FLAGS_USAGE || !strstr(out, cases[i].message))
            fail_msg("case %zu (%s %s): rc %d, got \"%s\", want \"%s\"", i, cases[i].args[0],
                     cases[i].args[1] ? cases[i].args[1] : "", rc, out, cases[i].message);
        assert_non_null(strstr(out, "canaryctl test: "));
        assert_int_equal(lines(out), 1);   /* one line says it all */
        /* nothing was half-applied that the caller could use: it exits 2 */
        assert_int_equal(cd_flags_exit(rc), 2);
    }
}

static void test_environment(void **state)
{
    opts o;
    char out[1024];
    defaults(&o);
    setenv("TEST_FLAGS_SERVER", "unix:/tmp/s", 1);
    assert_int_equal(RUN(&o, out, "x"), CD_FLAGS_OK);
    assert_string_equal(o.server, "unix:/tmp/s");
    defaults(&o);
    assert_int_equal(RUN(&o, out, "--server", "h:1"), CD_FLAGS_OK);   /* the flag wins */
    assert_string_equal(o.server, "h:1");
    unsetenv("TEST_FLAGS_SERVER");
    defaults(&o);
    assert_int_equal(RUN(&o, out, "x"), CD_FLAGS_OK);
    assert_null(o.server);
}

static void test_ignored(void **state)
{
    opts o;
    char out[1024];
    defaults(&o);
    assert_int_equal(RUN(&o, out, "-ingress-class", "nginx"), CD_FLAGS_OK);
    assert_non_null(strstr(out, "-ingress-class has no effect in canaryd"));
}

static void test_help(void **state)
{
    opts o;
    char out[8192];
    defaults(&o);
    /* values given before -h do not show as defaults */
    assert_int_equal(RUN(&o, out, "--workers", "9", "-n", "x", "--help"), CD_FLAGS_DONE);
    assert_int_equal(cd_flags_exit(CD_FLAGS_DONE), 0);
    assert_non_null(strstr(out, "Usage: canaryctl test NAME [flags]\n"));
    assert_non_null(strstr(out, "A command for tests."));
    assert_non_null(strstr(out, "  -n, --namespace NS"));
    assert_non_null(strstr(out, "the namespace (default default)"));
    assert_non_null(strstr(out, "worker threads (default 4)"));
    assert_non_null(strstr(out, "a timeout (default 10s)"));
    assert_non_null(strstr(out, "--output json|text"));
    assert_non_null(strstr(out, "the format (default text)"));
    assert_non_null(strstr(out, "the server (default 127.0.0.1:9797)"));
    assert_non_null(strstr(out, "[$TEST_FLAGS_SERVER]"));
    assert_non_null(strstr(out, "Environment:\n  TEST_FLAGS_SERVER  the default of --server\n"));
    assert_non_null(strstr(out, "  OTHER_VAR          something else read\n"));
    assert_non_null(strstr(out, "-h, --help"));
    assert_non_null(strstr(out, "--version"));
    assert_non_null(strstr(out, "Exit status: 0, 1 or 2."));
    assert_null(strstr(out, "hidden"));
    assert_null(strstr(out, "ingress-class"));
    /* "-d -h": -h is a value there, not a request for help */
    defaults(&o);
    assert_int_equal(RUN(&o, out, "--name", "-h"), CD_FLAGS_OK);
    assert_string_equal(o.name, "-h");
    /* Go style lists -flag */
    defaults(&o);
    const char *a[] = {"-h", NULL};
    char **av;
    int n;
    assert_int_equal(run(&o, true, out, sizeof out, a, &n, &av), CD_FLAGS_DONE);
    assert_non_null(strstr(out, "  -n, -namespace NS"));
    assert_null(strstr(out, "--namespace"));
    defaults(&o);
    assert_int_equal(RUN(&o, out, "-version"), CD_FLAGS_DONE);
    assert_string_equal(out, "1.2.3\n");
}

static void test_help_wraps_at_80(void **state)
{
    opts o;
    char out[8192];
    defaults(&o);
    assert_int_equal(RUN(&o, out, "-h"), CD_FLAGS_DONE);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (strlen(line) > 79)
            fail_msg("line longer than 79 columns: \"%s\"", line);
}

static void test_suggest(void **state)
{
    assert_int_equal(cd_edit_distance("maxWeigth", "maxWeight"), 1);
    assert_int_equal(cd_edit_distance("", "abc"), 3);
    assert_int_equal(cd_edit_distance("maxweight", "maxWeight"), 0);
    cd_suggest s;
    cd_suggest_init(&s, "maxWeigth");
    const char *fields[] = {"stepWeight", "maxWeight", "stepWeights", "threshold", "iterations"};
    for (size_t i = 0; i < 5; i++)
        cd_suggest_offer(&s, fields[i]);
    assert_non_null(s.best);
    assert_string_equal(s.best, "maxWeight");
    cd_suggest_init(&s, "zzz");
    for (size_t i = 0; i < 5; i++)
        cd_suggest_offer(&s, fields[i]);
    assert_null(s.best);
    cd_suggest_init(&s, "interval");   /* an exact match is no suggestion */
    cd_suggest_offer(&s, "interval");
    assert_null(s.best);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings),   cmocka_unit_test(test_positionals),
        cmocka_unit_test(test_lists_and_setters), cmocka_unit_test(test_strict_values),
        cmocka_unit_test(test_environment), cmocka_unit_test(test_ignored),
        cmocka_unit_test(test_help),        cmocka_unit_test(test_help_wraps_at_80),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
