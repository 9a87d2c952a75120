/* report.c - text and JSON renderings of a simulation (report.h). */
#include "sim/report.h"
#include "judge/judge.h"
#include "util/duration.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_FMT "%-9s %-17s %6s %7s %8s %6s %4s  %s\n"
/* a StatefulSet with scenario replicas: its partition after PRIMARY */
#define ROW_FMT_P "%-9s %-17s %6s %7s %9s %8s %6s %4s  %s\n"

void cd_sim_table_header(cd_buf *out, bool partition)
{
    if (partition)
        cd_buf_printf(out, ROW_FMT_P, "TIME", "PHASE", "CANARY", "PRIMARY", "PARTITION",
                      "MIRRORED", "FAILED", "ITER", "EVENTS");
    else
        cd_buf_printf(out, ROW_FMT, "TIME", "PHASE", "CANARY", "PRIMARY", "MIRRORED", "FAILED",
                      "ITER", "EVENTS");
}

static const char *phase_text(cd_phase p)
{
    const char *name = cd_phase_name(p);
    return *name ? name : "-";
}

void cd_sim_table_row(const cd_sim_row *r, cd_buf *out)
{
    char t[32], cw[16], pw[16], fc[16], it[16];
    cd_duration_format_ms(r->t_ms, t, sizeof t);
    snprintf(cw, sizeof cw, "%d", r->canary_weight);
    snprintf(pw, sizeof pw, "%d", r->primary_weight);
    snprintf(fc, sizeof fc, "%d", r->failed_checks);
    snprintf(it, sizeof it, "%d", r->iterations);
    const char *ev0 = r->n_events ? r->events[0].message : "";
    if (r->partition >= 0) {
        char pa[16];
        snprintf(pa, sizeof pa, "%d", r->partition);
        cd_buf_printf(out, ROW_FMT_P, t, phase_text(r->phase), cw, pw, pa,
                      r->mirrored ? "true" : "false", fc, it, ev0);
        for (size_t i = 1; i < r->n_events; i++)
            cd_buf_printf(out, ROW_FMT_P, "", "", "", "", "", "", "", "", r->events[i].message);
        return;
    }
    cd_buf_printf(out, ROW_FMT, t, phase_text(r->phase), cw, pw, r->mirrored ? "true" : "false",
                  fc, it, ev0);
    for (size_t i = 1; i < r->n_events; i++)
        cd_buf_printf(out, ROW_FMT, "", "", "", "", "", "", "", r->events[i].message);
}

void cd_sim_table_summary(cd_phase phase, int64_t duration_ms, int ticks, cd_buf *out)
{
    char d[32];
    cd_buf_printf(out, "\nfinal phase: %s   simulated duration: %s   ticks: %d\n",
                  phase_text(phase), cd_duration_format_ms(duration_ms, d, sizeof d), ticks);
}

static json_t *seconds(int64_t ms)
{
    if (ms % 1000 == 0)
        return json_integer(ms / 1000);
    return json_real((double)ms / 1000.0);
}

json_t *cd_sim_row_json(const cd_sim_row *r)
{
    json_t *events = json_array();
    for (size_t i = 0; i < r->n_events; i++)
        json_array_append_new(events, json_string(r->events[i].message));
    json_t *o = json_object();
    json_object_set_new(o, "t", seconds(r->t_ms));
    json_object_set_new(o, "phase", json_string(cd_phase_name(r->phase)));
    json_object_set_new(o, "canaryWeight", json_integer(r->canary_weight));
    json_object_set_new(o, "primaryWeight", json_integer(r->primary_weight));
    if (r->partition >= 0)
        json_object_set_new(o, "partition", json_integer(r->partition));
    json_object_set_new(o, "mirrored", json_boolean(r->mirrored));
    json_object_set_new(o, "failedChecks", json_integer(r->failed_checks));
    json_object_set_new(o, "iterations", json_integer(r->iterations));
    json_object_set_new(o, "events", events);
    if (r->n_judge) {   /* status.judge as the engine left it (without the test's state) */
        json_t *judge = json_array();
        for (size_t i = 0; i < r->n_judge; i++) {
            json_t *j = cd_judge_state_to_json(&r->judge[i]);
            json_object_del(j, "state");
            json_object_del(j, "lastUpdateTime");
            json_array_append_new(judge, j);
        }
        json_object_set_new(o, "judge", judge);
    }
    return o;
}

void cd_sim_table_judge(const cd_judge_state *judge, size_t n, cd_buf *out)
{
    if (!n)
        return;
    cd_canary_status view;
    cd_status_init(&view);
    view.judge = (cd_judge_state *)judge;
    view.n_judge = n;
    cd_buf_putc(out, '\n');
    cd_judge_describe(&view, out);
}

json_t *cd_sim_summary_json(cd_phase phase, int64_t duration_ms, int ticks)
{
    json_t *o = json_object();
    json_object_set_new(o, "summary", json_true());
    json_object_set_new(o, "phase", json_string(cd_phase_name(phase)));
    json_object_set_new(o, "duration", seconds(duration_ms));
    json_object_set_new(o, "ticks", json_integer(ticks));
    return o;
}

static void put_json_line(json_t *o, cd_buf *out)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (text) {
        cd_buf_puts(out, text);
        cd_buf_putc(out, '\n');
        free(text);
    }
    json_decref(o);
}

cd_phase cd_sim_render(cd_sim *s, cd_sim_format format, cd_buf *out)
{
    cd_sim_row row;
    cd_phase last = CD_PHASE_NONE;
    if (format == CD_SIM_FORMAT_TABLE)
        cd_sim_table_header(out, cd_sim_shows_partition(s));
    while (!cd_sim_done(s)) {
        cd_sim_tick(s, &row);
        last = row.phase;
        if (format == CD_SIM_FORMAT_TABLE)
            cd_sim_table_row(&row, out);
        else
            put_json_line(cd_sim_row_json(&row), out);
    }
    int ticks = cd_sim_get_stats(s)->ticks;
    if (format == CD_SIM_FORMAT_TABLE) {
        cd_sim_table_summary(last, cd_sim_elapsed_ms(s), ticks, out);
        const cd_canary_status *st = cd_sim_status(s);
        cd_sim_table_judge(st->judge, st->n_judge, out);
    }
    else
        put_json_line(cd_sim_summary_json(last, cd_sim_elapsed_ms(s), ticks), out);
    return last;
}
