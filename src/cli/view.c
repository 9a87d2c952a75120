/* view.c - canaryctl's formatting of canaries; see view.h. */
#include "cli/view.h"
#include "cli/table.h"
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
    static const char *const head[] = {"NAMESPACE", "NAME", "STATUS", "WEIGHT", "FAILEDCHECKS",
                                       "LASTTRANSITIONTIME"};
    size_t skip = all_ns ? 0 : 1;
    cd_table t;
    cd_table_init(&t, 6 - skip, head + skip);
    size_t i;
    json_t *c;
    json_array_foreach(items, i, c) {
        char w[24], f[24];
        snprintf(w, sizeof w, "%ld", num(c, "canaryWeight"));
        snprintf(f, sizeof f, "%ld", num(c, "failedChecks"));
        const char *row[] = {str(c, "namespace"), str(c, "name"), str(c, "phase"), w, f,
                             str(c, "lastTransitionTime")};
        cd_table_row(&t, row + skip);
    }
    cd_table_flush(&t, out);
}

void cd_view_events(cd_buf *out, const json_t *events, const char *indent)
{
    static const char *const head[] = {"TIME", "TYPE", "PHASE", "MESSAGE"};
    cd_table t;
    cd_table_init(&t, 4, head);
    t.indent = indent;
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        char msg[1024];   /* a journal written before redaction existed, too */
        cd_redact_text(str(e, "message"), NULL, 0, msg, sizeof msg);
        const char *row[] = {str(e, "ts"), str(e, "type"), str(e, "phase"), msg};
        cd_table_row(&t, row);
    }
    cd_table_flush(&t, out);
}

void cd_view_weights(const json_t *c, int *canary, int *primary, bool *mirrored)
{
    *mirrored = json_is_true(json_object_get(c, "mirrored"));
    json_t *pw = json_object_get(c, "primaryWeight");
    if (json_is_integer(pw)) {
        *primary = (int)json_integer_value(pw);
        if (*primary < 0)
            *primary = 0;
        if (*primary > 100)
            *primary = 100;
        *canary = 100 - *primary;
    } else {
        *canary = (int)num(c, "canaryWeight");
        *primary = 100 - *canary;
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

static void metric_row(cd_table *t, const json_t *m)
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
    const char *row[] = {str(m, "name"), val, limit, verdict, msg};
    cd_table_row(t, row);
}

void cd_view_metrics(cd_buf *out, const json_t *c)
{
    static const char *const head[] = {"NAME", "LAST VALUE", "LIMIT", "CHECK", "MESSAGE"};
    cd_table t;
    cd_table_init(&t, 5, head);
    t.indent = "  ";
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "metrics"), i, m)
        metric_row(&t, m);
    cd_table_flush(&t, out);
}

static void events_of(cd_buf *out, const json_t *c, int limit)
{
    json_t *ev = json_object_get(c, "events");
    size_t n = json_array_size(ev), start = limit > 0 && n > (size_t)limit ? n - (size_t)limit : 0;
    json_t *last = json_array();
    for (size_t i = start; i < n; i++)
        json_array_append(last, json_array_get(ev, i));
    cd_view_events(out, last, "  ");
    json_decref(last);
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
    cd_view_gates(out, g);
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
    cd_buf_puts(out, "\nMetrics:\n");
    cd_view_metrics(out, c);
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

void cd_view_gates(cd_buf *out, const json_t *g)
{
    static const struct { const char *key, *text; } gates[] = {
        {"promotionHeld", "promotion held (canaryctl promote or resume)"},
        {"rolloutHeld", "rollout held (canaryctl resume)"},
        {"rollbackRequested", "rollback requested (at the next check; canaryctl resume cancels)"},
    };
    bool any = false;
    for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
        if (!json_is_true(json_object_get(g, gates[i].key)))
            continue;
        cd_buf_printf(out, "%s%s", any ? "\n                  " : "  Gates:          ",
                      gates[i].text);
        any = true;
    }
    if (any)
        cd_buf_putc(out, '\n');
}

void cd_view_watch(cd_buf *out, const json_t *c, int events)
{
    int cw, pw;
    bool mirrored;
    cd_view_weights(c, &cw, &pw, &mirrored);
    cd_buf_printf(out, "%s.%s  %s\n\n", str(c, "name"), str(c, "namespace"), str(c, "phase"));
    cd_buf_puts(out, "  canary  ");
    cd_view_bar(out, cw, 40);
    if (mirrored)
        cd_buf_puts(out, "  + a mirrored copy of every request");
    cd_buf_puts(out, "\n  primary ");
    cd_view_bar(out, pw, 40);
    cd_buf_printf(out, "\n\n  failed checks %ld   iterations %ld\n\n", num(c, "failedChecks"),
                  num(c, "iterations"));
    if (json_array_size(json_object_get(c, "metrics")))
        cd_view_metrics(out, c);
    cd_buf_puts(out, "\n");
    events_of(out, c, events);
}

void cd_view_line(cd_buf *out, const json_t *c)
{
    int cw, pw;
    bool mirrored;
    cd_view_weights(c, &cw, &pw, &mirrored);
    cd_buf_printf(out, "%s %-16s canary %3d%% primary %3d%%%s failed %ld", str(c, "name"),
                  str(c, "phase"), cw, pw, mirrored ? " mirrored" : "", num(c, "failedChecks"));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(c, "metrics"), i, m) {
        json_t *v = json_object_get(m, "value");
        if (v)
            cd_buf_printf(out, " %s=%.3f", str(m, "name"), json_number_value(v));
    }
    cd_buf_putc(out, '\n');
}

/* --until-done: the canary has finished the release of its current spec.
 * A Succeeded or Failed phase only counts when the status is about the
 * revision the workload has now: right after an edit, the previous run's
 * outcome is still shown until canaryd starts the new one. 0 Succeeded,
 * 1 Failed, -1 not done. */
int cd_watch_outcome(const json_t *canary)
{
    const char *phase = json_string_value(json_object_get(canary, "phase"));
    if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")))
        return -1;
    const char *rev = json_string_value(
        json_object_get(json_object_get(canary, "workload"), "revision"));
    const char *applied = json_string_value(
        json_object_get(json_object_get(canary, "status"), "lastAppliedSpec"));
    if (rev && *rev && applied && *applied && strcmp(rev, applied))
        return -1;   /* a new revision waits for its analysis */
    return strcmp(phase, "Succeeded") ? 1 : 0;
}
