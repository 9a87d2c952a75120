/* load.c - `canaryctl load URL`: canaryd's built-in load generator (the
 * load tester's `type: load` task) from the command line, so a demo or a
 * test needs no external hey or wrk. Runs until --duration, --requests or
 * SIGINT/SIGTERM, then prints its report (text, or JSON with -o json).
 * Exit 0 when the error rate stayed within --max-error-rate, 1 otherwise,
 * 2 for usage errors. */
#include "cli/commands.h"
#include "loadtester/load.h"
#include "util/duration.h"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: canaryctl load URL [--rate N] [--concurrency N] [--duration D] [--requests N]\n"
            "                          [--timeout D] [-H 'Name: value']... [-X METHOD] [-d BODY]\n"
            "                          [--max-error-rate PCT] [-o json]\n"
            "  --rate N          requests per second (default: closed loop at --concurrency)\n"
            "  --concurrency N   requests in flight at most (default 10)\n"
            "  --duration D      how long (default 10s; 0 = until interrupted)\n"
            "A request fails when it gets no response or a 5xx.\n");
}

int cmd_load(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rate", required_argument, NULL, 'r'},        {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'D'},    {"requests", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},     {"header", required_argument, NULL, 'H'},
        {"method", required_argument, NULL, 'X'},      {"data", required_argument, NULL, 'd'},
        {"max-error-rate", required_argument, NULL, 'e'}, {"output", required_argument, NULL, 'o'},
        {"insecure", no_argument, NULL, 'k'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cd_load_spec s;
    memset(&s, 0, sizeof s);
    s.concurrency = 10;
    s.duration_ms = 10000;
    s.timeout_ms = 10000;
    s.max_error_rate = 100;
    bool json = false, forever = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:c:D:n:t:H:X:d:e:o:kh", opts, NULL)) != -1) {
        int64_t ms;
        switch (c) {
        case 'r': s.rate = atof(optarg); break;
        case 'c': s.concurrency = atoi(optarg); break;
        case 'D':
            if (!strcmp(optarg, "0")) {
                forever = true;
                break;
            }
            if (!cd_duration_parse_ms(optarg, &ms) || ms <= 0) {
                fprintf(stderr, "canaryctl load: bad --duration %s\n", optarg);
                return 2;
            }
            s.duration_ms = ms;
            break;
        case 'n': s.requests = atoll(optarg); break;
        case 't':
            if (!cd_duration_parse_ms(optarg, &ms) || ms <= 0) {
                fprintf(stderr, "canaryctl load: bad --timeout %s\n", optarg);
                return 2;
            }
            s.timeout_ms = ms;
            break;
        case 'H':
            if (s.n_headers < CD_LOAD_MAX_HEADERS)
                s.headers[s.n_headers++] = strdup(optarg);
            break;
        case 'X': free(s.method); s.method = strdup(optarg); break;
        case 'd': s.body = strdup(optarg); break;
        case 'e': s.max_error_rate = atof(optarg); break;
        case 'o': json = !strcmp(optarg, "json"); break;
        case 'k': s.insecure = true; break;
        case 'h': usage(stdout); cd_load_spec_free(&s); return 0;
        default: usage(stderr); cd_load_spec_free(&s); return 2;
        }
    }
    if (optind != argc - 1 || s.rate < 0 || s.concurrency < 1) {
        usage(stderr);
        cd_load_spec_free(&s);
        return 2;
    }
    s.url = strdup(argv[optind]);
    if (!s.method)
        s.method = strdup("GET");
    if (forever)
        s.duration_ms = 365LL * 24 * 3600 * 1000;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    cd_load_report r;
    cd_err err = {{0}};
    if (!cd_load_run(&s, &g_stop, &r, &err)) {
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
