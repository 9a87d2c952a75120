/* check.c - threshold comparison of one metric value with Flagger's event
 * texts (see check.h). Pure. */
#include "analysis/check.h"
#include "analysis/template.h"
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

cd_check_kind cd_check_kind_of(const cd_metric *m)
{
    if (!m->template_name && !m->query && m->name) {
        if (!strcmp(m->name, "request-success-rate"))
            return CD_CHECK_SUCCESS_RATE;
        if (!strcmp(m->name, "request-duration"))
            return CD_CHECK_DURATION;
    }
    return CD_CHECK_CUSTOM;
}

char *cd_go_duration_ms(int64_t ms, char *out, size_t n)
{
    if (ms == 0) {
        snprintf(out, n, "0s");
        return out;
    }
    const char *sign = ms < 0 ? "-" : "";
    uint64_t u = ms < 0 ? (uint64_t)(-(ms + 1)) + 1 : (uint64_t)ms;
    if (u < 1000) {
        snprintf(out, n, "%s%" PRIu64 "ms", sign, u);
        return out;
    }
    uint64_t h = u / 3600000, m = u / 60000 % 60, s = u / 1000 % 60, frac = u % 1000;
    char sec[32];
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, "%03" PRIu64, frac);
        for (int i = 2; i >= 0 && f[i] == '0'; i--)
            f[i] = '\0';
        snprintf(sec, sizeof sec, "%" PRIu64 ".%ss", s, f);
    } else {
        snprintf(sec, sizeof sec, "%" PRIu64 "s", s);
    }
    if (h)
        snprintf(out, n, "%s%" PRIu64 "h%" PRIu64 "m%s", sign, h, m, sec);
    else if (m)
        snprintf(out, n, "%s%" PRIu64 "m%s", sign, m, sec);
    else
        snprintf(out, n, "%s%s", sign, sec);
    return out;
}

/* time.Duration(x) * time.Millisecond, as Go converts a float threshold */
static int64_t threshold_ms(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9.2e15)
        return INT64_MAX / 1000000;
    if (x <= -9.2e15)
        return -(INT64_MAX / 1000000);
    return (int64_t)x;
}

bool cd_check_metric(const cd_metric *m, cd_check_kind kind, const char *name, const char *ns,
                     double v, char *msg, size_t n)
{
    char a[64], b[64];
    if (msg && n)
        msg[0] = '\0';
    switch (kind) {
    case CD_CHECK_SUCCESS_RATE:
        if (m->has_min || m->has_max) {
            if (m->has_min && v < m->min) {
                snprintf(msg, n, "Halt %s.%s advancement success rate %.2f%% < %s%%", name, ns, v,
                         cd_go_format_float(m->min, a, sizeof a));
                return false;
            }
            if (m->has_max && v > m->max) {
                snprintf(msg, n, "Halt %s.%s advancement success rate %.2f%% > %s%%", name, ns, v,
                         cd_go_format_float(m->max, a, sizeof a));
                return false;
            }
        } else if (m->threshold > v) {
            snprintf(msg, n, "Halt %s.%s advancement success rate %.2f%% < %s%%", name, ns, v,
                     cd_go_format_float(m->threshold, a, sizeof a));
            return false;
        }
        return true;
    case CD_CHECK_DURATION: {
        int64_t val = threshold_ms(v);
        if (m->has_min || m->has_max) {
            if (m->has_min && val < threshold_ms(m->min)) {
                snprintf(msg, n, "Halt %s.%s advancement request duration %s < %s", name, ns,
                         cd_go_duration_ms(val, a, sizeof a),
                         cd_go_duration_ms(threshold_ms(m->min), b, sizeof b));
                return false;
            }
            if (m->has_max && val > threshold_ms(m->max)) {
                snprintf(msg, n, "Halt %s.%s advancement request duration %s > %s", name, ns,
                         cd_go_duration_ms(val, a, sizeof a),
                         cd_go_duration_ms(threshold_ms(m->max), b, sizeof b));
                return false;
            }
        } else if (val > threshold_ms(m->threshold)) {
            snprintf(msg, n, "Halt %s.%s advancement request duration %s > %s", name, ns,
                     cd_go_duration_ms(val, a, sizeof a),
                     cd_go_duration_ms(threshold_ms(m->threshold), b, sizeof b));
            return false;
        }
        return true;
    }
    default:
        if (m->has_min || m->has_max) {
            if (m->has_min && v < m->min) {
                snprintf(msg, n, "Halt %s.%s advancement %s %.2f < %s", name, ns, m->name, v,
                         cd_go_format_float(m->min, a, sizeof a));
                return false;
            }
            if (m->has_max && v > m->max) {
                snprintf(msg, n, "Halt %s.%s advancement %s %.2f > %s", name, ns, m->name, v,
                         cd_go_format_float(m->max, a, sizeof a));
                return false;
            }
        } else if (v > m->threshold) {
            snprintf(msg, n, "Halt %s.%s advancement %s %.2f > %s", name, ns, m->name, v,
                     cd_go_format_float(m->threshold, a, sizeof a));
            return false;
        }
        return true;
    }
}
