/* view.c - canaryctl's formatting of canaries; see view.h. */
#include "cli/view.h"
#include "judge/judge.h"
#include "model/status.h"
#include "util/redact.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long num(const json_t *o, const char *k) { return (long)json_integer_value(json_object_get(o, k)); }

void cd_view_table(cd_buf *out, const json_t *items, bool all_ns)
{
    if (all_ns)
        cd_buf_printf(out, "%-16s ", "NAMESPACE");
    cd_buf_printf(out, "%-24s %-17s %-7s %-13s %s\n", "NAME", "STATUS", "WEIGHT", "FAILEDCHECKS",
                  "LASTTRANSITIONTIME");
    size_t i;
    json_t *c;
    json_array_foreach(items, i, c) {
        if (all_ns)
            cd_buf_printf(out, "%-16s ", str(c, "namespace"));
        cd_buf_printf(out, "%-24s %-17s %-7ld %-13ld %s\n", str(c, "name"), str(c, "phase"),
                      num(c, "canaryWeight"), num(c, "failedChecks"), str(c, "lastTransitionTime"));
    }
}

void cd_view_bar(cd_buf *out, int weight, int width)
{
    if (weight < 0)
        weight = 0;
    if (weight > 100)
        weight = 100;
    int fill = (weight * width + 50) / 100;
    cd_buf_putc(out, '[');
    for (int i = 0; i < width; i++)
        cd_buf_putc(out, i < fill ? '#' : '.');
    cd_buf_printf(out, "] %3d%%", weight);
}

static void metric_line(cd_buf *out, const json_t *m)
{
    char limit[96] = "";
    json_t *min = json_object_get(m, "min"), *max = json_object_get(m, "max");
    json_t *th = json_object_get(m, "threshold");
    if (min && max)
        snprintf(limit, sizeof limit, "%g..%g", json_number_value(min), json_number_value(max));
    else if (min)
        snprintf(limit, sizeof limit, ">= %g", json_number_value(min));
    else if (max)
        snprintf(limit, sizeof limit, "<= %g", json_number_value(max));
    else if (th)
        snprintf(limit, sizeof limit, "threshold %g", json_number_value(th));
    else
        snprintf(limit, sizeof limit, "-");
    json_t *v = json_object_get(m, "value");
    char val[48] = "no value yet";
    if (v)
        snprintf(val, sizeof val, "%.3f", json_number_value(v));
    const char *verdict = !json_object_get(m, "passed") ? ""
                          : json_is_true(json_object_get(m, "passed")) ? "ok"
                                                                       : "FAIL";
    char msg[512];
    cd_redact_text(str(m, "message"), NULL, 0, msg, sizeof msg);
    cd_buf_printf(out, "  %-24s %-14s %-16s %-5s %s\n", str(m, "name"), val, limit, verdict, msg);
}

static void events_of(cd_buf *out, const json_t *c, int limit)
{
    json_t *ev = json_object_get(c, "events");
    size_t n = json_array_size(ev), start = limit > 0 && n > (size_t)limit ? n - (size_t)limit : 0;
    for (size_t i = start; i < n; i++) {
        json_t *e = json_array_get(ev, i);
        char msg[1024];   /* a journal written before redaction existed, too */
        cd_redact_text(str(e, "message"), NULL, 0, msg, sizeof msg);
        cd_buf_printf(out, "  %-24s %-8s %s\n", str(e, "ts"), str(e, "type"), msg);
    }
}

void cd_view_describe(cd_buf *out, const json_t *c)
{
    const json_t *a = json_object_get(c, "analysis");
    cd_buf_printf(out, "Name:         %s\nNamespace:    %s\nTarget:       LocalWorkload/%s\n",
                  str(c, "name"), str(c, "namespace"), str(a, "target"));
    cd_buf_printf(out, "Provider:     %s\nService port: %ld\n", str(a, "provider"), num(a, "port"));
    cd_buf_printf(out, "Analysis:     %s, every %lds, threshold %ld", str(a, "strategy"),
                  num(a, "intervalSeconds"), num(a, "threshold"));
    if (!strcmp(str(a, "strategy"), "canary"))
        cd_buf_printf(out, ", step %ld up to %ld%%", num(a, "stepWeight"), num(a, "maxWeight"));
    else
        cd_buf_printf(out, ", %ld iterations", num(a, "iterations"));
    cd_buf_puts(out, "\n\nStatus:\n");
    cd_buf_printf(out, "  Phase:          %s\n  Canary weight:  ", str(c, "phase"));
    cd_view_bar(out, (int)num(c, "canaryWeight"), 20);
    cd_buf_printf(out, "\n  Failed checks:  %ld\n  Iterations:     %ld\n  Last transition: %s\n",
                  num(c, "failedChecks"), num(c, "iterations"), str(c, "lastTransitionTime"));
    const json_t *g = json_object_get(c, "gates");
    if (json_is_true(json_object_get(g, "promotionHeld")) ||
        json_is_true(json_object_get(g, "rolloutHeld")))
        cd_buf_printf(out, "  Gates:          %s%s\n",
                      json_is_true(json_object_get(g, "promotionHeld")) ? "promotion held " : "",
                      json_is_true(json_object_get(g, "rolloutHeld")) ? "rollout held" : "");
    const json_t *w = json_object_get(c, "workload");
    if (w) {
        cd_buf_printf(out, "\nProcesses (revision %s):\n", str(w, "revision"));
        static const char *const sets[] = {"primary", "canary"};
        for (int k = 0; k < 2; k++) {
            const json_t *s = json_object_get(w, sets[k]);
            cd_buf_printf(out, "  %-8s %ld/%ld ready, %ld restarts", sets[k], num(s, "ready"),
                          num(s, "desired"), num(s, "restarts"));
            size_t i;
            json_t *r;
            json_array_foreach(json_object_get(s, "replicas"), i, r)
                cd_buf_printf(out, "%s :%ld %s", i ? "," : "  ", num(r, "port"), str(r, "state"));
            cd_buf_putc(out, '\n');
            if (json_is_string(json_object_get(s, "error")))   /* why it cannot start */
                cd_buf_printf(out, "    error: %s\n", str(s, "error"));
        }
    }
    cd_buf_printf(out, "\nMetrics:\n  %-24s %-14s %-16s %-5s %s\n", "NAME", "LAST VALUE", "LIMIT",
                  "CHECK", "MESSAGE");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "metrics"), i, m)
        metric_line(out, m);
    /* the statistical judge's explanation of each judged metric */
    json_t *status = json_object_get(c, "status");
    if (json_object_get(status, "judge")) {
        cd_canary_status st;
        cd_status_init(&st);
        cd_status_from_json(&st, status);
        cd_buf judged = CD_BUF_INIT;
        cd_judge_describe(&st, &judged);
        if (judged.len)
            cd_buf_printf(out, "\nStatistical judge:\n%s", cd_buf_str(&judged));
        cd_buf_free(&judged);
        cd_status_free(&st);
    }
    cd_buf_puts(out, "\nEvents:\n");
    events_of(out, c, 20);
}

void cd_view_watch(cd_buf *out, const json_t *c, int events)
{
    cd_buf_printf(out, "%s.%s  %s\n\n", str(c, "name"), str(c, "namespace"), str(c, "phase"));
    cd_buf_puts(out, "  canary  ");
    cd_view_bar(out, (int)num(c, "canaryWeight"), 40);
    cd_buf_puts(out, "\n  primary ");
    cd_view_bar(out, (int)num(c, "primaryWeight"), 40);
    cd_buf_printf(out, "\n\n  failed checks %ld   iterations %ld\n\n", num(c, "failedChecks"),
                  num(c, "iterations"));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "metrics"), i, m)
        metric_line(out, m);
    cd_buf_puts(out, "\n");
    events_of(out, c, events);
}

void cd_view_line(cd_buf *out, const json_t *c)
{
    cd_buf_printf(out, "%s %-16s canary %3ld%% primary %3ld%% failed %ld", str(c, "name"),
                  str(c, "phase"), num(c, "canaryWeight"), num(c, "primaryWeight"),
                  num(c, "failedChecks"));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "metrics"), i, m) {
        json_t *v = json_object_get(m, "value");
        if (v)
            cd_buf_printf(out, " %s=%.3f", str(m, "name"), json_number_value(v));
    }
    cd_buf_putc(out, '\n');
}
