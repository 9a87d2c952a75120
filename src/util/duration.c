/* duration.c - Go-compatible duration parsing and formatting. */
#include "util/duration.h"
#include <stdio.h>
#include <string.h>

static int64_t unit_ns(const char *u, size_t n)
{
    static const struct { const char *name; int64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
        {"ms", 1000000}, {"s", 1000000000LL}, {"m", 60000000000LL},
        {"h", 3600000000000LL},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0)
            return units[i].ns;
    return 0;
}

bool cd_duration_parse(const char *s, int64_t *ns)
{
    if (!s)
        return false;
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = (*p++ == '-');
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return true;
    }
    if (*p == '\0')
        return false;
    /* exact integer arithmetic, as Go's ParseDuration: "0.3s" is 300 ms */
    uint64_t total = 0;
    while (*p) {
        uint64_t whole = 0, frac = 0, scale = 1;
        bool digits = false;
        while (*p >= '0' && *p <= '9') {
            if (whole > (UINT64_MAX - 9) / 10)
                return false;
            whole = whole * 10 + (uint64_t)(*p++ - '0');
            digits = true;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale < 1000000000000000000ULL) {   /* digits beyond ns precision drop */
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                }
                p++;
                digits = true;
            }
        }
        if (!digits)
            return false;
        const char *u = p;
        while (*p && !(*p >= '0' && *p <= '9') && *p != '.')
            p++;
        int64_t mult = unit_ns(u, (size_t)(p - u));
        if (mult == 0)
            return false;
        if (whole > (uint64_t)INT64_MAX / (uint64_t)mult)
            return false;
        uint64_t v = whole * (uint64_t)mult;
        /* frac/scale of the unit, rounded down to whole nanoseconds */
        v += (uint64_t)((double)frac * (double)mult / (double)scale + 1e-9);
        total += v;
        if (total > (uint64_t)INT64_MAX)
            return false;
    }
    *ns = neg ? -(int64_t)total : (int64_t)total;
    return true;
}

bool cd_duration_parse_ms(const char *s, int64_t *ms)
{
    int64_t ns;
    if (!cd_duration_parse(s, &ns))
        return false;
    *ms = ns / CD_NS_PER_MS;
    return true;
}

char *cd_duration_format_ms(int64_t ms, char *out, size_t outlen)
{
    if (ms == 0) {
        snprintf(out, outlen, "0s");
        return out;
    }
    const char *sign = ms < 0 ? "-" : "";
    uint64_t a = ms < 0 ? (uint64_t)(-ms) : (uint64_t)ms;
    uint64_t h = a / 3600000, m = (a / 60000) % 60, s = (a / 1000) % 60, frac = a % 1000;
    char buf[64];
    size_t n = 0;
    buf[0] = '\0';
    if (h)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%lluh", (unsigned long long)h);
    if (m)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%llum", (unsigned long long)m);
    if (s && !frac)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%llus", (unsigned long long)s);
    else if (s || (frac && (h || m)))
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%llu.%03llus", (unsigned long long)s,
                              (unsigned long long)frac);
    else if (frac)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%llums", (unsigned long long)frac);
    snprintf(out, outlen, "%s%s", sign, buf);
    return out;
}
