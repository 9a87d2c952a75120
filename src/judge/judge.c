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
#include "judge/history.h"
#include "judge/mannwhitney.h"
#include "judge/sequential.h"
#include "judge/stats.h"
#include "util/duration.h"
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* acc layout (CD_JUDGE_STATE_VERSION 2) */
enum {
    E_LOG_LR = 0, E_LOG_EMAX = CD_ODDS_STATE,   /* the same-window test */
    E_HN, E_HX, E_HLEVEL, E_HREF,               /* the history's plan; E_HN < 0: none */
    E_H_LOG, E_H_MAX,                           /* the history test */
    E_UI_MAX,                                   /* its step guard */
    E_DRIFT_UP, E_DRIFT_DOWN,                   /* the drift monitor */
    E_SWITCH,                                   /* window the history was retired at (0: not) */
    E_P_LOG, E_P_MAX,                           /* the promotion test */
    E_N
};
enum {
    L_S = 0, L_V, L_LOG_MAX, L_W, L_WTHETA, L_W2SE2,   /* the same-window test */
    L_HMEDIAN,                  /* the history's median (NaN: none) */
    L_ABOVE, L_COUNTED,         /* the primary's samples above it, of those counted */
    L_DRIFT_UP, L_DRIFT_DOWN,   /* the drift monitor */
    L_SWITCH,                   /* window the baseline was found to move at (0: not) */
    L_N
};

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
    st->history.p50 = st->history.p99 = st->history.rate = st->history.reference = NAN;
    if (spec->test == CD_JUDGE_ERRORS)
        st->acc[E_HN] = -1;
    else
        st->acc[L_HMEDIAN] = NAN;
}

static bool state_usable(const cd_judge_state *st, const cd_judge_spec *spec)
{
    if (st->version != CD_JUDGE_STATE_VERSION || st->test != spec->test ||
        st->n_acc != acc_size(spec->test))
        return false;
    for (size_t i = 0; i < st->n_acc; i++)
        if (!isfinite(st->acc[i]) && !(spec->test == CD_JUDGE_LATENCY && i == L_HMEDIAN))
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

/* ---- the history (docs/judge.md#history) ------------------------------------ */

static void say_history(cd_judge_history *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say_history(cd_judge_history *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reason, sizeof h->reason, fmt, ap);
    va_end(ap);
}

static const char *span(int64_t ms, char *buf, size_t n)
{
    return cd_duration_format_ms(ms, buf, n);
}

/* Why the errors test cannot use a history, or NULL. */
static const char *history_unusable(const cd_judge_spec *spec)
{
    if (spec->direction != CD_DIR_INCREASE)
        return "only direction: increase compares the canary with the history";
    if (spec->detect_increase.kind != CD_EFFECT_ABSOLUTE)
        return "a relative detectIncrease is measured against the primary during the release";
    return NULL;
}

static void start_errors_history(const cd_judge_spec *spec, cd_judge_state *st,
                                 const cd_judge_window *w)
{
    cd_judge_history *h = &st->history;
    char win[32];
    double n = (double)w->history.requests, x = (double)w->history.failed;
    if (x > n)
        x = n;
    span(w->history_ms, win, sizeof win);
    h->covered_ms = w->history.covered_ms;
    h->samples = n;
    h->bad = x;
    if (n <= 0) {
        h->status = CD_HISTORY_MISSING;
        say_history(h, "no requests of the primary in the %s before the release (a new "
                       "service?): compared over the same windows only", win);
        return;
    }
    h->rate = x / n;
    const char *why = history_unusable(spec);
    double alpha_h = spec->alpha * (1 - CD_JUDGE_SAME_WINDOW_SHARE);
    cd_history_plan plan;
    if (!why && !cd_history_plan_errors(n, x, spec->detect_increase.value, alpha_h,
                                        CD_JUDGE_STEP_BETA, &plan))
        why = "too few requests before the release to bound the baseline below the change to "
              "detect";
    char cov[48] = "";
    if (h->covered_ms > 0 && h->covered_ms + 1000 < w->history_ms) {
        char c[32];
        snprintf(cov, sizeof cov, " (the source had %s of it)", span(h->covered_ms, c, sizeof c));
    }
    if (why) {
        h->status = CD_HISTORY_UNUSED;
        say_history(h, "primary %.3g%% (%.0f/%.0f) over the %s before the release%s; not used: %s",
                    100 * h->rate, x, n, win, cov, why);
        return;
    }
    st->acc[E_HN] = plan.n;
    st->acc[E_HX] = plan.x;
    st->acc[E_HLEVEL] = plan.level;
    st->acc[E_HREF] = plan.reference;
    h->reference = plan.reference;
    h->status = CD_HISTORY_USED;
    say_history(h, "primary %.3g%% (%.0f/%.0f) over the %s before the release%s: the canary is "
                   "tested against %.3g%% and the primary watched for a move",
                100 * h->rate, x, n, win, cov, 100 * plan.reference);
}

/* The history's plan back from the state (NULL-free: false when none). */
static bool history_plan(const cd_judge_spec *spec, const cd_judge_state *st,
                         cd_history_plan *plan)
{
    if (spec->test != CD_JUDGE_ERRORS || st->acc[E_HN] < 1 || !(st->acc[E_HLEVEL] > 0))
        return false;
    plan->n = st->acc[E_HN];
    plan->x = st->acc[E_HX];
    plan->p0 = (plan->x + 0.5) / (plan->n + 1);
    plan->reference = st->acc[E_HREF];
    plan->level = st->acc[E_HLEVEL];
    plan->alt = fmin(plan->reference + spec->detect_increase.value, 1 - 1e-9);
    return plan->reference > 0 && plan->reference < plan->alt;
}

/* ---- errors ------------------------------------------------------------------- */

/* The promotion test with a history: the canary against the change to
 * detect above the primary's lower bound, betting on the baseline (updated
 * with the canary's own requests). Runs before the window's counts are
 * added, so that its bet is predictable. */
static void promote_window(const cd_judge_spec *spec, cd_judge_state *st,
                           const cd_history_plan *plan, bool retired, double nc, double xc,
                           double np, double xp)
{
    double np_all = st->primary.samples + np, xp_all = st->primary.bad + xp;
    double lo = 0, hi = 1;
    cd_binom_cs(xp_all, np_all, spec->alpha * CD_JUDGE_PROMOTE_LOWER_SHARE, &lo, &hi);
    double bound = fmin(lo + spec->detect_increase.value, 1 - 1e-9);
    double prior = retired ? (xp_all + 0.5) / (np_all + 1) : plan->p0;
    double bet = cd_history_promote_rate(st->canary.samples, st->canary.bad, prior, bound);
    st->acc[E_P_LOG] += cd_history_lr(nc, xc, bet, bound);
    st->acc[E_P_MAX] = fmax(st->acc[E_P_MAX], st->acc[E_P_LOG]);
}

/* The history test, its step guard and the drift monitor, after the
 * window's counts are added; retires the history when the primary moved. */
static void history_window(const cd_judge_spec *spec, cd_judge_state *st,
                           const cd_history_plan *plan, double nc, double xc)
{
    double detect = spec->detect_increase.value;
    /* no window may bring more than a share of the evidence a rollback
     * needs: an incident hitting both sides shows on the primary within
     * a window or two, while a bad canary keeps failing (a capped
     * likelihood ratio is still a supermartingale factor) */
    double inc = cd_history_lr(nc, xc, plan->alt, plan->reference);
    st->acc[E_H_LOG] += fmin(inc, CD_JUDGE_WINDOW_CAP * -log(plan->level));
    st->acc[E_H_MAX] = fmax(st->acc[E_H_MAX], st->acc[E_H_LOG]);
    double ui = cd_history_ui_log(plan, detect, st->canary.samples, st->canary.bad,
                                  st->primary.samples, st->primary.bad);
    st->acc[E_UI_MAX] = fmax(st->acc[E_UI_MAX], ui);
    double up, down;
    cd_history_drift_log(plan, st->primary.samples, st->primary.bad, &up, &down);
    st->acc[E_DRIFT_UP] = fmax(st->acc[E_DRIFT_UP], up);
    st->acc[E_DRIFT_DOWN] = fmax(st->acc[E_DRIFT_DOWN], down);
    double level = log(CD_JUDGE_DRIFT_EVIDENCE);
    if (st->acc[E_DRIFT_UP] < level && st->acc[E_DRIFT_DOWN] < level)
        return;
    st->acc[E_SWITCH] = st->windows;
    cd_judge_history *h = &st->history;
    h->status = CD_HISTORY_FELL_BACK;
    h->fell_back_window = st->windows;
    say_history(h, "the primary's error rate moved %s during the release: %.3g%% (%.0f/%.0f) "
                   "since it started vs %.3g%% (%.0f/%.0f) before; compared over the same "
                   "windows only from window %d",
                st->acc[E_DRIFT_UP] >= level ? "up" : "down",
                100 * st->primary.bad / fmax(1, st->primary.samples), st->primary.bad,
                st->primary.samples, 100 * plan->x / plan->n, plan->x, plan->n, st->windows);
}

/* The errors test. Rollback: the odds-ratio e-process (sequential.h), and
 * with a history also the history test gated by its step guard
 * (history.h), each with its share of alpha. Promotion: always-valid
 * confidence sequences for each side's error rate (alpha/2 each) bound the
 * difference, which must exclude the change to detect; with a history,
 * the promotion test of history.h instead. Both sides' counts are pooled
 * over the rollout for the bounds and the estimate. */
static outcome judge_errors(const cd_judge_spec *spec, cd_judge_state *st,
                            const cd_judge_window *w)
{
    double *lr = st->acc + E_LOG_LR;
    cd_history_plan plan;
    bool hist = history_plan(spec, st, &plan);
    bool retired = hist && st->acc[E_SWITCH] > 0;
    double nw_c = floor(w->canary_total), xw_c = floor(w->canary_bad);
    double nw_p = floor(w->primary_total), xw_p = floor(w->primary_bad);
    bool counted = false;
    double before_c = st->canary.samples, before_bad = st->canary.bad;
    if (cd_odds_update(lr, w->canary_total, w->canary_bad, w->primary_total, w->primary_bad)) {
        counted = true;
        if (hist) {   /* the promotion test bets on the counts before this window */
            st->canary.samples = before_c;
            st->canary.bad = before_bad;
            promote_window(spec, st, &plan, retired, nw_c, xw_c, nw_p, xw_p);
        }
        st->canary.samples += nw_c;
        st->canary.bad += xw_c;
        st->primary.samples += nw_p;
        st->primary.bad += xw_p;
    }
    if (hist && !retired && counted) {
        history_window(spec, st, &plan, nw_c, xw_c);
        retired = st->acc[E_SWITCH] > 0;
    }
    double nc = st->canary.samples, np = st->primary.samples;
    double pc = nc > 0 ? st->canary.bad / nc : NAN, pp = np > 0 ? st->primary.bad / np : NAN;
    double diff = pc - pp;
    double alpha_f = hist ? spec->alpha * CD_JUDGE_SAME_WINDOW_SHARE : spec->alpha;
    double log_e;
    if (hist) {
        double wts[CD_ODDS_GRID];
        cd_history_odds_weights(plan.p0, spec->detect_increase.value, wts, CD_ODDS_GRID);
        log_e = cd_odds_log_e_weighted(lr, wts);
    } else {
        log_e = cd_odds_log_e(lr, (int)spec->direction);
    }
    if (log_e > st->acc[E_LOG_EMAX])
        st->acc[E_LOG_EMAX] = log_e;
    /* the always-valid p-value of the whole rule, on alpha's scale: the
     * same-window test rejects at alpha_f, the history test at its level
     * and only once its step guard also rejects at beta */
    double p_same = exp(-st->acc[E_LOG_EMAX]) * spec->alpha / alpha_f;
    double p_hist = 1, e_now = exp(fmin(log_e, 700.0)) * alpha_f / spec->alpha;
    if (hist && !retired) {
        p_hist = fmax(exp(-st->acc[E_H_MAX]) * spec->alpha / plan.level,
                      exp(-st->acc[E_UI_MAX]) * spec->alpha / CD_JUDGE_STEP_BETA);
        double h_now = exp(fmin(st->acc[E_H_LOG], 700.0)) * plan.level / spec->alpha;
        e_now = fmax(e_now, fmin(h_now, 1.0 / p_hist));
    }
    st->p_value = fmin(1.0, fmin(p_same, p_hist));
    st->statistic = e_now;
    snprintf(st->statistic_name, sizeof st->statistic_name, "e-value");
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
    f.significant = st->p_value <= spec->alpha;
    if (hist) {
        f.bounded = nc > 0 && np > 0 &&
                    st->acc[E_P_MAX] >= -log(spec->alpha * (1 - CD_JUDGE_PROMOTE_LOWER_SHARE));
        if (f.bounded)   /* the promotion test ruled the change to detect out */
            st->upper = fmin(st->upper, 100.0 * spec->detect_increase.value);
    } else {
        /* relative changes are bounded against the primary's lowest plausible rate */
        bool up_ok = spec->detect_increase.kind == CD_EFFECT_RELATIVE
                         ? uc < lp * (1.0 + spec->detect_increase.value)
                         : uc - lp < spec->detect_increase.value;
        bool down_ok = spec->detect_decrease.kind == CD_EFFECT_RELATIVE
                           ? lc > up * (1.0 - spec->detect_decrease.value)
                           : up - lc < spec->detect_decrease.value;
        f.bounded = nc > 0 && np > 0 && (!looks_up(spec) || up_ok) &&
                    (!looks_down(spec) || down_ok);
    }
    f.what = "requests";
    char before[64] = "";
    if (hist && !retired)
        snprintf(before, sizeof before, "; %.2f%% before the release", 100 * plan.x / plan.n);
    if (nc > 0 && np > 0)
        snprintf(f.summary, sizeof f.summary,
                 "canary %.2f%% (%.0f/%.0f) vs primary %.2f%% (%.0f/%.0f%s) errors, %+.2fpp",
                 pc * 100.0, st->canary.bad, nc, pp * 100.0, st->primary.bad, np, before,
                 diff * 100.0);
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

/* The latency history: its size and quantiles, and its median, which the
 * drift monitor compares the primary's samples with. The latency test
 * itself keeps comparing the canary with the primary over the same
 * windows (docs/judge.md#history says why). */
static void start_latency_history(const cd_judge_spec *spec, cd_judge_state *st,
                                  const cd_judge_window *w)
{
    cd_judge_history *h = &st->history;
    char win[32];
    span(w->history_ms, win, sizeof win);
    size_t n = 0;
    double *v = prepared(w->history.values, w->history.n_values, false, &n);
    h->covered_ms = w->history.covered_ms;
    if (n) {
        h->samples = (double)n;
        h->p50 = quantile(v, n, 0.5);
        h->p99 = quantile(v, n, 0.99);
    } else if (w->history.requests && isfinite(w->history.p50) && isfinite(w->history.p99)) {
        h->samples = (double)w->history.requests;   /* a router's histogram: its quantiles */
        h->p50 = w->history.p50;
        h->p99 = w->history.p99;
    }
    free(v);
    if (!(h->samples > 0)) {
        h->samples = 0;
        h->status = CD_HISTORY_MISSING;
        say_history(h, "no samples of the primary in the %s before the release (a new "
                       "service?): nothing to watch the baseline with", win);
        return;
    }
    st->acc[L_HMEDIAN] = h->p50;
    char cov[48] = "";
    if (h->covered_ms > 0 && h->covered_ms + 1000 < w->history_ms) {
        char c[32];
        snprintf(cov, sizeof cov, " (the source had %s of it)", span(h->covered_ms, c, sizeof c));
    }
    h->status = CD_HISTORY_USED;
    say_history(h, "primary p50 %.4g p99 %.4g (n=%.0f) over the %s before the release%s: the "
                   "primary is watched for a move; latency is judged over the same windows",
                h->p50, h->p99, h->samples, win, cov);
}

/* The drift monitor of latency: a sign test of the primary's samples
 * against the history's median (half of them above it while nothing
 * moved), a mixture over 60/70/80 % above (or below). */
static void latency_drift(cd_judge_state *st, const double *ys, size_t n)
{
    double median = st->acc[L_HMEDIAN];
    if (!isfinite(median) || st->acc[L_SWITCH] > 0 || n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (ys[i] == median)
            continue;
        st->acc[L_COUNTED] += 1;
        st->acc[L_ABOVE] += ys[i] > median;
    }
    double k = st->acc[L_ABOVE], t = st->acc[L_COUNTED];
    static const double ps[3] = {0.6, 0.7, 0.8};
    double up = -INFINITY, down = -INFINITY;
    for (int i = 0; i < 3; i++) {
        double p = ps[i], lp = log(p / 0.5), lq = log((1 - p) / 0.5);
        up = cd_log_add(up, k * lp + (t - k) * lq - log(3.0));
        down = cd_log_add(down, k * lq + (t - k) * lp - log(3.0));
    }
    st->acc[L_DRIFT_UP] = fmax(st->acc[L_DRIFT_UP], up);
    st->acc[L_DRIFT_DOWN] = fmax(st->acc[L_DRIFT_DOWN], down);
    double level = log(CD_JUDGE_DRIFT_EVIDENCE);
    if (st->acc[L_DRIFT_UP] < level && st->acc[L_DRIFT_DOWN] < level)
        return;
    st->acc[L_SWITCH] = st->windows;
    cd_judge_history *h = &st->history;
    h->status = CD_HISTORY_FELL_BACK;
    h->fell_back_window = st->windows;
    say_history(h, "the primary's latency moved %s during the release: %.0f%% of its %.0f "
                   "samples since it started are above the median before it (%.4g), not half; "
                   "latency is judged over the same windows, which a move of both sides does "
                   "not affect",
                st->acc[L_DRIFT_UP] >= level ? "up" : "down", 100 * k / t, t, median);
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
    if (n) {   /* the drift monitor works on the samples' own scale */
        size_t k = 0;
        double *raw = prepared(w->primary, w->n_primary, false, &k);
        latency_drift(st, raw, k);
        free(raw);
    }
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
                        &st->canary.p50, &st->canary.p99, &st->primary.p50, &st->primary.p99,
                        &st->history.rate, &st->history.reference, &st->history.p50,
                        &st->history.p99};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        *fields[i] = reportable(*fields[i]);
}

/* What the judge knows of the primary before the release; read once, when
 * the test starts. */
static void start_history(const cd_judge_spec *spec, cd_judge_state *st,
                          const cd_judge_window *w)
{
    cd_judge_history *h = &st->history;
    h->window_ms = w->history_ms;
    if (w->history_ms <= 0) {
        h->status = CD_HISTORY_OFF;
        say_history(h, "judge.history is 0s: compared over the same windows only");
        return;
    }
    if (!w->with_history) {
        h->status = CD_HISTORY_MISSING;
        say_history(h, "%s: compared over the same windows only",
                    w->history_note && *w->history_note
                        ? w->history_note
                        : "no history of the primary before the release");
        return;
    }
    if (spec->test == CD_JUDGE_ERRORS)
        start_errors_history(spec, st, w);
    else
        start_latency_history(spec, st, w);
}

static outcome update(const cd_judge_spec *spec, cd_judge_state *st, const cd_judge_window *w,
                      int64_t now_ms)
{
    if (!state_usable(st, spec)) {
        reset_state(st, spec);
        start_history(spec, st, w);
    }
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

/* The primary's history, read when the test starts (w->history_ms and
 * the rest of w's history fields). A source without one, or a failed
 * read, leaves the judge to the same windows and says why in note. */
static void read_history(const cd_metrics_port *mp, const cd_canary_ref *c, const cd_metric *m,
                         cd_judge_window *w, char *note, size_t n)
{
    const cd_judge_spec *spec = m->judge;
    char win[32];
    w->history_ms = spec->history_ms;
    w->history_note = note;
    if (spec->history_ms <= 0)
        return;
    span(spec->history_ms, win, sizeof win);
    if (!mp->history) {
        snprintf(note, n, "the metrics source keeps no history of the primary");
        return;
    }
    cd_err e = {{0}};
    int64_t window = m->interval_ms > 0 ? m->interval_ms : 60000;
    cd_metric_rc rc = mp->history(mp->ctx, c, m, window, spec->history_ms, &w->history, &e);
    if (rc == CD_METRIC_OK) {
        w->with_history = true;
    } else if (rc == CD_METRIC_NO_DATA) {
        snprintf(note, n, "no data of the primary in the %.24s before the release (a new service?)%s%.100s",
                 win, e.msg[0] ? ": " : "", e.msg);
    } else {
        snprintf(note, n, "could not read the primary's history: %.180s", e.msg);
    }
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
        char note[240] = "";
        if (!state_usable(st, m->judge))
            read_history(mp, c, m, &w, note, sizeof note);
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
