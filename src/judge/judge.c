/* judge.c - the statistical judge (judge.h): one window in, a verdict and
 * its explanation out, the sequential state carried in status.judge.
 *
 * Decision rule, per judged metric and tick (docs/judge.md):
 *  1. fail   when the always-valid p-value is at most alpha (the canary is
 *            worse than the primary, with the false-rollback guarantee
 *            holding over the whole rollout) AND the estimated change is
 *            larger than the allowed effect;
 *  2. below minSamples on either side: the noData policy - wait (hold
 *            promotion, keep stepping), pass, or fail (a failed check,
 *            never an immediate rollback);
 *  3. pass   when an always-valid bound rules out the change to detect;
 *  4. wait   otherwise.
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

/* What the judge concluded from the numbers, for decide(). */
typedef struct findings {
    bool significant;           /* always-valid p <= alpha */
    bool harm;                  /* the estimate is beyond the allowed change */
    bool bounded;               /* the evidence rules out the change to detect */
    const char *what;           /* "requests" or "samples" */
    char summary[256];          /* the comparison, with the estimate */
    char allowed[64], detect[64];
    char bound[64];             /* how large the change could still be */
} findings;

static outcome decide(const cd_judge_spec *spec, cd_judge_state *st, const findings *f)
{
    char p[96], tail[CD_JUDGE_REASON_MAX];
    p_text(st, p, sizeof p);
    if (f->significant && f->harm) {
        st->verdict = CD_VERDICT_FAIL;
        say(st, "worse than the primary: %s, more than the allowed %s; %s", f->summary,
            f->allowed, p);
        return OUT_FAIL_EVIDENCE;
    }
    if (min2(st->canary.samples, st->primary.samples) < (double)spec->min_samples) {
        snprintf(tail, sizeof tail, "%s; %s", f->summary, p);
        return not_enough(spec, st, f->what, tail);
    }
    if (f->bounded) {
        st->verdict = CD_VERDICT_PASS;
        if (f->significant)
            say(st, "different from the primary but within the allowed %s, and %s ruled out: %s; "
                "%s", f->allowed, f->detect, f->summary, p);
        else
            say(st, "no evidence of harm, and %s ruled out: %s (at most %s); %s", f->detect,
                f->summary, f->bound, p);
        return OUT_PASS;
    }
    st->verdict = CD_VERDICT_WAIT;
    say(st, "not yet conclusive: %s, could still be %s (%s must be ruled out to promote); %s",
        f->summary, f->bound, f->detect, p);
    return OUT_WAIT;
}

/* ---- errors ------------------------------------------------------------------- */

static double allowed_errors(const cd_effect *e, double primary_rate)
{
    return e->kind == CD_EFFECT_RELATIVE ? e->value * primary_rate : e->value;
}

/* "+0.5pp", "-10%", "+0.5pp/-0.5pp": the effects of the spec's direction. */
static const char *effects_text(const cd_judge_spec *spec, const cd_effect *inc,
                                const cd_effect *dec, char *buf, size_t n)
{
    char a[32], b[32];
    if (spec->direction == CD_DIR_INCREASE)
        return cd_effect_format(inc, spec->test, buf, n);
    cd_effect_format(dec, spec->test, b, sizeof b);
    b[0] = '-';
    if (spec->direction == CD_DIR_DECREASE)
        snprintf(buf, n, "%s", b);
    else
        snprintf(buf, n, "%s/%s", cd_effect_format(inc, spec->test, a, sizeof a), b);
    return buf;
}

static bool looks_up(const cd_judge_spec *spec) { return spec->direction != CD_DIR_DECREASE; }
static bool looks_down(const cd_judge_spec *spec) { return spec->direction != CD_DIR_INCREASE; }

/* The errors test. Rollback: the odds-ratio e-process (sequential.h).
 * Promotion: always-valid confidence sequences for each side's error
 * rate (alpha/2 each) bound the difference; it must exclude the change to
 * detect. Both sides' counts are pooled over the rollout for the bounds
 * and the estimate. */
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
    st->statistic = exp(fmin(log_e, 700.0));
    snprintf(st->statistic_name, sizeof st->statistic_name, "e-value");
    st->p_value = fmin(1.0, exp(-st->acc[E_LOG_EMAX]));
    st->estimate = diff * 100.0;
    double lc, uc, lp, up;
    cd_binom_cs(st->canary.bad, nc, spec->alpha / 2.0, &lc, &uc);
    cd_binom_cs(st->primary.bad, np, spec->alpha / 2.0, &lp, &up);
    st->lower = (lc - up) * 100.0;
    st->upper = (uc - lp) * 100.0;
    snprintf(st->unit, sizeof st->unit, "pp");

    findings f = {0};
    double base = isfinite(pp) ? pp : 0;
    if (isfinite(diff)) {
        bool up_side = spec->direction == CD_DIR_INCREASE ||
                       (spec->direction == CD_DIR_EITHER && diff > 0);
        f.harm = up_side ? diff > allowed_errors(&spec->allowed_increase, base)
                         : -diff > allowed_errors(&spec->allowed_decrease, base);
    }
    f.significant = st->acc[E_LOG_EMAX] >= -log(spec->alpha);
    /* relative changes are bounded against the primary's lowest plausible rate */
    bool up_ok = spec->detect_increase.kind == CD_EFFECT_RELATIVE
                     ? uc < lp * (1.0 + spec->detect_increase.value)
                     : uc - lp < spec->detect_increase.value;
    bool down_ok = spec->detect_decrease.kind == CD_EFFECT_RELATIVE
                       ? lc > up * (1.0 - spec->detect_decrease.value)
                       : up - lc < spec->detect_decrease.value;
    f.bounded = nc > 0 && np > 0 && (!looks_up(spec) || up_ok) && (!looks_down(spec) || down_ok);
    f.what = "requests";
    if (nc > 0 && np > 0)
        snprintf(f.summary, sizeof f.summary,
                 "canary %.2f%% (%.0f/%.0f) vs primary %.2f%% (%.0f/%.0f) errors, %+.2fpp",
                 pc * 100.0, st->canary.bad, nc, pp * 100.0, st->primary.bad, np, diff * 100.0);
    else
        snprintf(f.summary, sizeof f.summary, "canary %.0f and primary %.0f requests", nc, np);
    if (spec->direction == CD_DIR_INCREASE)
        snprintf(f.bound, sizeof f.bound, "%+.2fpp", st->upper);
    else if (spec->direction == CD_DIR_DECREASE)
        snprintf(f.bound, sizeof f.bound, "%+.2fpp", st->lower);
    else
        snprintf(f.bound, sizeof f.bound, "%+.2fpp to %+.2fpp", st->lower, st->upper);
    effects_text(spec, &spec->allowed_increase, &spec->allowed_decrease, f.allowed,
                 sizeof f.allowed);
    effects_text(spec, &spec->detect_increase, &spec->detect_decrease, f.detect, sizeof f.detect);
    return decide(spec, st, &f);
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

/* The values the tests compare, optionally on the log scale; sorted. +Inf
 * counts as the largest value there can be (MAX_SAMPLE): it is what
 * Prometheus' histogram_quantile answers when the quantile lies above the
 * largest bucket, the slowest a side can be, so it must rank last, not
 * vanish. NaN (no requests in the step), -Inf and absurd values are
 * dropped. */
static double *prepared(const double *v, size_t n, bool logscale, size_t *out)
{
    *out = 0;
    double *s = n ? malloc(n * sizeof *s) : NULL;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        double x = isinf(v[i]) && v[i] > 0 ? MAX_SAMPLE : v[i];
        if (!isfinite(x) || fabs(x) > MAX_SAMPLE)
            continue;
        s[(*out)++] = logscale ? log(x > 1e-9 ? x : 1e-9) : x;
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

/* The latency test. Rollback: the rank mSPRT (sequential.h). Promotion:
 * the combined Hodges-Lehmann shift with an always-valid normal-mixture
 * radius (prior scale: the change to detect) must exclude that change. */
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
    double det_up = allowed_shift(&spec->detect_increase, true);
    double det_down = allowed_shift(&spec->detect_decrease, false);
    double scale = looks_up(spec) ? det_up : det_down;
    double r = cd_normal_cs_radius(se, isfinite(scale) && scale > 0 ? scale : 1.0, spec->alpha);
    st->estimate = shown(theta, relative);
    st->lower = shown(theta - r, relative);
    st->upper = shown(theta + r, relative);
    bool ms = !relative && spec->allowed_increase.raw &&
              (strstr(spec->allowed_increase.raw, "ms") || strchr(spec->allowed_increase.raw, 's'));
    snprintf(st->unit, sizeof st->unit, "%s", relative ? "%" : ms ? "ms" : "");

    findings f = {0};
    if (isfinite(theta)) {
        bool up = spec->direction == CD_DIR_INCREASE ||
                  (spec->direction == CD_DIR_EITHER && theta > 0);
        f.harm = up ? theta > allowed_shift(&spec->allowed_increase, true)
                    : -theta > allowed_shift(&spec->allowed_decrease, false);
        f.bounded = isfinite(r) && (!looks_up(spec) || theta + r < det_up) &&
                    (!looks_down(spec) || theta - r > -det_down);
    }
    f.significant = st->acc[L_LOG_MAX] >= -log(spec->alpha);
    f.what = "samples";
    if (isfinite(st->canary.p50) && isfinite(st->primary.p50))
        snprintf(f.summary, sizeof f.summary,
                 "canary p50 %.4g p99 %.4g vs primary p50 %.4g p99 %.4g, shift %+.3g%s",
                 st->canary.p50, st->canary.p99, st->primary.p50, st->primary.p99, st->estimate,
                 st->unit);
    else if (isfinite(theta))
        snprintf(f.summary, sizeof f.summary, "no samples on %s in the last window, shift %+.3g%s",
                 isfinite(st->canary.p50) ? "the primary" : "the canary", st->estimate, st->unit);
    else
        snprintf(f.summary, sizeof f.summary, "canary %.0f and primary %.0f samples",
                 st->canary.samples, st->primary.samples);
    if (spec->direction == CD_DIR_INCREASE)
        snprintf(f.bound, sizeof f.bound, "%+.3g%s", st->upper, st->unit);
    else if (spec->direction == CD_DIR_DECREASE)
        snprintf(f.bound, sizeof f.bound, "%+.3g%s", st->lower, st->unit);
    else
        snprintf(f.bound, sizeof f.bound, "%+.3g%s to %+.3g%s", st->lower, st->unit, st->upper,
                 st->unit);
    effects_text(spec, &spec->allowed_increase, &spec->allowed_decrease, f.allowed,
                 sizeof f.allowed);
    effects_text(spec, &spec->detect_increase, &spec->detect_decrease, f.detect, sizeof f.detect);
    return decide(spec, st, &f);
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
