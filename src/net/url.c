/* url.c - Go-compatible URL escaping, query handling and path joining (see
 * url.h). Pure; allocation failures abort. */
#include "net/url.h"
#include "util/redact.h"
#include "net/http.h"
#include "util/errfmt.h"
#include "util/grow.h"
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

void cd_url_query_escape(cd_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            cd_buf_putc(out, (char)*p);
        } else if (*p == ' ') {
            cd_buf_putc(out, '+');
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            cd_buf_append(out, e, 3);
        }
    }
    if (!out->data)
        cd_buf_puts(out, "");
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool cd_url_query_unescape(const char *s, size_t n, cd_buf *out)
{
    cd_buf_reset(out);
    cd_buf_puts(out, "");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return false;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            cd_buf_putc(out, (char)(hi * 16 + lo));
            i += 2;
        } else if (s[i] == '+') {
            cd_buf_putc(out, ' ');
        } else {
            cd_buf_putc(out, s[i]);
        }
    }
    return true;
}

void cd_query_add(cd_query *q, const char *key, const char *value)
{
    CD_GROW(q->items, q->cap, q->n + 1, 8);
    q->items[q->n].key = strdup(key);
    q->items[q->n].value = strdup(value ? value : "");
    if (!q->items[q->n].key || !q->items[q->n].value)
        abort();
    q->n++;
}

void cd_query_set(cd_query *q, const char *key, const char *value)
{
    size_t w = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (!strcmp(q->items[i].key, key)) {
            free(q->items[i].key);
            free(q->items[i].value);
        } else {
            q->items[w++] = q->items[i];
        }
    }
    q->n = w;
    cd_query_add(q, key, value);
}

bool cd_query_parse(cd_query *q, const char *raw, cd_err *err)
{
    const char *p = raw;
    cd_buf k = CD_BUF_INIT, v = CD_BUF_INIT;
    bool ok = true;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            const char *vs = eq ? eq + 1 : p + len;
            size_t vlen = eq ? len - klen - 1 : 0;
            if (!cd_url_query_unescape(p, klen, &k) || !cd_url_query_unescape(vs, vlen, &v)) {
                cd_errfmt(err, "malformed %%-escape in query parameter \"%.*s\"",
                          (int)(klen > 60 ? 60 : klen), p);
                ok = false;
                break;
            }
            cd_query_add(q, cd_buf_str(&k), cd_buf_str(&v));
        }
        p = amp ? amp + 1 : NULL;
    }
    cd_buf_free(&k);
    cd_buf_free(&v);
    return ok;
}

static int cmp_pair_index(const void *a, const void *b, void *arg)
{
    const cd_query *q = arg;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int c = strcmp(q->items[ia].key, q->items[ib].key);
    if (c)
        return c;
    return ia < ib ? -1 : ia > ib;
}

void cd_query_encode(const cd_query *q, cd_buf *out)
{
    cd_buf_puts(out, "");
    if (q->n == 0)
        return;
    size_t *idx = malloc(q->n * sizeof *idx);
    if (!idx)
        abort();
    for (size_t i = 0; i < q->n; i++)
        idx[i] = i;
    qsort_r(idx, q->n, sizeof *idx, cmp_pair_index, (void *)q);
    for (size_t i = 0; i < q->n; i++) {
        if (i)
            cd_buf_putc(out, '&');
        cd_url_query_escape(out, q->items[idx[i]].key);
        cd_buf_putc(out, '=');
        cd_url_query_escape(out, q->items[idx[i]].value);
    }
    free(idx);
}

void cd_query_free(cd_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->items[i].key);
        free(q->items[i].value);
    }
    free(q->items);
    memset(q, 0, sizeof *q);
}

/* Go's path.Clean on an absolute path built from base + "/" + rel. */
static void clean_path(const char *in, cd_buf *out)
{
    size_t n = strlen(in);
    char **segs = calloc(n + 1, sizeof *segs);
    char *copy = strdup(in);
    if (!segs || !copy)
        abort();
    size_t ns = 0;
    for (char *save = NULL, *s = strtok_r(copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (!strcmp(s, "."))
            continue;
        if (!strcmp(s, "..")) {
            if (ns)
                ns--;
            continue;
        }
        segs[ns++] = s;
    }
    cd_buf_puts(out, "");
    for (size_t i = 0; i < ns; i++) {
        cd_buf_putc(out, '/');
        cd_buf_puts(out, segs[i]);
    }
    if (ns == 0)
        cd_buf_putc(out, '/');
    free(segs);
    free(copy);
}

char *cd_url_join(const char *address, const char *api_path, const char *rawquery, cd_err *err)
{
    if (!cd_http_url_valid(address)) {
        char shown[256];
        cd_redact_url(address ? address : "", 0, shown, sizeof shown);
        cd_errfmt(err, "address \"%s\" is not a valid http:// or https:// URL", shown);
        return NULL;
    }
    CURLU *u = curl_url();
    if (!u)
        abort();
    char *path = NULL, *result = NULL;
    curl_url_set(u, CURLUPART_URL, address, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    cd_buf joined = CD_BUF_INIT, clean = CD_BUF_INIT;
    cd_buf_printf(&joined, "/%s/%s", path ? path : "", api_path ? api_path : "");
    clean_path(joined.data, &clean);
    curl_url_set(u, CURLUPART_PATH, clean.data, 0);
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    char *base = NULL;
    if (curl_url_get(u, CURLUPART_URL, &base, 0) != CURLUE_OK || !base) {
        char shown[256];
        cd_redact_url(address, 0, shown, sizeof shown);
        cd_errfmt(err, "address \"%s\" cannot be joined with %s", shown, api_path);
    } else {
        cd_buf r = CD_BUF_INIT;
        cd_buf_puts(&r, base);
        if (rawquery) {
            cd_buf_putc(&r, '?');
            cd_buf_puts(&r, rawquery);
        }
        result = cd_buf_steal(&r);
    }
    curl_free(base);
    curl_free(path);
    cd_buf_free(&joined);
    cd_buf_free(&clean);
    curl_url_cleanup(u);
    return result;
}
