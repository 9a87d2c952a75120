/* gofmt.c - Go's float and duration formatting (see gofmt.h). Pure. */
#include "util/gofmt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shortest decimal digits of v (> 0, finite) and its decimal exponent:
 * v = 0.d1d2d3... x 10^dp. */
static int shortest_digits(double v, char digits[24], int *dp)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v || prec == 17)
            break;
    }
    /* buf is "d.ddddde[+-]xx" */
    int n = 0;
    const char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *dp = atoi(p + 1) + 1;
    return n;
}

char *cd_go_float(double v, char *out, size_t outlen)
{
    if (isnan(v)) {
        snprintf(out, outlen, "NaN");
        return out;
    }
    if (isinf(v)) {
        snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
        return out;
    }
    if (v == 0) {
        snprintf(out, outlen, signbit(v) ? "-0" : "0");
        return out;
    }
    const char *sign = v < 0 ? "-" : "";
    char d[24];
    int dp;
    int nd = shortest_digits(fabs(v), d, &dp);
    int exp = dp - 1;
    if (exp < -4 || exp >= 6) {   /* strconv: shortest 'g' decides with precision 6 */
        char mant[32];
        if (nd == 1)
            snprintf(mant, sizeof mant, "%c", d[0]);
        else
            snprintf(mant, sizeof mant, "%c.%s", d[0], d + 1);
        snprintf(out, outlen, "%s%se%c%02d", sign, mant, exp < 0 ? '-' : '+', abs(exp));
        return out;
    }
    char body[40];
    size_t k = 0;
    if (dp <= 0) {
        body[k++] = '0';
        body[k++] = '.';
        for (int i = 0; i < -dp; i++)
            body[k++] = '0';
        for (int i = 0; i < nd; i++)
            body[k++] = d[i];
    } else {
        for (int i = 0; i < dp; i++)
            body[k++] = i < nd ? d[i] : '0';
        if (nd > dp) {
            body[k++] = '.';
            for (int i = dp; i < nd; i++)
                body[k++] = d[i];
        }
    }
    body[k] = '\0';
    snprintf(out, outlen, "%s%s", sign, body);
    return out;
}

/* Appends the fraction of a value in units of 10^-prec, Go style
 * (trailing zeros dropped, no point when nothing is left). */
static void put_frac(char *buf, size_t *k, uint64_t frac, int prec)
{
    char tmp[24];
    int n;
    for (int i = 0; i < prec; i++) {
        tmp[prec - 1 - i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    n = prec;
    while (n > 0 && tmp[n - 1] == '0')
        n--;
    if (n == 0)
        return;
    buf[(*k)++] = '.';
    for (int i = 0; i < n; i++)
        buf[(*k)++] = tmp[i];
}

char *cd_go_duration_ms(int64_t ms, char *out, size_t outlen)
{
    if (ms == 0) {
        snprintf(out, outlen, "0s");
        return out;
    }
    char buf[64];
    size_t k = 0;
    uint64_t u = ms < 0 ? (uint64_t)(-(ms + 1)) + 1 : (uint64_t)ms;
    if (ms < 0)
        buf[k++] = '-';
    if (u < 1000) {
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%llums", (unsigned long long)u);
        buf[k] = '\0';
        snprintf(out, outlen, "%s", buf);
        return out;
    }
    uint64_t secs = u / 1000, frac = u % 1000;
    uint64_t h = secs / 3600, m = (secs / 60) % 60, s = secs % 60;
    if (h)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%lluh", (unsigned long long)h);
    if (h || m)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%llum", (unsigned long long)m);
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%llu", (unsigned long long)s);
    put_frac(buf, &k, frac, 3);
    buf[k++] = 's';
    buf[k] = '\0';
    snprintf(out, outlen, "%s", buf);
    return out;
}
