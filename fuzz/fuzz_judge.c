/* fuzz_judge.c - libFuzzer target for the statistical judge. The first
 * byte picks what the rest is:
 *  - even: a Canary status document (JSON, as read back from the API
 *    server or the state directory): it must decode leniently, and encode
 *    and decode again to an equal status;
 *  - odd: a judge spec, the primary's history (counts, sample values or a
 *    summary, or none) and a sequence of windows (counts for the errors
 *    test, raw doubles - NaN, infinities, huge values - for the latency
 *    test), fed to cd_judge_update: no crash, no hang, a p-value in [0, 1],
 *    a valid verdict, a known history status, and a state that survives
 *    the JSON round trip. */
#include "judge/judge.h"
#include "model/judge.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const cd_canary_status *s)
{
    json_t *j = cd_status_to_json(s);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        abort();
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    cd_canary_status t;
    cd_status_init(&t);
    cd_status_from_json(&t, back);
    json_decref(back);
    if (!cd_status_equal(s, &t))
        abort();
    cd_status_free(&t);
}

static void status_document(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    cd_canary_status s;
    cd_status_init(&s);
    cd_status_from_json(&s, j);
    json_decref(j);
    roundtrip(&s);
    cd_status_free(&s);
}

typedef struct reader { const uint8_t *p; size_t n; } reader;

static uint8_t byte(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static double raw_double(reader *r)
{
    double d = 0;
    size_t k = r->n < sizeof d ? r->n : sizeof d;
    memcpy(&d, r->p, k);
    r->p += k;
    r->n -= k;
    return d;
}

static double count(reader *r)
{
    uint8_t b = byte(r);
    if (b == 255)
        return raw_double(r);   /* anything, impossible counts included */
    return (double)(b * (1 + byte(r)));
}

static void judge_windows(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    cd_judge_spec spec;
    memset(&spec, 0, sizeof spec);
    uint8_t flags = byte(&r);
    spec.test = flags & 1 ? CD_JUDGE_LATENCY : CD_JUDGE_ERRORS;
    spec.direction = (cd_judge_direction)((flags >> 1) % 3);
    spec.no_data = (cd_judge_no_data)((flags >> 3) % 3);
    spec.critical = flags & 0x20;
    spec.allowed_increase = (cd_effect){flags & 0x40 ? CD_EFFECT_RELATIVE : CD_EFFECT_ABSOLUTE,
                                        byte(&r) / 100.0, NULL};
    spec.allowed_decrease = (cd_effect){flags & 0x80 ? CD_EFFECT_RELATIVE : CD_EFFECT_ABSOLUTE,
                                        byte(&r) / 100.0, NULL};
    spec.min_samples = byte(&r) * 10;
    spec.alpha = (1 + byte(&r)) / 512.0;
    spec.detect_increase = (cd_effect){byte(&r) & 1 ? CD_EFFECT_RELATIVE : CD_EFFECT_ABSOLUTE,
                                       (1 + byte(&r)) / 256.0, NULL};
    spec.detect_decrease = spec.detect_increase;
    /* the history: none, counts (any), sample values, or a summary */
    uint8_t hist = byte(&r);
    spec.history_ms = hist % 4 ? 3600000 : 0;
    cd_metric_history h;
    memset(&h, 0, sizeof h);
    double hv[32];
    if (hist % 4 >= 2) {
        double n = count(&r), x = count(&r);
        h.requests = isfinite(n) && n >= 0 && n < 1e15 ? (uint64_t)n : 0;
        h.failed = isfinite(x) && x >= 0 && x < 1e15 ? (uint64_t)x : 0;
        h.covered_ms = (int64_t)byte(&r) * 60000;
        h.p50 = raw_double(&r);
        h.p99 = raw_double(&r);
        size_t k = byte(&r) % 33;
        for (size_t i = 0; i < k; i++)
            hv[i] = byte(&r) == 0 ? raw_double(&r) : byte(&r) * (1 + byte(&r));
        h.values = k ? hv : NULL;
        h.n_values = hist % 4 == 3 ? k : 0;
    }
    cd_canary_status st;
    cd_status_init(&st);
    cd_judge_state *js = cd_status_judge_add(&st, "fuzzed");
    double values[2][64];
    for (int k = 0; r.n && k < 64; k++) {
        cd_judge_window w;
        memset(&w, 0, sizeof w);
        w.history_ms = spec.history_ms;
        w.with_history = hist % 4 >= 2;
        w.history = h;
        w.history_note = hist % 4 == 1 ? "fuzzed: no history" : NULL;
        if (spec.test == CD_JUDGE_ERRORS) {
            w.canary_total = count(&r);
            w.canary_bad = count(&r);
            w.primary_total = count(&r);
            w.primary_bad = count(&r);
        } else {
            size_t n[2] = {byte(&r) % 65, byte(&r) % 65};
            for (int side = 0; side < 2; side++)
                for (size_t i = 0; i < n[side]; i++)
                    values[side][i] = byte(&r) == 0 ? raw_double(&r) : byte(&r) * (1 + byte(&r));
            w.canary = values[0];
            w.n_canary = n[0];
            w.primary = values[1];
            w.n_primary = n[1];
        }
        cd_judge_update(&spec, js, &w, 1735689600000LL + k * 60000LL);
        if (!(js->p_value >= 0 && js->p_value <= 1) || js->verdict > CD_VERDICT_FAIL ||
            js->history.status > CD_HISTORY_UNUSED)
            abort();
        if (js->verdict == CD_VERDICT_FAIL && js->p_value > spec.alpha &&
            spec.no_data != CD_NODATA_FAIL)
            abort();   /* a fail without evidence needs noData: fail */
    }
    roundtrip(&st);
    cd_buf text = CD_BUF_INIT;
    cd_judge_describe(&st, &text);
    cd_buf_free(&text);
    cd_status_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0)
        status_document(data + 1, size - 1);
    else
        judge_windows(data + 1, size - 1);
    return 0;
}
