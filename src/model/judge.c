/* judge.c - names, allowed effects, and the JSON of the judge's spec and
 * status entries (judge.h). Decoding of `analysis.metrics[].judge` from a
 * manifest lives in canary_decode.c next to the other metric fields. No
 * statistics and no I/O here. */
#include "model/judge.h"
#include "util/duration.h"
#include "util/timeutil.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cd_judge_test_name(cd_judge_test t) { return t == CD_JUDGE_LATENCY ? "latency" : "errors"; }

const char *cd_judge_direction_name(cd_judge_direction d)
{
    return d == CD_DIR_DECREASE ? "decrease" : d == CD_DIR_EITHER ? "either" : "increase";
}

const char *cd_judge_no_data_name(cd_judge_no_data n)
{
    return n == CD_NODATA_PASS ? "pass" : n == CD_NODATA_FAIL ? "fail" : "wait";
}

const char *cd_history_status_name(cd_history_status s)
{
    switch (s) {
    case CD_HISTORY_MISSING:
        return "Missing";
    case CD_HISTORY_USED:
        return "Used";
    case CD_HISTORY_FELL_BACK:
        return "FellBack";
    case CD_HISTORY_UNUSED:
        return "Unused";
    case CD_HISTORY_OFF:
        break;
    }
    return "Off";
}

static cd_history_status history_status_parse(const char *s)
{
    static const cd_history_status all[] = {CD_HISTORY_MISSING, CD_HISTORY_USED,
                                            CD_HISTORY_FELL_BACK, CD_HISTORY_UNUSED};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, cd_history_status_name(all[i])))
            return all[i];
    return CD_HISTORY_OFF;
}

const char *cd_verdict_name(cd_verdict v)
{
    return v == CD_VERDICT_PASS ? "Pass" : v == CD_VERDICT_FAIL ? "Fail" : "Wait";
}

static bool verdict_parse(const char *s, cd_verdict *v)
{
    if (!s)
        return false;
    if (!strcmp(s, "Pass"))
        *v = CD_VERDICT_PASS;
    else if (!strcmp(s, "Fail"))
        *v = CD_VERDICT_FAIL;
    else if (!strcmp(s, "Wait"))
        *v = CD_VERDICT_WAIT;
    else
        return false;
    return true;
}

/* ---- allowed effects ------------------------------------------------------ */

bool cd_effect_parse(const char *s, cd_judge_test test, cd_effect *e, char *why, size_t n)
{
    memset(e, 0, sizeof *e);
    e->raw = s;
    if (!s || !*s) {
        snprintf(why, n, "is empty");
        return false;
    }
    const char *p = *s == '+' || *s == '-' ? s + 1 : s;
    size_t digits = 0, i = 0;
    for (; (p[i] >= '0' && p[i] <= '9') || p[i] == '.'; i++)
        digits += p[i] != '.';
    if ((p[i] == 'e' || p[i] == 'E') && digits) {
        size_t k = i + 1 + (p[i + 1] == '-' || p[i + 1] == '+');
        if (p[k] >= '0' && p[k] <= '9') {
            i = k;
            while (p[i] >= '0' && p[i] <= '9')
                i++;
        }
    }
    errno = 0;
    char *end;
    double v = digits ? strtod(p, &end) : 0;
    if (*s == '-')
        v = -v;
    if (!digits || end != p + i || errno || !isfinite(v)) {
        snprintf(why, n, "\"%s\" is not an effect (write 0.5pp, 10%%, 50ms or a number)", s);
        return false;
    }
    if (v < 0 || (*s == '-' && digits)) {
        snprintf(why, n, "\"%s\" is negative: give the size of the change", s);
        return false;
    }
    if (!strcmp(end, "%")) {
        e->kind = CD_EFFECT_RELATIVE;
        e->value = v / 100.0;
        return true;
    }
    e->kind = CD_EFFECT_ABSOLUTE;
    if (test == CD_JUDGE_ERRORS) {
        if (!*end || !strcmp(end, "pp")) {
            if (v > 100) {
                snprintf(why, n, "\"%s\" is more than 100 percentage points", s);
                return false;
            }
            e->value = v / 100.0;
            return true;
        }
        snprintf(why, n,
                 "\"%s\": an error-rate effect is in percentage points (0.5pp) or relative "
                 "to the primary (50%%)", s);
        return false;
    }
    if (!*end || !strcmp(end, "ms")) {
        e->value = v;
        return true;
    }
    if (!strcmp(end, "s")) {
        e->value = v * 1000.0;
        return true;
    }
    snprintf(why, n,
             "\"%s\": a latency effect is relative (10%%), a duration (50ms, 0.2s) or a "
             "number in the samples' unit", s);
    return false;
}

const char *cd_effect_format(const cd_effect *e, cd_judge_test test, char *buf, size_t n)
{
    if (e->kind == CD_EFFECT_RELATIVE)
        snprintf(buf, n, "+%g%%", e->value * 100.0);
    else if (test == CD_JUDGE_ERRORS)
        snprintf(buf, n, "+%gpp", e->value * 100.0);
    else
        snprintf(buf, n, "+%g", e->value);
    return buf;
}

/* As written, or formatted without the sign. */
static const char *effect_text(const cd_effect *e, cd_judge_test test, char *buf, size_t n)
{
    return e->raw ? e->raw : cd_effect_format(e, test, buf, n) + 1;
}

json_t *cd_judge_spec_json(const cd_judge_spec *j)
{
    char ai[32], ad[32], di[32], dd[32];
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:I,s:f}", "test",
                     cd_judge_test_name(j->test), "direction",
                     cd_judge_direction_name(j->direction), "allowedIncrease",
                     effect_text(&j->allowed_increase, j->test, ai, sizeof ai), "allowedDecrease",
                     effect_text(&j->allowed_decrease, j->test, ad, sizeof ad), "detectIncrease",
                     effect_text(&j->detect_increase, j->test, di, sizeof di), "detectDecrease",
                     effect_text(&j->detect_decrease, j->test, dd, sizeof dd), "critical",
                     j->critical, "noData", cd_judge_no_data_name(j->no_data), "minSamples",
                     (json_int_t)j->min_samples, "alpha", j->alpha);
    if (o && j->step)
        json_object_set_new(o, "step", json_string(j->step));
    char h[32];
    if (o)
        json_object_set_new(o, "history",
                            json_string(j->history ? j->history
                                                   : cd_duration_format_ms(j->history_ms, h,
                                                                           sizeof h)));
    return o;
}

/* ---- status entries ----------------------------------------------------------- */

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static double num_of(const json_t *v)
{
    if (json_is_integer(v))
        return (double)json_integer_value(v);
    if (json_is_real(v))
        return json_real_value(v);
    return NAN;
}

static json_t *side_json(const cd_judge_side *s, cd_judge_test test)
{
    json_t *o = json_object();
    json_object_set_new(o, "samples", num(s->samples));
    if (test == CD_JUDGE_ERRORS) {
        json_object_set_new(o, "errors", num(s->bad));
    } else {
        json_object_set_new(o, "p50", num(s->p50));
        json_object_set_new(o, "p99", num(s->p99));
    }
    return o;
}

static void side_from(cd_judge_side *s, const json_t *o)
{
    s->samples = num_of(json_object_get(o, "samples"));
    s->bad = num_of(json_object_get(o, "errors"));
    s->p50 = num_of(json_object_get(o, "p50"));
    s->p99 = num_of(json_object_get(o, "p99"));
}

static json_t *duration_json(int64_t ms)
{
    char buf[32];
    return json_string(cd_duration_format_ms(ms, buf, sizeof buf));
}

static int64_t duration_of(const json_t *v)
{
    int64_t ms = 0;
    if (!json_is_string(v) || !cd_duration_parse_ms(json_string_value(v), &ms) || ms < 0)
        return 0;
    return ms;
}

static json_t *history_json(const cd_judge_history *h, cd_judge_test test)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(cd_history_status_name(h->status)));
    json_object_set_new(o, "window", duration_json(h->window_ms));
    json_object_set_new(o, "covered", duration_json(h->covered_ms));
    json_object_set_new(o, "samples", num(h->samples));
    if (test == CD_JUDGE_ERRORS) {
        json_object_set_new(o, "errors", num(h->bad));
        json_object_set_new(o, "rate", num(h->rate));
        json_object_set_new(o, "reference", num(h->reference));
    } else {
        json_object_set_new(o, "p50", num(h->p50));
        json_object_set_new(o, "p99", num(h->p99));
    }
    if (h->fell_back_window)
        json_object_set_new(o, "fellBackAtWindow", json_integer(h->fell_back_window));
    json_object_set_new(o, "reason", json_string(h->reason));
    return o;
}

static void history_from(cd_judge_history *h, const json_t *o)
{
    memset(h, 0, sizeof *h);
    if (!json_is_object(o))
        return;
    h->status = history_status_parse(json_string_value(json_object_get(o, "status")));
    h->window_ms = duration_of(json_object_get(o, "window"));
    h->covered_ms = duration_of(json_object_get(o, "covered"));
    h->samples = num_of(json_object_get(o, "samples"));
    h->bad = num_of(json_object_get(o, "errors"));
    h->rate = num_of(json_object_get(o, "rate"));
    h->reference = num_of(json_object_get(o, "reference"));
    h->p50 = num_of(json_object_get(o, "p50"));
    h->p99 = num_of(json_object_get(o, "p99"));
    const json_t *fb = json_object_get(o, "fellBackAtWindow");
    h->fell_back_window = json_is_integer(fb) ? (int)json_integer_value(fb) : 0;
    const json_t *r = json_object_get(o, "reason");
    if (json_is_string(r))
        snprintf(h->reason, sizeof h->reason, "%s", json_string_value(r));
}

json_t *cd_judge_state_to_json(const cd_judge_state *s)
{
    char ts[32];
    json_t *o = json_object();
    json_object_set_new(o, "metric", json_string(s->metric));
    json_object_set_new(o, "test", json_string(cd_judge_test_name(s->test)));
    json_object_set_new(o, "verdict", json_string(cd_verdict_name(s->verdict)));
    json_object_set_new(o, "reason", json_string(s->reason));
    json_object_set_new(o, "windows", json_integer(s->windows));
    json_object_set_new(o, "canary", side_json(&s->canary, s->test));
    json_object_set_new(o, "primary", side_json(&s->primary, s->test));
    json_object_set_new(o, "estimate", num(s->estimate));
    json_object_set_new(o, "lower", num(s->lower));
    json_object_set_new(o, "upper", num(s->upper));
    json_object_set_new(o, "unit", json_string(s->unit));
    json_object_set_new(o, "statistic", num(s->statistic));
    json_object_set_new(o, "statisticName", json_string(s->statistic_name));
    json_object_set_new(o, "pValue", num(s->p_value));
    json_object_set_new(o, "alpha", num(s->alpha));
    if (s->updated_ms)
        json_object_set_new(o, "lastUpdateTime", json_string(cd_rfc3339(s->updated_ms, ts)));
    if (s->history.status != CD_HISTORY_OFF || s->history.reason[0])
        json_object_set_new(o, "history", history_json(&s->history, s->test));
    json_t *values = json_array();
    for (size_t i = 0; i < s->n_acc && i < CD_JUDGE_ACC_MAX; i++)
        json_array_append_new(values, num(s->acc[i]));
    json_object_set_new(o, "state", json_pack("{s:i,s:o}", "version", s->version, "values",
                                              values));
    return o;
}

static void copy_str(char *dst, size_t n, const json_t *v)
{
    if (json_is_string(v))
        snprintf(dst, n, "%s", json_string_value(v));
}

bool cd_judge_state_from_json(cd_judge_state *s, const json_t *j)
{
    memset(s, 0, sizeof *s);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "metric")))
        return false;
    copy_str(s->metric, sizeof s->metric, json_object_get(j, "metric"));
    const char *test = json_string_value(json_object_get(j, "test"));
    s->test = test && !strcmp(test, "latency") ? CD_JUDGE_LATENCY : CD_JUDGE_ERRORS;
    cd_verdict v;
    if (verdict_parse(json_string_value(json_object_get(j, "verdict")), &v))
        s->verdict = v;
    copy_str(s->reason, sizeof s->reason, json_object_get(j, "reason"));
    json_t *w = json_object_get(j, "windows");
    s->windows = json_is_integer(w) ? (int)json_integer_value(w) : 0;
    side_from(&s->canary, json_object_get(j, "canary"));
    side_from(&s->primary, json_object_get(j, "primary"));
    s->estimate = num_of(json_object_get(j, "estimate"));
    s->lower = num_of(json_object_get(j, "lower"));
    s->upper = num_of(json_object_get(j, "upper"));
    copy_str(s->unit, sizeof s->unit, json_object_get(j, "unit"));
    s->statistic = num_of(json_object_get(j, "statistic"));
    copy_str(s->statistic_name, sizeof s->statistic_name, json_object_get(j, "statisticName"));
    s->p_value = num_of(json_object_get(j, "pValue"));
    s->alpha = num_of(json_object_get(j, "alpha"));
    const json_t *t = json_object_get(j, "lastUpdateTime");
    if (json_is_string(t))
        cd_parse_rfc3339(json_string_value(t), &s->updated_ms);
    history_from(&s->history, json_object_get(j, "history"));
    const json_t *st = json_object_get(j, "state");
    const json_t *ver = json_object_get(st, "version"), *vals = json_object_get(st, "values");
    s->version = json_is_integer(ver) ? (int)json_integer_value(ver) : 0;
    if (json_is_array(vals)) {
        size_t i;
        json_t *x;
        json_array_foreach(vals, i, x) {
            if (s->n_acc >= CD_JUDGE_ACC_MAX) {
                s->version = -1;   /* not a layout this build wrote: restart the test */
                break;
            }
            s->acc[s->n_acc++] = num_of(x);
        }
    }
    return true;
}

/* Equal as numbers are persisted: NaN equals NaN. */
static bool same(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

static bool side_equal(const cd_judge_side *a, const cd_judge_side *b, cd_judge_test test)
{
    if (!same(a->samples, b->samples))
        return false;
    return test == CD_JUDGE_ERRORS ? same(a->bad, b->bad)
                                   : same(a->p50, b->p50) && same(a->p99, b->p99);
}

static bool history_equal(const cd_judge_history *a, const cd_judge_history *b,
                          cd_judge_test test)
{
    bool numbers = test == CD_JUDGE_ERRORS
                       ? same(a->bad, b->bad) && same(a->rate, b->rate) &&
                             same(a->reference, b->reference)
                       : same(a->p50, b->p50) && same(a->p99, b->p99);
    return a->status == b->status && a->window_ms / 1000 == b->window_ms / 1000 &&
           a->covered_ms / 1000 == b->covered_ms / 1000 && same(a->samples, b->samples) &&
           numbers && a->fell_back_window == b->fell_back_window && !strcmp(a->reason, b->reason);
}

bool cd_judge_state_equal(const cd_judge_state *a, const cd_judge_state *b)
{
    if (strcmp(a->metric, b->metric) || a->test != b->test || a->verdict != b->verdict ||
        strcmp(a->reason, b->reason) || a->windows != b->windows ||
        !side_equal(&a->canary, &b->canary, a->test) ||
        !side_equal(&a->primary, &b->primary, a->test) || strcmp(a->unit, b->unit) ||
        !same(a->estimate, b->estimate) || !same(a->lower, b->lower) ||
        !same(a->upper, b->upper) || strcmp(a->statistic_name, b->statistic_name) ||
        !same(a->statistic, b->statistic) || !same(a->p_value, b->p_value) ||
        !same(a->alpha, b->alpha) || a->updated_ms / 1000 != b->updated_ms / 1000 ||
        a->version != b->version || a->n_acc != b->n_acc || !history_equal(&a->history, &b->history, a->test))
        return false;
    for (size_t i = 0; i < a->n_acc && i < CD_JUDGE_ACC_MAX; i++)
        if (!same(a->acc[i], b->acc[i]))
            return false;
    return true;
}
