/* judge.c - the statistical judge (judge.h): one window in, a verdict and
 * its explanation out, the sequential state carried in status.judge.
 *
 * Decision rule, per judged metric and tick (docs/judge.md):
 *  1. fail   when the always-valid p-value is at most alpha (the canary is
 *            worse than the primary, with the false-rollback guarantee
 *            holding over the whole rollout) AND the estimated change is
 *            larger than the allowed effect;
 *  2. pass   when both sides have at least minSamples samples and 1 does
 *            not hold;
 *  3. otherwise the noData policy: wait (hold promotion, keep stepping),
 *            pass, or fail (a failed check, never an immediate rollback).
 * Must not do I/O except through the metrics port in cd_judge_metric. */
#include "judge/judge.h"
#include "judge/mannwhitney.h"
#include "judge/sequential.h"
#include "judge/stats.h"
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* acc layout (CD_JUDGE_STATE_VERSION 1) */
enum { E_LOG_LR = 0, E_LOG_EMAX = CD_ODDS_STATE, E_N };
enum { L_S = 0, L_V, L_LOG_MAX, L_W, L_WTHETA, L_W2SE2, L_N };

typedef enum { OUT_PASS, OUT_WAIT, OUT_FAIL_EVIDENCE, OUT_FAIL_NO_DATA } outcome;

static size_t acc_size(cd_judge_test t) { return t == CD_JUDGE_ERRORS ? E_N : L_N; }

static void reset_state(cd_judge_state *st, const cd_judge_spec *spec)
{
    char metric[CD_JUDGE_METRIC_MAX];
    memcpy(metric, st->metric, sizeof metric);
    memset(st, 0, sizeof *st);
    memcpy(st->metric, metric, sizeof metric);
    st->test = spec->test;
    st->version = CD_JUDGE_STATE_VERSION;
    st->n_acc = acc_size(spec->test);
    st->canary.p50 = st->canary.p99 = st->primary.p50 = st->primary.p99 = NAN;
}

static bool state_usable(const cd_judge_state *st, const cd_judge_spec *spec)
{
    if (st->version != CD_JUDGE_STATE_VERSION || st->test != spec->test ||
        st->n_acc != acc_size(spec->test))
        return false;
    for (size_t i = 0; i < st->n_acc; i++)
        if (!isfinite(st->acc[i]))
            return false;
    return isfinite(st->canary.samples) && isfinite(st->primary.samples) &&
           st->canary.samples >= 0 && st->primary.samples >= 0;
}

static void say(cd_judge_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(cd_judge_state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    va_end(ap);
}

static double min2(double a, double b) { return a < b ? a : b; }

/* "p 0.0031 <= alpha 0.005" or "p 0.41" */
static const char *p_text(const cd_judge_state *st, char *buf, size_t n)
{
    if (st->p_value <= st->alpha)
        snprintf(buf, n, "always-valid p %.3g <= alpha %g", st->p_value, st->alpha);
    else
        snprintf(buf, n, "always-valid p %.3g", st->p_value);
    return buf;
}

/* The no-data policy below minSamples. */
static outcome not_enough(const cd_judge_spec *spec, cd_judge_state *st, const char *what,
                          const char *summary)
{
    double have = min2(st->canary.samples, st->primary.samples);
    const char *side = st->canary.samples <= st->primary.samples ? "canary" : "primary";
    switch (spec->no_data) {
    case CD_NODATA_PASS:
        st->verdict = CD_VERDICT_PASS;
        say(st, "only %.0f of %lld %s %s so far, passing (noData: pass); %s", have,
            (long long)spec->min_samples, side, what, summary);
        return OUT_PASS;
    case CD_NODATA_FAIL:
        st->verdict = CD_VERDICT_FAIL;
        say(st, "only %.0f of %lld %s %s so far (noData: fail); %s", have,
            (long long)spec->min_samples, side, what, summary);
        return OUT_FAIL_NO_DATA;
    case CD_NODATA_WAIT:
        break;
    }
    st->verdict = CD_VERDICT_WAIT;
    say(st, "waiting for evidence: %.0f of %lld %s %s so far; %s", have,
        (long long)spec->min_samples, side, what, summary);
    return OUT_WAIT;
}

static outcome decide(const cd_judge_spec *spec, cd_judge_state *st, bool significant, bool harm,
                      const char *what, const char *summary, const char *allowed)
{
    char p[96];
    if (significant && harm) {
        st->verdict = CD_VERDICT_FAIL;
        say(st, "worse than the primary: %s, more than the allowed %s; %s", summary, allowed,
            p_text(st, p, sizeof p));
        return OUT_FAIL_EVIDENCE;
    }
    if (min2(st->canary.samples, st->primary.samples) >= (double)spec->min_samples) {
        st->verdict = CD_VERDICT_PASS;
        if (significant)
            say(st, "different from the primary but within the allowed %s: %s; %s", allowed,
                summary, p_text(st, p, sizeof p));
        else
            say(st, "no evidence of harm after %.0f canary %s: %s (allowed %s); %s",
                st->canary.samples, what, summary, allowed, p_text(st, p, sizeof p));
        return OUT_PASS;
    }
    char tail[CD_JUDGE_REASON_MAX];
    snprintf(tail, sizeof tail, "%s; %s", summary, p_text(st, p, sizeof p));
    return not_enough(spec, st, what, tail);
}

/* ---- errors ------------------------------------------------------------------- */

/* Wilson score interval for x of n at z. */
static void wilson(double x, double n, double z, double *lo, double *hi)
{
    double p = x / n, z2 = z * z, den = n + z2;
    double center = (x + z2 / 2.0) / den;
    double half = z * sqrt(p * (1.0 - p) * n + z2 / 4.0) / den;
    *lo = center - half < 0 ? 0 : center - half;
    *hi = center + half > 1 ? 1 : center + half;
}

/* Newcombe's hybrid score interval for p1 - p2 (his method 10). */
static void newcombe(double x1, double n1, double x2, double n2, double z, double *lo, double *hi)
{
    if (!(n1 > 0) || !(n2 > 0)) {
        *lo = *hi = NAN;
        return;
    }
    double p1 = x1 / n1, p2 = x2 / n2, l1, u1, l2, u2;
    wilson(x1, n1, z, &l1, &u1);
    wilson(x2, n2, z, &l2, &u2);
    *lo = p1 - p2 - sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2));
    *hi = p1 - p2 + sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2));
}

static double allowed_errors(const cd_effect *e, double primary_rate)
{
    return e->kind == CD_EFFECT_RELATIVE ? e->value * primary_rate : e->value;
}

static const char *allowed_text(const cd_judge_spec *spec, char *buf, size_t n)
{
    char a[32], b[32];
    if (spec->direction == CD_DIR_INCREASE)
        return cd_effect_format(&spec->allowed_increase, spec->test, buf, n);
    cd_effect_format(&spec->allowed_decrease, spec->test, b, sizeof b);
    b[0] = '-';
    if (spec->direction == CD_DIR_DECREASE)
        snprintf(buf, n, "%s", b);
    else
        snprintf(buf, n, "%s/%s", cd_effect_format(&spec->allowed_increase, spec->test, a,
                                                   sizeof a), b);
    return buf;
}

static outcome judge_errors(const cd_judge_spec *spec, cd_judge_state *st,
                            const cd_judge_window *w)
{
    double *lr = st->acc + E_LOG_LR;
    if (cd_odds_update(lr, w->canary_total, w->canary_bad, w->primary_total, w->primary_bad)) {
        st->canary.samples += floor(w->canary_total);
        st->canary.bad += floor(w->canary_bad);
        st->primary.samples += floor(w->primary_total);
        st->primary.bad += floor(w->primary_bad);
    }
    double nc = st->canary.samples, np = st->primary.samples;
    double pc = nc > 0 ? st->canary.bad / nc : NAN, pp = np > 0 ? st->primary.bad / np : NAN;
    double diff = pc - pp;
    double log_e = cd_odds_log_e(lr, (int)spec->direction);
    if (log_e > st->acc[E_LOG_EMAX])
        st->acc[E_LOG_EMAX] = log_e;
    st->statistic = exp(log_e);
    snprintf(st->statistic_name, sizeof st->statistic_name, "e-value");
    st->p_value = fmin(1.0, exp(-st->acc[E_LOG_EMAX]));
    st->estimate = diff * 100.0;
    double lo, hi;
    newcombe(st->canary.bad, nc, st->primary.bad, np, cd_norm_quantile(1.0 - spec->alpha / 2.0),
             &lo, &hi);
    st->lower = lo * 100.0;
    st->upper = hi * 100.0;
    snprintf(st->unit, sizeof st->unit, "pp");

    double base = isfinite(pp) ? pp : 0;
    bool harm = false;
    if (isfinite(diff)) {
        bool up = spec->direction == CD_DIR_INCREASE ||
                  (spec->direction == CD_DIR_EITHER && diff > 0);
        harm = up ? diff > allowed_errors(&spec->allowed_increase, base)
                  : -diff > allowed_errors(&spec->allowed_decrease, base);
    }
    char summary[256], allowed[64];
    if (nc > 0 && np > 0)
        snprintf(summary, sizeof summary,
                 "canary %.2f%% (%.0f/%.0f) vs primary %.2f%% (%.0f/%.0f) errors, %+.2fpp",
                 pc * 100.0, st->canary.bad, nc, pp * 100.0, st->primary.bad, np, diff * 100.0);
    else
        snprintf(summary, sizeof summary, "canary %.0f and primary %.0f requests", nc, np);
    allowed_text(spec, allowed, sizeof allowed);
    bool significant = st->acc[E_LOG_EMAX] >= -log(spec->alpha);
    return decide(spec, st, significant, harm, "requests", summary, allowed);
}

/* ---- latency ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Samples beyond this magnitude (31 years in ms) are not measurements:
 * they are dropped like NaN, which keeps every difference finite. */
#define MAX_SAMPLE 1e12

/* Finite values, optionally on the log scale; sorted. */
static double *prepared(const double *v, size_t n, bool logscale, size_t *out)
{
    *out = 0;
    double *s = n ? malloc(n * sizeof *s) : NULL;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || fabs(v[i]) > MAX_SAMPLE)
            continue;
        s[(*out)++] = logscale ? log(v[i] > 1e-9 ? v[i] : 1e-9) : v[i];
    }
    qsort(s, *out, sizeof *s, cmp_double);
    return s;
}

/* Quantile q of sorted values (linear interpolation between order statistics). */
static double quantile(const double *s, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    return i + 1 < n ? s[i] + (h - (double)i) * (s[i + 1] - s[i]) : s[n - 1];
}

static void window_quantiles(const double *sorted, size_t n, bool logscale, cd_judge_side *side)
{
    side->p50 = quantile(sorted, n, 0.50);
    side->p99 = quantile(sorted, n, 0.99);
    if (logscale && n) {
        side->p50 = exp(side->p50);
        side->p99 = exp(side->p99);
    }
}

/* The allowed shift on the scale the test estimates on. */
static double allowed_shift(const cd_effect *e, bool increase)
{
    if (e->kind == CD_EFFECT_ABSOLUTE)
        return e->value;
    if (increase)
        return log1p(e->value);
    return e->value >= 1 ? INFINITY : -log1p(-e->value);
}

static double shown(double theta, bool relative)
{
    return relative ? (exp(theta) - 1.0) * 100.0 : theta;
}

static bool spec_relative(const cd_judge_spec *spec)
{
    const cd_effect *e = spec->direction == CD_DIR_DECREASE ? &spec->allowed_decrease
                                                            : &spec->allowed_increase;
    return e->kind == CD_EFFECT_RELATIVE;
}

static void add_window(cd_judge_state *st, const double *xs, size_t m, const double *ys, size_t n)
{
    cd_mw mw;
    cd_hl hl;
    if (!m || !n || !cd_mw_test(xs, m, ys, n, &mw) || !cd_hl_shift(xs, m, ys, n, 0.95, &hl))
        return;
    cd_rank_update(&st->acc[L_S], &st->acc[L_V], &mw);
    double w = (double)m * (double)n / (double)(m + n + 1);
    double se = (hl.upper - hl.lower) / (2.0 * 1.959963984540054);
    st->acc[L_W] += w;
    st->acc[L_WTHETA] += w * hl.estimate;
    st->acc[L_W2SE2] += w * w * se * se;
}

static outcome judge_latency(const cd_judge_spec *spec, cd_judge_state *st,
                             const cd_judge_window *w)
{
    bool relative = spec_relative(spec);
    size_t m = 0, n = 0;
    double *xs = prepared(w->canary, w->n_canary, relative, &m);
    double *ys = prepared(w->primary, w->n_primary, relative, &n);
    window_quantiles(xs, m, relative, &st->canary);
    window_quantiles(ys, n, relative, &st->primary);
    add_window(st, xs, m, ys, n);
    st->canary.samples += (double)m;
    st->primary.samples += (double)n;
    free(xs);
    free(ys);

    double s = st->acc[L_S], v = st->acc[L_V];
    double log_l = cd_rank_log_lambda(s, v, CD_RANK_RHO, (int)spec->direction);
    if (log_l > st->acc[L_LOG_MAX])
        st->acc[L_LOG_MAX] = log_l;
    st->p_value = fmin(1.0, exp(-st->acc[L_LOG_MAX]));
    st->statistic = v > 0 ? s / sqrt(v) : 0.0;
    snprintf(st->statistic_name, sizeof st->statistic_name, "z");
    double theta = st->acc[L_W] > 0 ? st->acc[L_WTHETA] / st->acc[L_W] : NAN;
    double se = st->acc[L_W] > 0 ? sqrt(st->acc[L_W2SE2]) / st->acc[L_W] : NAN;
    double z = cd_norm_quantile(1.0 - spec->alpha / 2.0);
    st->estimate = shown(theta, relative);
    st->lower = shown(theta - z * se, relative);
    st->upper = shown(theta + z * se, relative);
    bool ms = !relative && spec->allowed_increase.raw &&
              (strstr(spec->allowed_increase.raw, "ms") || strchr(spec->allowed_increase.raw, 's'));
    snprintf(st->unit, sizeof st->unit, "%s", relative ? "%" : ms ? "ms" : "");

    bool harm = false;
    if (isfinite(theta)) {
        bool up = spec->direction == CD_DIR_INCREASE ||
                  (spec->direction == CD_DIR_EITHER && theta > 0);
        harm = up ? theta > allowed_shift(&spec->allowed_increase, true)
                  : -theta > allowed_shift(&spec->allowed_decrease, false);
    }
    char summary[256], allowed[64];
    if (isfinite(st->canary.p50) && isfinite(st->primary.p50))
        snprintf(summary, sizeof summary,
                 "canary p50 %.4g p99 %.4g vs primary p50 %.4g p99 %.4g, shift %+.3g%s",
                 st->canary.p50, st->canary.p99, st->primary.p50, st->primary.p99, st->estimate,
                 st->unit);
    else if (isfinite(theta))
        snprintf(summary, sizeof summary, "no samples on %s in the last window, shift %+.3g%s",
                 isfinite(st->canary.p50) ? "the primary" : "the canary", st->estimate, st->unit);
    else
        snprintf(summary, sizeof summary, "canary %.0f and primary %.0f samples",
                 st->canary.samples, st->primary.samples);
    allowed_text(spec, allowed, sizeof allowed);
    bool significant = st->acc[L_LOG_MAX] >= -log(spec->alpha);
    return decide(spec, st, significant, harm, "samples", summary, allowed);
}

/* ---- the seam -------------------------------------------------------------------- */

/* What the status reports is a number JSON can carry: NaN (null) or
 * finite; an overflow is reported as the largest double. */
static double reportable(double v)
{
    if (isinf(v))
        return v > 0 ? DBL_MAX : -DBL_MAX;
    return v;
}

static void make_reportable(cd_judge_state *st)
{
    double *fields[] = {&st->estimate, &st->lower, &st->upper, &st->statistic, &st->p_value,
                        &st->canary.p50, &st->canary.p99, &st->primary.p50, &st->primary.p99};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        *fields[i] = reportable(*fields[i]);
}

static outcome update(const cd_judge_spec *spec, cd_judge_state *st, const cd_judge_window *w,
                      int64_t now_ms)
{
    if (!state_usable(st, spec))
        reset_state(st, spec);
    st->alpha = spec->alpha;
    st->windows++;
    st->updated_ms = now_ms;
    outcome o = spec->test == CD_JUDGE_ERRORS ? judge_errors(spec, st, w) : judge_latency(spec, st, w);
    make_reportable(st);
    return o;
}

void cd_judge_update(const cd_judge_spec *spec, cd_judge_state *st, const cd_judge_window *w,
                     int64_t now_ms)
{
    update(spec, st, w, now_ms);
}

static cd_metric_rc side_counts(const cd_metrics_port *mp, const cd_canary_ref *c,
                                const cd_metric *m, const char *which, double *total,
                                double *bad, cd_err *err)
{
    *total = *bad = 0;
    cd_metric_rc rc;
    if (mp->counts) {
        uint64_t t = 0, b = 0;
        rc = mp->counts(mp->ctx, c, m, which, &t, &b, err);
        if (rc == CD_METRIC_OK) {
            *total = (double)t;
            *bad = (double)(b < t ? b : t);
        }
    } else {   /* one sample per request: non-zero means it failed */
        double *v = NULL;
        size_t n = 0;
        rc = mp->samples(mp->ctx, c, m, which, &v, &n, err);
        for (size_t i = 0; rc == CD_METRIC_OK && v && i < n; i++) {
            if (!isfinite(v[i]))
                continue;
            *total += 1;
            *bad += v[i] != 0;
        }
    }
    return rc == CD_METRIC_NO_DATA ? CD_METRIC_OK : rc;
}

/* Copies a side's samples: the port keeps ownership of its array only
 * until its next call. */
static cd_metric_rc side_samples(const cd_metrics_port *mp, const cd_canary_ref *c,
                                 const cd_metric *m, const char *which, double **out, size_t *n,
                                 cd_err *err)
{
    double *v = NULL;
    size_t k = 0;
    *out = NULL;
    *n = 0;
    cd_metric_rc rc = mp->samples(mp->ctx, c, m, which, &v, &k, err);
    if (rc == CD_METRIC_NO_DATA)
        return CD_METRIC_OK;
    if (rc != CD_METRIC_OK || !v || !k)
        return rc;
    *out = malloc(k * sizeof **out);
    if (!*out) {
        snprintf(err->msg, sizeof err->msg, "out of memory copying %zu samples", k);
        return CD_METRIC_ERROR;
    }
    memcpy(*out, v, k * sizeof **out);
    *n = k;
    return CD_METRIC_OK;
}

static cd_metric_rc read_window(const cd_metrics_port *mp, const cd_canary_ref *c,
                                const cd_metric *m, cd_judge_window *w, double **keep_c,
                                double **keep_p, cd_err *err)
{
    const cd_judge_spec *spec = m->judge;
    memset(w, 0, sizeof *w);
    *keep_c = *keep_p = NULL;
    if (!mp->samples && !(spec->test == CD_JUDGE_ERRORS && mp->counts)) {
        snprintf(err->msg, sizeof err->msg,
                 "the metrics provider gives no samples to the statistical judge");
        return CD_METRIC_ERROR;
    }
    cd_metric_rc rc;
    if (spec->test == CD_JUDGE_ERRORS) {
        rc = side_counts(mp, c, m, "canary", &w->canary_total, &w->canary_bad, err);
        if (rc == CD_METRIC_OK)
            rc = side_counts(mp, c, m, "primary", &w->primary_total, &w->primary_bad, err);
        return rc;
    }
    rc = side_samples(mp, c, m, "canary", keep_c, &w->n_canary, err);
    if (rc == CD_METRIC_OK)
        rc = side_samples(mp, c, m, "primary", keep_p, &w->n_primary, err);
    w->canary = *keep_c;
    w->primary = *keep_p;
    return rc;
}

cd_metric_rc cd_judge_metric(void *ctx, const cd_metrics_port *mp, const cd_canary_ref *c,
                             const cd_metric *m, int64_t now_ms, cd_judge_verdict *v,
                             cd_err *err)
{
    (void)ctx;
    memset(v, 0, sizeof *v);
    if (!m->judge || !c->status) {
        snprintf(err->msg, sizeof err->msg, "metric %s is not judged", m->name ? m->name : "");
        return CD_METRIC_ERROR;
    }
    cd_judge_window w;
    double *keep_c, *keep_p;
    cd_metric_rc rc = read_window(mp, c, m, &w, &keep_c, &keep_p, err);
    if (rc == CD_METRIC_OK) {
        cd_judge_state *st = cd_status_judge_find(c->status, m->name);
        if (!st)
            st = cd_status_judge_add(c->status, m->name);
        outcome o = update(m->judge, st, &w, now_ms);
        v->pass = o == OUT_PASS || o == OUT_WAIT;
        v->hold = o == OUT_WAIT;
        v->rollback = o == OUT_FAIL_EVIDENCE && m->judge->critical;
        v->score = st->estimate;
        snprintf(v->reason, sizeof v->reason, "%s", st->reason);
    }
    free(keep_c);
    free(keep_p);
    return rc;
}
