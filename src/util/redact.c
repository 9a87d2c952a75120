/* redact.c - secrets out of URLs, header names and free text. See
 * redact.h for the rules. Pure. */
#include "util/redact.h"
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- output that always stays NUL-terminated ---- */

typedef struct wr { char *p; size_t n, cap; } wr;

static void put(wr *w, const char *s, size_t n)
{
    if (!w->cap)
        return;
    size_t room = w->cap - 1 - w->n;
    if (n > room)
        n = room;
    memcpy(w->p + w->n, s, n);
    w->n += n;
    w->p[w->n] = 0;
}
static void puts_(wr *w, const char *s) { put(w, s, strlen(s)); }
static void putc_(wr *w, char c) { put(w, &c, 1); }

typedef struct span { const char *p; size_t n; } span;

static bool span_is(span s, const char *lit)
{
    size_t l = strlen(lit);
    return s.n == l && !strncasecmp(s.p, lit, l);
}

/* ---- what looks like a secret ---- */

/* A path segment or bare value that looks like a generated token. */
static bool token_like(span s)
{
    if (s.n < 16)
        return false;
    size_t up = 0, lo = 0, dig = 0, hex = 0, other = 0, at = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        up += isupper(c) != 0;
        lo += islower(c) != 0;
        dig += isdigit(c) != 0;
        hex += isxdigit(c) != 0;
        at += c == '@';
        other += !isalnum(c) && c != '-';
    }
    if (up && lo && dig)
        return true;                            /* Slack, Discord, Rocket.Chat tokens */
    if (hex + (s.n - hex - other) == s.n && hex >= 32 && dig)
        return true;                            /* UUIDs, hex keys */
    if (at && s.n >= 36 && dig)
        return true;                            /* Teams' uuid@uuid */
    return s.n >= 20 && !strncmp(s.p, "eyJ", 3) && memchr(s.p, '.', s.n);     /* JWT */
}

static bool host_is(span host, const char *domain)
{
    size_t d = strlen(domain);
    if (host.n == d)
        return !strncasecmp(host.p, domain, d);
    return host.n > d && host.p[host.n - d - 1] == '.' &&
           !strncasecmp(host.p + host.n - d, domain, d);
}

static bool webhook_host(span host)
{
    static const char *const hosts[] = {
        "hooks.slack.com", "discord.com", "discordapp.com", "webhook.office.com",
        "outlook.office.com", "outlook.office365.com", "logic.azure.com", "chat.googleapis.com",
    };
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
        if (host_is(host, hosts[i]))
            return true;
    return false;
}

/* The fixed words of those hosts' URL schemes. */
static bool fixed_word(span s)
{
    static const char *const words[] = {
        "services", "api", "webhooks", "webhook", "webhookb2", "incomingwebhook", "hooks",
        "v1", "v2", "spaces", "messages", "workflows", "triggers", "manual", "paths",
        "invoke", "slack", "github",
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (span_is(s, words[i]))
            return true;
    return false;
}

static bool hook_word(span s)
{
    return span_is(s, "hooks") || span_is(s, "hook") || span_is(s, "webhook") ||
           span_is(s, "webhooks") || span_is(s, "webhookb2");
}

static bool word_secret(const char *w, size_t n)
{
    /* "session" alone or as a session's id or key (JSESSIONID, PHPSESSID,
       X-Session-Id), not every word that contains it: a Canary's
       sessionAffinity and its cookieName are settings, not secrets */
    static const char *const exact[] = {"key", "sig", "pass", "pwd", "auth", "cookie",
                                        "bearer", "jwt", "sas", "session"};
    static const char *const part[] = {"token", "secret", "passw", "apikey", "signature",
                                       "credential", "authorization", "authentication",
                                       "sessionid", "sessid", "sessionkey"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (n == strlen(exact[i]) && !strncasecmp(w, exact[i], n))
            return true;
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) {
        size_t l = strlen(part[i]);
        for (size_t j = 0; j + l <= n; j++)
            if (!strncasecmp(w + j, part[i], l))
                return true;
    }
    return false;
}

bool cd_redact_name_secret(const char *name, size_t len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (name[i] == '-' || name[i] == '_' || name[i] == '.'))
            i++;
        size_t s = i;
        while (i < len && name[i] != '-' && name[i] != '_' && name[i] != '.')
            i++;
        if (i > s && word_secret(name + s, i - s))
            return true;
    }
    return false;
}

/* ---- URLs ---- */

typedef struct url_parts {
    span scheme, userinfo, host, port, path, query, fragment;
    bool has_scheme, has_userinfo, has_query, has_fragment;
} url_parts;

static void split_url(const char *u, size_t len, url_parts *p)
{
    memset(p, 0, sizeof *p);
    size_t i = 0;
    /* "scheme://", however misspelt: what follows is an authority */
    for (size_t k = 0; k < len && k < 32; k++) {
        if (u[k] == '/' || u[k] == '?' || u[k] == '#' || u[k] == '@')
            break;
        if (u[k] == ':' && len - k >= 3 && u[k + 1] == '/' && u[k + 2] == '/') {
            p->has_scheme = true;
            p->scheme = (span){u, k};
            i = k + 3;
            break;
        }
    }
    size_t a = i;
    if (p->has_scheme || (len && u[0] != '/')) {
        while (i < len && u[i] != '/' && u[i] != '?' && u[i] != '#')
            i++;
    }
    span auth = {u + a, i - a};
    const char *atp = NULL;
    for (size_t k = 0; k < auth.n; k++)
        if (auth.p[k] == '@')
            atp = auth.p + k;
    if (atp) {
        p->has_userinfo = true;
        p->userinfo = (span){auth.p, (size_t)(atp - auth.p)};
        auth = (span){atp + 1, auth.n - (size_t)(atp - auth.p) - 1};
    }
    const char *colon = NULL;
    const char *rb = auth.n && auth.p[0] == '[' ? memchr(auth.p, ']', auth.n) : NULL;
    colon = memchr(rb ? rb : auth.p, ':', auth.n - (size_t)((rb ? rb : auth.p) - auth.p));
    p->host = (span){auth.p, colon ? (size_t)(colon - auth.p) : auth.n};
    p->port = colon ? (span){colon, auth.n - p->host.n} : (span){auth.p + auth.n, 0};
    size_t ps = i;
    while (i < len && u[i] != '?' && u[i] != '#')
        i++;
    p->path = (span){u + ps, i - ps};
    if (i < len && u[i] == '?') {
        p->has_query = true;
        size_t qs = ++i;
        while (i < len && u[i] != '#')
            i++;
        p->query = (span){u + qs, i - qs};
    }
    if (i < len && u[i] == '#') {
        p->has_fragment = true;
        p->fragment = (span){u + i + 1, len - i - 1};
    }
}

/* Calls f for every secret piece of the URL; what is kept is written to
 * w when w is not NULL. */
typedef void (*secret_fn)(void *ud, span s);

static void walk_url(const char *u, size_t len, unsigned flags, wr *w, secret_fn f, void *ud)
{
    url_parts p;
    split_url(u, len, &p);
    if (w && p.has_scheme) {
        put(w, p.scheme.p, p.scheme.n);
        puts_(w, "://");
    }
    if (p.has_userinfo) {
        if (w)
            puts_(w, CD_REDACTED "@");
        if (f) {
            f(ud, p.userinfo);
            const char *c = memchr(p.userinfo.p, ':', p.userinfo.n);
            if (c) {
                f(ud, (span){p.userinfo.p, (size_t)(c - p.userinfo.p)});
                f(ud, (span){c + 1, p.userinfo.n - (size_t)(c - p.userinfo.p) - 1});
            }
        }
    }
    if (w) {
        put(w, p.host.p, p.host.n);
        put(w, p.port.p, p.port.n);
    }
    bool known = webhook_host(p.host), after_hook = false;
    if (flags & CD_REDACT_PATH) {
        if (p.path.n > 1) {
            if (w)
                puts_(w, "/" CD_REDACTED);
            if (f) {
                f(ud, (span){p.path.p + 1, p.path.n - 1});
                for (size_t i = 0; i < p.path.n;) {
                    size_t s = i;
                    while (i < p.path.n && p.path.p[i] != '/')
                        i++;
                    span seg = {p.path.p + s, i - s};
                    if (!fixed_word(seg))
                        f(ud, seg);
                    i += i < p.path.n;
                }
            }
        } else if (w) {
            put(w, p.path.p, p.path.n);
        }
    } else {
        size_t i = 0;
        while (i < p.path.n) {
            size_t s = i;
            while (i < p.path.n && p.path.p[i] != '/')
                i++;
            span seg = {p.path.p + s, i - s};
            bool secret = seg.n && ((known && !fixed_word(seg)) ||
                                    (after_hook && !fixed_word(seg)) || token_like(seg));
            if (seg.n && hook_word(seg))
                after_hook = true;
            if (secret && f)
                f(ud, seg);
            if (w)
                secret ? puts_(w, CD_REDACTED) : put(w, seg.p, seg.n);
            if (i < p.path.n) {
                if (w)
                    putc_(w, '/');
                i++;
            }
        }
    }
    if (p.has_query) {
        if (w)
            putc_(w, '?');
        size_t i = 0;
        while (i <= p.query.n) {
            size_t s = i;
            while (i < p.query.n && p.query.p[i] != '&')
                i++;
            span kv = {p.query.p + s, i - s};
            const char *eq = memchr(kv.p, '=', kv.n);
            if (eq) {
                span v = {eq + 1, kv.n - (size_t)(eq - kv.p) - 1};
                if (w) {
                    put(w, kv.p, (size_t)(eq - kv.p) + 1);
                    if (v.n)
                        puts_(w, CD_REDACTED);
                }
                if (v.n && f)
                    f(ud, v);
            } else if (token_like(kv)) {
                if (w)
                    puts_(w, CD_REDACTED);
                if (f)
                    f(ud, kv);
            } else if (w) {
                put(w, kv.p, kv.n);
            }
            if (i < p.query.n && w)
                putc_(w, '&');
            i++;
        }
    }
    if (p.has_fragment) {
        if (w)
            puts_(w, p.fragment.n ? "#" CD_REDACTED : "#");
        if (p.fragment.n && f)
            f(ud, p.fragment);
    }
}

void cd_redact_url(const char *url, unsigned flags, char *out, size_t n)
{
    if (!n)
        return;
    out[0] = 0;
    if (!url)
        return;
    wr w = {out, 0, n};
    walk_url(url, strlen(url), flags, &w, NULL, NULL);
}

char *cd_redact_url_dup(const char *url, unsigned flags)
{
    if (!url)
        return NULL;
    /* a secret of one character becomes "REDACTED": at most 8 times longer */
    size_t cap = strlen(url) * 8 + 32;
    char *out = malloc(cap);
    if (out)
        cd_redact_url(url, flags, out, cap);
    return out;
}

/* ---- free text ---- */

#define MAX_KNOWN 32

typedef struct known { span s[MAX_KNOWN]; size_t n; } known;

static void add_known(void *ud, span s)
{
    known *k = ud;
    if (s.n >= 4 && k->n < MAX_KNOWN)
        k->s[k->n++] = s;
}

static bool url_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '<' && c != '>' && c != '`';
}

static bool word_char(unsigned char c) { return isalnum(c) || c == '-' || c == '_' || c == '.'; }

static size_t starts_ci(const char *t, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && !strncasecmp(t, lit, l) ? l : 0;
}

/* A credential value: up to the end of the line or a quote. */
static size_t value_end(const char *t, size_t n, size_t i, bool stop_at_space)
{
    while (i < n && t[i] != '\r' && t[i] != '\n' && t[i] != '"' && t[i] != '\'' &&
           !(stop_at_space && (t[i] == ' ' || t[i] == '\t' || t[i] == '&' || t[i] == ',' ||
                               t[i] == ';')))
        i++;
    return i;
}

/* Tries the rules at t[i] (a word start); returns the new index with the
 * redacted form written, or i when none applies. */
static size_t redact_word(const char *t, size_t n, size_t i, unsigned flags, wr *w)
{
    size_t l;
    if ((l = starts_ci(t + i, n - i, "http://")) || (l = starts_ci(t + i, n - i, "https://"))) {
        size_t e = i;
        while (e < n && url_char((unsigned char)t[e]))
            e++;
        /* sentence punctuation after a URL is not part of it */
        while (e > i + l && strchr(".,;:)]", t[e - 1]))
            e--;
        char tmp[4096];
        size_t m = e - i < sizeof tmp - 1 ? e - i : sizeof tmp - 1;
        memcpy(tmp, t + i, m);
        tmp[m] = 0;
        walk_url(tmp, m, flags, w, NULL, NULL);
        return e;
    }
    static const char *const schemes[] = {"Bearer ", "Basic ", "Token ", "Api-Token ",
                                          "Digest "};
    for (size_t k = 0; k < sizeof schemes / sizeof schemes[0]; k++)
        if ((l = starts_ci(t + i, n - i, schemes[k])) && i + l < n && t[i + l] != ' ' &&
            t[i + l] != '"' && t[i + l] != '\'') {
            put(w, t + i, l);
            puts_(w, CD_REDACTED);
            return value_end(t, n, i + l, true);
        }
    size_t e = i;
    while (e < n && word_char((unsigned char)t[e]))
        e++;
    if (e == i || !cd_redact_name_secret(t + i, e - i))
        return i;
    size_t q = e;
    bool quoted_name = i > 0 && t[i - 1] == '"' && q < n && t[q] == '"';
    if (quoted_name)
        q++;
    if (q < n && t[q] == ':') {
        /* Name: value (a header), "name": "value" (JSON) */
        size_t v = q + 1;
        while (v < n && (t[v] == ' ' || t[v] == '\t'))
            v++;
        if (quoted_name && v < n && t[v] == '"') {
            put(w, t + i, v + 1 - i);
            puts_(w, CD_REDACTED);
            return value_end(t, n, v + 1, false);
        }
        if (!quoted_name && v < n && t[v] != '\r' && t[v] != '\n') {
            put(w, t + i, v - i);
            puts_(w, CD_REDACTED);
            return value_end(t, n, v, false);
        }
        return i;
    }
    if (!quoted_name && q < n && t[q] == '=' && q + 1 < n && t[q + 1] != ' ') {
        put(w, t + i, q + 1 - i);
        puts_(w, CD_REDACTED);
        return value_end(t, n, q + 1, true);
    }
    return i;
}

void cd_redact_text(const char *text, const char *url, unsigned flags, char *out, size_t n)
{
    if (!n)
        return;
    out[0] = 0;
    if (!text)
        return;
    wr w = {out, 0, n};
    known k = {.n = 0};
    if (url)
        walk_url(url, strlen(url), flags, NULL, add_known, &k);
    size_t len = strlen(text), i = 0;
    while (i < len) {
        size_t best = 0;
        for (size_t j = 0; j < k.n; j++)
            if (k.s[j].n > best && k.s[j].n <= len - i && !memcmp(text + i, k.s[j].p, k.s[j].n))
                best = k.s[j].n;
        if (best) {
            puts_(&w, CD_REDACTED);
            i += best;
            continue;
        }
        if (i == 0 || !word_char((unsigned char)text[i - 1])) {
            size_t e = redact_word(text, len, i, flags, &w);
            if (e != i) {
                i = e;
                continue;
            }
        }
        putc_(&w, text[i++]);
    }
}
