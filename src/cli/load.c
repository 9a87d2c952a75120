/* load.c - `canaryctl load URL`: canaryd's built-in load generator (the
 * load tester's `type: load` task) from the command line, so a demo or a
 * test needs no external hey or wrk. Runs until --duration, --requests or
 * SIGINT/SIGTERM, then prints its report (text, or JSON with -o json).
 * Progress goes to stderr only when it is a terminal (one line redrawn
 * every second), unless --progress says otherwise; it never mixes with the
 * report on stdout.
 * Exit 0 when the error rate stayed within --max-error-rate, 1 otherwise,
 * 2 for usage errors. */
#include "cli/commands.h"
#include "loadtester/load.h"
#include "net/http.h"
#include "util/duration.h"
#include "util/flags.h"
#include "util/redact.h"
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = 1; }

static const char *const outputs[] = {"text", "json", NULL};
static const char *const progress_modes[] = {"auto", "always", "never", NULL};

typedef struct progress_view {
    bool tty;            /* redraw one line in place; else a line every 10 s */
    double duration_s;   /* 0: open-ended */
    long long requests;  /* 0: no request limit */
    bool drawn;          /* a line is on the terminal, to end before the report */
} progress_view;

static bool add_header(void *target, const char *v, char *err, size_t errlen)
{
    cd_load_spec *s = target;
    const char *colon = strchr(v, ':');
    if (!colon || colon == v) {
        snprintf(err, errlen, "expected 'Name: value'");
        return false;
    }
    if (s->n_headers >= CD_LOAD_MAX_HEADERS) {
        snprintf(err, errlen, "at most %d headers", CD_LOAD_MAX_HEADERS);
        return false;
    }
    if (!(s->headers[s->n_headers++] = strdup(v)))
        abort();
    return true;
}

/* how far a bounded run is, in percent (by time or by requests), or -1 */
static double progress_percent(const progress_view *v, const cd_load_report *r, double elapsed_s)
{
    double pct = -1;
    if (v->duration_s > 0)
        pct = 100.0 * elapsed_s / v->duration_s;
    if (v->requests > 0) {
        double by_requests = 100.0 * (double)r->sent / (double)v->requests;
        if (by_requests > pct)
            pct = by_requests;
    }
    return pct > 100 ? 100 : pct;
}

/* "12s: sent 1200, failed 0 (0.00%), 100.0 req/s", with "[ 40%] " ahead
 * for a bounded run; redrawn in place on a terminal */
static void on_progress(void *ctx, const cd_load_report *r, double elapsed_s)
{
    progress_view *v = ctx;
    char pct[16] = "";
    double p = progress_percent(v, r, elapsed_s);
    if (p >= 0)
        snprintf(pct, sizeof pct, "[%3.0f%%] ", p);
    fprintf(stderr, "%scanaryctl load: %s%.0fs: sent %llu, failed %llu (%.2f%%), %.1f req/s%s",
            v->tty ? "\r\033[K" : "", pct, elapsed_s, (unsigned long long)r->sent,
            (unsigned long long)r->failed,
            r->sent ? 100.0 * (double)r->failed / (double)r->sent : 0,
            elapsed_s > 0 ? (double)r->sent / elapsed_s : 0, v->tty ? "" : "\n");
    fflush(stderr);
    v->drawn = v->tty;
}

int cmd_load(int argc, char **argv)
{
    cd_load_spec s;
    memset(&s, 0, sizeof s);
    s.concurrency = 10;
    s.duration_ms = 10000;
    s.timeout_ms = 10000;
    s.max_error_rate = 100;
    const char *method = "GET", *body = NULL, *output = "text", *progress = "auto";
    const cd_flag flags[] = {
        {.name = "rate", .alias = 'r', .type = CD_FLAG_DOUBLE, .target = &s.rate, .lo = 0,
         .hi = 1e6, .def = "0: a closed loop at --concurrency", .help = "requests per second"},
        CD_FLAG_NUM("concurrency", &s.concurrency, "N", 1, 10000, "requests in flight at most"),
        {.name = "duration", .type = CD_FLAG_DURATION, .target = &s.duration_ms, .lo = 0,
         .hi = 365 * 86400000.0,
         .help = "how long; 0: until interrupted"},
        {.name = "requests", .type = CD_FLAG_I64, .target = &s.requests, .lo = 0, .hi = 1e12,
         .def = "0: no limit", .help = "stop after this many requests"},
        CD_FLAG_DUR("timeout", &s.timeout_ms, 1, 3600000, "per request"),
        {.name = "header", .alias = 'H', .type = CD_FLAG_FUNC, .target = &s, .set = add_header,
         .arg = "'NAME: VALUE'", .help = "a request header (repeatable)"},
        CD_FLAG_STR("method", 'X', &method, "METHOD", "the request method"),
        CD_FLAG_STR("data", 'd', &body, "BODY", "the request body"),
        {.name = "max-error-rate", .type = CD_FLAG_DOUBLE, .target = &s.max_error_rate,
         .arg = "PCT", .lo = 0, .hi = 100,
         .help = "the run fails (exit 1) when more than PCT % of the requests failed"},
        {.name = "output", .alias = 'o', .type = CD_FLAG_ENUM, .target = &output,
         .choices = outputs, .help = "the report's format"},
        CD_FLAG_SWITCH("insecure", 'k', &s.insecure, "skip TLS certificate verification"),
        {.name = "progress", .type = CD_FLAG_ENUM, .target = &progress, .choices = progress_modes,
         .arg = "WHEN",
         .help = "when to show progress on stderr (auto: a line redrawn every second when "
                 "stderr is a terminal, nothing otherwise; always: also a line every 10s when "
                 "it is not a terminal)"},
    };
    cd_flag_cmd cmd = {
        .prog = "canaryctl load",
        .synopsis = "URL [flags]",
        .about = "Sends steady HTTP load (canaryd's built-in load generator, the load tester's\n"
                 "`type: load` task) until --duration, --requests or SIGINT/SIGTERM, then prints\n"
                 "its report. A request fails when it gets no response or a 5xx.",
        .footer = "Exit status: 0 the error rate stayed within --max-error-rate, 1 it did not (or\n"
                  "nothing was sent), 2 usage error or a URL that cannot be used.",
        .flags = flags,
        .nflags = sizeof flags / sizeof flags[0],
        .min_args = 1,
        .max_args = 1,
    };
    int rc = cd_flags_parse(&cmd, argc, argv, NULL, stdout, stderr);
    if (rc != CD_FLAGS_OK) {
        cd_load_spec_free(&s);
        return cd_flags_exit(rc);
    }
    bool json = !strcmp(output, "json");
    bool forever = s.duration_ms == 0 && s.requests == 0;
    s.url = strdup(argv[1]);
    s.method = strdup(method);
    if (body)
        s.body = strdup(body);
    if (!s.url || !s.method || (body && !s.body))
        abort();
    if (s.duration_ms == 0 && s.requests)
        s.duration_ms = 365LL * 24 * 3600 * 1000;
    if (!cd_http_url_valid(s.url)) {
        char shown[256];
        cd_redact_url(s.url, 0, shown, sizeof shown);
        fprintf(stderr, "canaryctl load: \"%s\" is not an http:// or https:// URL\n", shown);
        cd_load_spec_free(&s);
        return 2;
    }
    progress_view view = {.tty = isatty(STDERR_FILENO) == 1,
                          .duration_s = forever || s.duration_ms >= 365LL * 24 * 3600 * 1000
                                            ? 0
                                            : (double)s.duration_ms / 1000.0,
                          .requests = s.requests};
    bool show = strcmp(progress, "never") && (view.tty || !strcmp(progress, "always"));
    if (forever)
        fprintf(stderr, "canaryctl load: sending to %s until interrupted (Ctrl-C stops and "
                        "prints the report)\n", s.url);
    if (show) {
        s.progress = on_progress;
        s.progress_ctx = &view;
        s.progress_every_ms = view.tty ? 1000 : 10000;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    cd_load_report r;
    cd_err err = {{0}};
    bool ran = cd_load_run(&s, &g_stop, &r, &err);
    if (view.drawn)
        fputc('\n', stderr);
    if (!ran) {
        fprintf(stderr, "canaryctl load: %s\n", err.msg);
        cd_load_spec_free(&s);
        return 2;
    }
    if (json) {
        json_t *j = cd_load_report_json(&r);
        char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", t);
        free(t);
        json_decref(j);
    } else {
        printf("sent %llu, succeeded %llu, failed %llu (%.2f%%) in %.1fs, %.1f req/s\n",
               (unsigned long long)r.sent, (unsigned long long)r.succeeded,
               (unsigned long long)r.failed, r.sent ? 100.0 * (double)r.failed / (double)r.sent : 0,
               r.duration_s, r.rate);
        printf("latency ms: mean %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f\n", r.mean_ms, r.p50_ms,
               r.p90_ms, r.p99_ms, r.max_ms);
        if (r.first_error[0])
            printf("first error: %s\n", r.first_error);
    }
    bool ok = cd_load_passed(&s, &r);
    cd_load_spec_free(&s);
    return ok ? 0 : 1;
}
