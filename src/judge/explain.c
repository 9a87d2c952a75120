/* explain.c - status.judge as text (cd_judge_describe in judge.h): what
 * `canaryctl describe` and `canaryctl simulate` print under "Judge", with
 * the baseline each metric used (its history, or why none). Only formats
 * what the status holds; decides nothing. */
#include "judge/judge.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static void fmt_num(char *buf, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.4g", v);
}

static void side_text(const cd_judge_state *s, const cd_judge_side *side, char *buf, size_t n)
{
    if (s->test == CD_JUDGE_ERRORS) {
        if (side->samples > 0)
            snprintf(buf, n, "%.0f/%.0f (%.2f%%)", side->bad, side->samples,
                     100.0 * side->bad / side->samples);
        else
            snprintf(buf, n, "no requests");
        return;
    }
    char p50[24], p99[24];
    fmt_num(p50, sizeof p50, side->p50);
    fmt_num(p99, sizeof p99, side->p99);
    snprintf(buf, n, "n=%.0f p50=%s p99=%s", side->samples, p50, p99);
}

static void signed_num(char *buf, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%+.3g", v);
}

void cd_judge_describe(const cd_canary_status *st, cd_buf *out)
{
    if (!st || !st->n_judge)
        return;
    cd_buf_printf(out, "Judge (canary compared with the primary over the same windows):\n");
    cd_buf_printf(out, "  %-24s %-8s %-8s %-26s %-26s %-11s %-22s %-17s %s\n", "METRIC", "TEST",
                  "VERDICT", "CANARY", "PRIMARY", "ESTIMATE", "INTERVAL", "STATISTIC", "P-VALUE");
    for (size_t i = 0; i < st->n_judge; i++) {
        const cd_judge_state *s = &st->judge[i];
        char canary[64], primary[64], est[40], lo[24], hi[24], interval[64], stat[40], p[24];
        side_text(s, &s->canary, canary, sizeof canary);
        side_text(s, &s->primary, primary, sizeof primary);
        signed_num(est, sizeof est, s->estimate);
        if (isfinite(s->estimate))
            strncat(est, s->unit, sizeof est - strlen(est) - 1);
        signed_num(lo, sizeof lo, s->lower);
        signed_num(hi, sizeof hi, s->upper);
        snprintf(interval, sizeof interval, "[%s, %s]%s", lo, hi, s->unit);
        if (isfinite(s->statistic))
            snprintf(stat, sizeof stat, "%s=%.3g", s->statistic_name, s->statistic);
        else
            snprintf(stat, sizeof stat, "-");
        fmt_num(p, sizeof p, s->p_value);
        cd_buf_printf(out, "  %-24s %-8s %-8s %-26s %-26s %-11s %-22s %-17s %s\n", s->metric,
                      cd_judge_test_name(s->test), cd_verdict_name(s->verdict), canary, primary,
                      est, interval, stat, p);
    }
    for (size_t i = 0; i < st->n_judge; i++) {
        const cd_judge_state *s = &st->judge[i];
        cd_buf_printf(out, "  %s: %s (%s after %d window%s, alpha %g)\n", s->metric, s->reason,
                      cd_verdict_name(s->verdict), s->windows, s->windows == 1 ? "" : "s",
                      s->alpha);
    }
    for (size_t i = 0; i < st->n_judge; i++) {
        const cd_judge_history *h = &st->judge[i].history;
        if (h->reason[0])
            cd_buf_printf(out, "  %s baseline (%s): %s\n", st->judge[i].metric,
                          cd_history_status_name(h->status), h->reason);
    }
}
