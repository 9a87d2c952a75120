/* timeutil.c - clocks and RFC 3339; see timeutil.h. */
#include "util/timeutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t cd_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cd_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t cd_mono_ms(void) { return cd_mono_ns() / 1000000; }

static void split(int64_t ms, struct tm *tm, int *frac)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    *frac = (int)(ms - (int64_t)secs * 1000);
    gmtime_r(&secs, tm);
}

char *cd_rfc3339(int64_t ms, char out[32])
{
    struct tm tm;
    int frac;
    split(ms, &tm, &frac);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

char *cd_rfc3339_ms(int64_t ms, char out[32])
{
    struct tm tm;
    int frac;
    split(ms, &tm, &frac);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, frac);
    return out;
}

bool cd_parse_rfc3339(const char *s, int64_t *out)
{
    if (!s)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return false;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return false;
        offset_s = sign * (hh * 3600 + mm * 60);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    time_t t = timegm(&tm);
    *out = ((int64_t)t - offset_s) * 1000 + frac_ms;
    return true;
}

char *cd_micro_time_now(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char secs[24];
    strftime(secs, sizeof secs, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%06dZ", secs, (int)(ts.tv_nsec / 1000) % 1000000);
    return out;
}
