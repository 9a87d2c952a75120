/* judge.h - canaryd's statistical judge in the Canary model: the
 * `analysis.metrics[].judge` extension (cd_judge_spec: what to compare,
 * in which direction, how much harm is allowed, what to do without
 * data) and one entry of `status.judge` (cd_judge_state: the verdict, its
 * explanation and the sequential test's state, which must survive
 * restarts). Pure data plus decoding and JSON; the statistics live in
 * src/judge/. docs/judge.md is the user-facing description. */
#ifndef CD_MODEL_JUDGE_H
#define CD_MODEL_JUDGE_H
#include "model/canary.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CD_JUDGE_ERRORS = 0,    /* request and failure counts: sequential test of two proportions */
    CD_JUDGE_LATENCY,       /* sample values (latencies, per-step values): rank comparison */
} cd_judge_test;

typedef enum { CD_DIR_INCREASE = 0, CD_DIR_DECREASE, CD_DIR_EITHER } cd_judge_direction;
typedef enum { CD_NODATA_WAIT = 0, CD_NODATA_PASS, CD_NODATA_FAIL } cd_judge_no_data;
typedef enum { CD_EFFECT_ABSOLUTE = 0, CD_EFFECT_RELATIVE } cd_effect_kind;

/* An effect (allowed, or to detect): "0.5pp" (errors: percentage points),
 * "10%" (relative to the primary), "50ms"/"0.2s" (latency), or a bare
 * number in the test's unit (percentage points for errors, the samples'
 * unit for latency). */
typedef struct cd_effect {
    cd_effect_kind kind;
    double value;           /* absolute: errors as a fraction (0.005 = 0.5pp), latency in the
                               samples' unit; relative: a fraction (0.1 = 10%) */
    const char *raw;        /* as written; NULL when defaulted */
} cd_effect;

struct cd_judge_spec {
    cd_judge_test test;
    bool test_set;              /* written, not inferred from the metric's name */
    cd_judge_direction direction;
    cd_effect allowed_increase, allowed_decrease;   /* harmless: never roll back for less */
    cd_effect detect_increase, detect_decrease;     /* harmful: never promote before ruling out */
    bool critical;              /* fail: roll back now (true) or count a failed check */
    cd_judge_no_data no_data;   /* below minSamples on either side */
    int64_t min_samples;
    double alpha;               /* bound on false rollbacks (and on promotions of canaries
                                   worse by the detect effect) over the whole rollout */
    const char *step;           /* latency from Prometheus: the range query's step as
                                   written; NULL: the default (docs/judge.md) */
    int64_t step_ms;            /* 0 when not written */
    const char *history;        /* the primary's history read before the release, as
                                   written; NULL: the default (1h) */
    int64_t history_ms;         /* 0: off (same-window comparison only) */
};

#define CD_JUDGE_DEFAULT_ALPHA 0.005
#define CD_JUDGE_DEFAULT_MIN_SAMPLES_ERRORS 100
#define CD_JUDGE_DEFAULT_MIN_SAMPLES_LATENCY 50
#define CD_JUDGE_DEFAULT_HISTORY_MS (3600 * 1000LL)
#define CD_JUDGE_MAX_HISTORY_MS (24 * 3600 * 1000LL)

const char *cd_judge_test_name(cd_judge_test t);           /* errors, latency */
const char *cd_judge_direction_name(cd_judge_direction d); /* increase, decrease, either */
const char *cd_judge_no_data_name(cd_judge_no_data n);     /* wait, pass, fail */
/* Parses an allowed effect for a test; false with a reason in why. */
bool cd_effect_parse(const char *s, cd_judge_test test, cd_effect *e, char *why, size_t n);
/* "+0.5pp", "+10%", "+50ms": the effect as the judge reports it. */
const char *cd_effect_format(const cd_effect *e, cd_judge_test test, char *buf, size_t n);

/* The spec as `-o json` shows it (defaults filled in). */
json_t *cd_judge_spec_json(const cd_judge_spec *j);

/* ---- status.judge ------------------------------------------------------ */

typedef enum { CD_VERDICT_WAIT = 0, CD_VERDICT_PASS, CD_VERDICT_FAIL } cd_verdict;
const char *cd_verdict_name(cd_verdict v);   /* Wait, Pass, Fail */

#define CD_JUDGE_ACC_MAX 40      /* sequential state: up to this many numbers */
#define CD_JUDGE_METRIC_MAX 128
#define CD_JUDGE_REASON_MAX 400

typedef struct cd_judge_side {
    double samples;             /* cumulative over the rollout */
    double bad;                 /* errors: cumulative failed requests */
    double p50, p99;            /* latency: of the last window (NaN when none) */
} cd_judge_side;

/* What the judge knew about the primary before the release (its
 * "history", docs/judge.md#history) and whether it still trusts it. */
typedef enum {
    CD_HISTORY_OFF = 0,         /* judge.history: 0s, or no window judged yet */
    CD_HISTORY_MISSING,         /* asked for, but the metrics source had none (a new service) */
    CD_HISTORY_USED,            /* the baseline comes from the history and the primary agrees */
    CD_HISTORY_FELL_BACK,       /* the primary moved during the release: same-window only */
    CD_HISTORY_UNUSED,          /* read, but this test cannot use it (reason says why) */
} cd_history_status;
const char *cd_history_status_name(cd_history_status s);   /* Off, Missing, Used, FellBack, Unused */

#define CD_JUDGE_HISTORY_REASON_MAX 240

typedef struct cd_judge_history {
    cd_history_status status;
    int64_t window_ms;          /* asked for (judge.history) */
    int64_t covered_ms;         /* what the source had of it */
    double samples;             /* errors: requests; latency: sample values */
    double bad;                 /* errors: failed requests */
    double rate;                /* errors: the baseline error rate (a fraction) */
    double reference;           /* errors: the rate the canary is tested against */
    double p50, p99;            /* latency: of the history */
    int fell_back_window;       /* the window at which the judge stopped trusting it (0: never) */
    char reason[CD_JUDGE_HISTORY_REASON_MAX];
} cd_judge_history;

typedef struct cd_judge_state {
    char metric[CD_JUDGE_METRIC_MAX];
    cd_judge_test test;
    cd_verdict verdict;
    char reason[CD_JUDGE_REASON_MAX];
    int windows;                /* windows judged since the rollout started */
    cd_judge_side canary, primary;
    char unit[8];               /* of estimate/lower/upper: "pp", "%", or the samples' unit */
    double estimate, lower, upper;
    char statistic_name[16];    /* "e-value" (errors) or "z" (latency) */
    double statistic;
    double p_value;             /* always valid: holds whenever it is read */
    double alpha;
    int64_t updated_ms;
    cd_judge_history history;   /* the primary before the release */
    int version;                /* layout of acc; a mismatch restarts the test */
    double acc[CD_JUDGE_ACC_MAX];
    size_t n_acc;
} cd_judge_state;

/* {"metric", "test", "verdict", "reason", "windows", "canary", "primary",
 *  "estimate", "lower", "upper", "unit", "statistic", "statisticName",
 *  "pValue", "alpha", "lastUpdateTime", "history": {...}, "state": {"version", "values"}};
 * numbers that are not finite are written as null. */
json_t *cd_judge_state_to_json(const cd_judge_state *s);
/* Lenient like the rest of the status: unknown keys are ignored and
 * missing or mistyped ones keep their zero value; false when j is not an
 * object or has no metric name. */
bool cd_judge_state_from_json(cd_judge_state *s, const json_t *j);
bool cd_judge_state_equal(const cd_judge_state *a, const cd_judge_state *b);

#endif
