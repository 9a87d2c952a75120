/* history.c - the bounded per-canary history the dashboard draws (docs/
 * dashboard.md): weights, phases and metric values over time, in memory.
 * The journal (events.jsonl) keeps what happened in words; this keeps the
 * numbers. A fixed ring: never grows beyond LC_HISTORY_MAX points, never
 * touches the disk, never blocks (called with L->lock held). */
#include "local/local.h"
#include "util/timeutil.h"
#include <stdlib.h>
#include <string.h>

static lc_history_point *last_point(lc_history *h)
{
    return h->n ? &h->points[(h->start + h->n - 1) % LC_HISTORY_MAX] : NULL;
}

void lc_history_note(lc_canary *c, int64_t now_ms)
{
    lc_history *h = &c->history;
    lc_history_point p = {.at_ms = now_ms,
                          .canary_weight = c->status.canary_weight,
                          .primary_weight = 100 - c->status.canary_weight,
                          .phase = (int)c->status.phase};
    for (size_t k = 0; k < c->n_metrics && k < LC_HISTORY_METRICS; k++) {
        const lc_metric_view *m = &c->metrics[k];
        if (m->at_ms > h->metric_at[k] && m->has_value) {
            p.has |= 1u << k;
            p.values[k] = m->value;
        }
        if (m->at_ms > h->metric_at[k])
            h->metric_at[k] = m->at_ms;
    }
    lc_history_point *last = last_point(h);
    if (last && !p.has && last->phase == p.phase && last->canary_weight == p.canary_weight &&
        last->primary_weight == p.primary_weight)
        return;
    if (!h->points && !(h->points = calloc(LC_HISTORY_MAX, sizeof *h->points)))
        abort();
    if (h->n == LC_HISTORY_MAX) {   /* the oldest point goes */
        h->start = (h->start + 1) % LC_HISTORY_MAX;
        h->n--;
    }
    h->points[(h->start + h->n++) % LC_HISTORY_MAX] = p;
}

json_t *lc_history_json(const lc_canary *c)
{
    const lc_history *h = &c->history;
    json_t *names = json_array(), *points = json_array();
    for (size_t k = 0; k < c->n_metrics && k < LC_HISTORY_METRICS; k++)
        json_array_append_new(names, json_string(c->metrics[k].name));
    for (size_t i = 0; i < h->n; i++) {
        const lc_history_point *p = &h->points[(h->start + i) % LC_HISTORY_MAX];
        char ts[32];
        json_t *vals = json_array();
        for (size_t k = 0; k < c->n_metrics && k < LC_HISTORY_METRICS; k++)
            json_array_append_new(vals, p->has & (1u << k) ? json_real(p->values[k]) : json_null());
        json_array_append_new(
            points, json_pack("{s:s,s:I,s:s,s:i,s:i,s:o}", "time", cd_rfc3339(p->at_ms, ts),
                              "timeMs", (json_int_t)p->at_ms, "phase",
                              cd_phase_name((cd_phase)p->phase), "canaryWeight", p->canary_weight,
                              "primaryWeight", p->primary_weight, "values", vals));
    }
    return json_pack("{s:o,s:o,s:i}", "metrics", names, "points", points, "capacity",
                     LC_HISTORY_MAX);
}

void lc_history_free(lc_history *h)
{
    free(h->points);
    memset(h, 0, sizeof *h);
}
