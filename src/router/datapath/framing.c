/* framing.c - RFC 9112 request framing checks: the head scan, the framing
 * fields and the chunked-body scanner. See framing.h. Pure. */
#include "router/datapath/framing.h"
#include <string.h>
#include <strings.h>

/* ---- character classes (RFC 9110 5.6.2, 5.5) ---- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* field-vchar / SP / HTAB, obs-text included */
static bool is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static const char *value_char_error(unsigned char c)
{
    if (c == '\n')
        return "bare LF in a header line";
    if (c == 0)
        return "NUL in a header value";
    return "control character in a header value";
}

/* ---- the head ---- */

static const char *request_line(const unsigned char *h, size_t len, size_t *pos)
{
    size_t i = *pos, s = i;
    while (i < len && is_tchar(h[i]))
        i++;
    if (i == s)
        return "invalid request method";
    if (i == len)
        return "invalid request line";
    if (h[i] != ' ')
        return h[i] == '\t' ? "tab in the request line" : "invalid request method";
    s = ++i;
    while (i < len && h[i] > 0x20 && h[i] < 0x7f && h[i] != '#')
        i++;
    if (i < len && h[i] == '#')
        return "fragment in the request target";
    if (i == len)
        return "invalid request line";
    if (i == s)
        return h[i] == ' ' ? "more than one space in the request line"
                           : "invalid character in the request target";
    if (h[i] == '\r' || h[i] == '\n')
        return "request line without an HTTP version";
    if (h[i] != ' ')
        return h[i] == '\t' ? "tab in the request line" : "invalid character in the request target";
    i++;
    if (len - i < 10 || memcmp(h + i, "HTTP/", 5) || !is_digit(h[i + 5]) || h[i + 6] != '.' ||
        !is_digit(h[i + 7]))
        return "invalid HTTP version in the request line";
    i += 8;
    if (h[i] == '\n')
        return "bare LF at the end of the request line";
    if (h[i] != '\r' || h[i + 1] != '\n')
        return h[i] == '\r' ? "bare CR in the request line" : "invalid request line";
    *pos = i + 2;
    return NULL;
}

static const char *header_line(const unsigned char *h, size_t len, size_t *pos)
{
    size_t i = *pos, s = i;
    if (h[i] == ' ' || h[i] == '\t')
        return "obsolete line folding (a header line starting with whitespace)";
    while (i < len && is_tchar(h[i]))
        i++;
    if (i == len)
        return "header line without a colon";
    if (h[i] != ':') {
        if (h[i] == ' ' || h[i] == '\t')
            return "whitespace before the colon of a header";
        if (h[i] == '\r' || h[i] == '\n')
            return i == s ? "bare CR or LF in the head" : "header line without a colon";
        return h[i] == 0 ? "NUL in a header name" : "invalid character in a header name";
    }
    if (i == s)
        return "empty header name";
    for (i++; i < len && h[i] != '\r'; i++)
        if (!is_value_char(h[i]))
            return value_char_error(h[i]);
    if (i == len)
        return "header line without CRLF";
    if (len - i < 2 || h[i + 1] != '\n')
        return "bare CR in a header line";
    *pos = i + 2;
    return NULL;
}

const char *rt_request_line_check(const char *p, size_t len)
{
    const unsigned char *h = (const unsigned char *)p;
    size_t i = 0;
    while (len - i >= 2 && h[i] == '\r' && h[i + 1] == '\n')
        i += 2;
    return request_line(h, len, &i);
}

const char *rt_head_check(const char *head, size_t len)
{
    const unsigned char *h = (const unsigned char *)head;
    size_t i = 0;
    while (len - i >= 2 && h[i] == '\r' && h[i + 1] == '\n')
        i += 2;
    if (i < len && (h[i] == '\n' || h[i] == '\r'))
        return "bare CR or LF before the request line";
    const char *why = request_line(h, len, &i);
    if (why)
        return why;
    for (;;) {
        if (i >= len)
            return "the head does not end with an empty line";
        if (h[i] == '\r') {
            if (len - i >= 2 && h[i + 1] == '\n')
                return i + 2 == len ? NULL : "bytes after the end of the head";
            return "bare CR in the head";
        }
        if (h[i] == '\n')
            return "bare LF in the head";
        if ((why = header_line(h, len, &i)))
            return why;
    }
}

/* ---- framing fields ---- */

static bool name_is(const rt_header *h, const char *lit)
{
    size_t l = strlen(lit);
    return h->nlen == l && !strncasecmp(h->name, lit, l);
}

static void trim(const char **v, size_t *n)
{
    while (*n && (**v == ' ' || **v == '\t'))
        (*v)++, (*n)--;
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

static bool parse_length(const char *v, size_t n, uint64_t *out)
{
    trim(&v, &n);
    if (!n || n > 19)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)v[i]))
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

/* 0 valid and final "chunked"; 400 malformed or chunked not final (or
 * twice); 501 other codings before the final chunked. */
static unsigned check_codings(const char *v, size_t n, const char **why)
{
    size_t i = 0;
    bool chunked_seen = false, others = false, last_chunked = false;
    for (;;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        size_t s = i;
        while (i < n && is_tchar((unsigned char)v[i]))
            i++;
        size_t e = i;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (e == s || (i < n && v[i] != ',')) {
            *why = "invalid Transfer-Encoding";
            return 400;
        }
        last_chunked = e - s == 7 && !strncasecmp(v + s, "chunked", 7);
        if (last_chunked && chunked_seen) {
            *why = "chunked applied twice in Transfer-Encoding";
            return 400;
        }
        chunked_seen |= last_chunked;
        others |= !last_chunked;
        if (i == n)
            break;
        i++;    /* ',' */
    }
    if (!last_chunked) {
        *why = "Transfer-Encoding does not end with chunked";
        return 400;
    }
    if (others) {
        *why = "a transfer coding other than chunked";
        return 501;
    }
    return 0;
}

bool rt_host_valid(const char *v, size_t n)
{
    size_t i = 0;
    trim(&v, &n);
    if (n && v[0] == '[') {
        for (i = 1; i < n && v[i] != ']'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (!(hex_value(c) >= 0 || c == ':' || c == '.' || c == 'v' || c == 'V'))
                return false;
        }
        if (i == n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && v[i] != ':'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c == '%') {
                if (n - i < 3 || hex_value((unsigned char)v[i + 1]) < 0 ||
                    hex_value((unsigned char)v[i + 2]) < 0)
                    return false;
                i += 2;
                continue;
            }
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
                  strchr("-._~!$&'()*+,;=", c)))
                return false;
        }
    }
    if (i == n)
        return true;
    if (v[i] != ':' || n - i - 1 > 5)
        return false;
    for (i++; i < n; i++)
        if (!is_digit((unsigned char)v[i]))
            return false;
    return true;
}

unsigned rt_framing_check(const rt_header *hs, size_t n, unsigned http_minor,
                          const char *authority, size_t auth_len, rt_framing *out,
                          const char **why)
{
    const rt_header *cl = NULL, *te = NULL, *host = NULL;
    int ncl = 0, nte = 0, nhost = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (name_is(&hs[i], "content-length"))
            cl = &hs[i], ncl++;
        else if (name_is(&hs[i], "transfer-encoding"))
            te = &hs[i], nte++;
        else if (name_is(&hs[i], "host"))
            host = &hs[i], nhost++;
    }
    if (ncl > 1) {
        *why = "more than one Content-Length";
        return 400;
    }
    if (cl && !parse_length(cl->value, cl->vlen, &out->length)) {
        *why = "invalid Content-Length";
        return 400;
    }
    out->has_length = cl != NULL;
    if (nte > 1) {
        *why = "more than one Transfer-Encoding";
        return 400;
    }
    if (te) {
        if (http_minor == 0) {
            *why = "Transfer-Encoding in an HTTP/1.0 request";
            return 400;
        }
        if (cl) {
            *why = "both Content-Length and Transfer-Encoding";
            return 400;
        }
        unsigned st = check_codings(te->value, te->vlen, why);
        if (st)
            return st;
        out->chunked = true;
    }
    if (nhost > 1) {
        *why = "more than one Host";
        return 400;
    }
    if (!host && http_minor >= 1) {
        *why = "no Host in an HTTP/1.1 request";
        return 400;
    }
    if (host && !rt_host_valid(host->value, host->vlen)) {
        *why = "invalid Host";
        return 400;
    }
    if (authority) {
        if (memchr(authority, '@', auth_len)) {
            *why = "userinfo in the request target";
            return 400;
        }
        if (!auth_len || !rt_host_valid(authority, auth_len)) {
            *why = "invalid authority in the request target";
            return 400;
        }
    }
    return 0;
}

/* ---- chunked bodies ---- */

enum {
    CS_SIZE,            /* hex digits */
    CS_EXT_NAME0,       /* after ';' */
    CS_EXT_NAME,
    CS_EXT_VALUE0,      /* after '=' */
    CS_EXT_TOKEN,
    CS_EXT_QUOTED,
    CS_EXT_QUOTED_END,  /* after the closing '"' */
    CS_SIZE_LF,         /* after the size line's CR */
    CS_DATA,
    CS_DATA_CR,
    CS_DATA_LF,
    CS_TRAILER0,        /* start of a trailer line, or the final CRLF */
    CS_TRAILER_NAME,
    CS_TRAILER_VALUE,
    CS_TRAILER_LF,
    CS_END_LF,
    CS_DONE,
    CS_ERROR,
};

void rt_chunk_scan_init(rt_chunk_scan *s, uint32_t max_trailer_bytes)
{
    memset(s, 0, sizeof *s);
    s->state = CS_SIZE;
    s->max_trailers = max_trailer_bytes;
}

/* Trailer fields that frame or route a message: a backend merging
 * trailers into the head must never see them. */
static bool forbidden_trailer(const rt_chunk_scan *s)
{
    static const char *const names[] = {"content-length", "transfer-encoding", "host"};
    if (s->name_len >= sizeof s->name)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == s->name_len && !strncasecmp(s->name, names[i], s->name_len))
            return true;
    return false;
}

/* One byte of a size line (size, extensions, CR). NULL or why not. */
static const char *size_line_byte(rt_chunk_scan *s, unsigned char c)
{
    if (++s->line > RT_CHUNK_LINE_MAX)
        return "chunk size line too long";
    switch (s->state) {
    case CS_SIZE: {
        int h = hex_value(c);
        if (h >= 0) {
            if (++s->digits > RT_CHUNK_SIZE_DIGITS)
                return "chunk size with more than 16 hex digits";
            s->size = s->size * 16 + (uint64_t)h;
            if (s->size > (uint64_t)RT_CHUNK_SIZE_MAX)
                return "chunk size too large";
            return NULL;
        }
        if (!s->digits)
            return "invalid chunk size";
        if (c == ';') {
            s->state = CS_EXT_NAME0;
            return NULL;
        }
        break;
    }
    case CS_EXT_NAME0:
        if (!is_tchar(c))
            return "invalid chunk extension";
        s->state = CS_EXT_NAME;
        return NULL;
    case CS_EXT_NAME:
        if (is_tchar(c))
            return NULL;
        if (c == ';') {
            s->state = CS_EXT_NAME0;
            return NULL;
        }
        if (c == '=') {
            s->state = CS_EXT_VALUE0;
            return NULL;
        }
        break;
    case CS_EXT_VALUE0:
        if (c == '"') {
            s->state = CS_EXT_QUOTED;
            return NULL;
        }
        if (!is_tchar(c))
            return "invalid chunk extension";
        s->state = CS_EXT_TOKEN;
        return NULL;
    case CS_EXT_TOKEN:
        if (is_tchar(c))
            return NULL;
        if (c == ';') {
            s->state = CS_EXT_NAME0;
            return NULL;
        }
        break;
    case CS_EXT_QUOTED:
        if (s->quoted_pair) {
            if (!is_value_char(c))
                return "invalid chunk extension";
            s->quoted_pair = false;
        } else if (c == '\\') {
            s->quoted_pair = true;
        } else if (c == '"') {
            s->state = CS_EXT_QUOTED_END;
        } else if (!is_value_char(c)) {
            return "invalid chunk extension";
        }
        return NULL;
    case CS_EXT_QUOTED_END:
        if (c == ';') {
            s->state = CS_EXT_NAME0;
            return NULL;
        }
        break;
    }
    if (c == '\r') {
        s->state = CS_SIZE_LF;
        return NULL;
    }
    if (c == '\n')
        return "bare LF in a chunk size line";
    if (c == ' ' || c == '\t')
        return "whitespace in a chunk size line";
    return s->state == CS_SIZE ? "invalid chunk size" : "invalid chunk extension";
}

static const char *trailer_byte(rt_chunk_scan *s, unsigned char c)
{
    if (++s->trailers > s->max_trailers)
        return "trailer section too large";
    switch (s->state) {
    case CS_TRAILER0:
        if (c == '\r') {
            s->state = CS_END_LF;
            return NULL;
        }
        if (c == ' ' || c == '\t')
            return "obsolete line folding in a trailer";
        if (!is_tchar(c))
            return c == '\n' ? "bare LF in the trailer section" : "invalid trailer field name";
        s->name_len = 0;
        s->state = CS_TRAILER_NAME;
        /* fall through */
    case CS_TRAILER_NAME:
        if (is_tchar(c)) {
            if (s->name_len < sizeof s->name)
                s->name[s->name_len] = (char)c;
            if (s->name_len < 255)
                s->name_len++;
            return NULL;
        }
        if (c == ':') {
            if (forbidden_trailer(s))
                return "a framing field (Content-Length, Transfer-Encoding, Host) in a trailer";
            s->state = CS_TRAILER_VALUE;
            return NULL;
        }
        if (c == ' ' || c == '\t')
            return "whitespace before the colon of a trailer";
        return "invalid trailer field name";
    case CS_TRAILER_VALUE:
        if (c == '\r') {
            s->state = CS_TRAILER_LF;
            return NULL;
        }
        if (!is_value_char(c))
            return c == '\n' ? "bare LF in a trailer" : "control character in a trailer";
        return NULL;
    case CS_TRAILER_LF:
        if (c != '\n')
            return "bare CR in a trailer";
        s->state = CS_TRAILER0;
        return NULL;
    case CS_END_LF:
        if (c != '\n')
            return "bare CR at the end of the chunked body";
        s->state = CS_DONE;
        return NULL;
    }
    return "invalid trailer section";
}

int rt_chunk_scan_feed(rt_chunk_scan *s, const char *p, size_t n, size_t *used,
                       const char **why)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i = 0;
    const char *err = NULL;
    if (s->state == CS_ERROR) {
        *why = "invalid chunked body";
        return -1;
    }
    while (i < n && s->state != CS_DONE) {
        unsigned char c = b[i];
        switch (s->state) {
        case CS_SIZE_LF:
            if (c != '\n') {
                err = "bare CR in a chunk size line";
                break;
            }
            s->line = 0;
            s->digits = 0;
            s->state = s->size ? CS_DATA : CS_TRAILER0;
            i++;
            continue;
        case CS_DATA: {
            size_t take = n - i < s->size ? n - i : (size_t)s->size;
            s->size -= take;
            i += take;
            if (!s->size)
                s->state = CS_DATA_CR;
            continue;
        }
        case CS_DATA_CR:
            if (c != '\r') {
                err = c == '\n' ? "bare LF after chunk data" : "chunk data not followed by CRLF";
                break;
            }
            s->state = CS_DATA_LF;
            i++;
            continue;
        case CS_DATA_LF:
            if (c != '\n') {
                err = "chunk data not followed by CRLF";
                break;
            }
            s->state = CS_SIZE;
            i++;
            continue;
        case CS_TRAILER0:
        case CS_TRAILER_NAME:
        case CS_TRAILER_VALUE:
        case CS_TRAILER_LF:
        case CS_END_LF:
            err = trailer_byte(s, c);
            break;
        default:
            err = size_line_byte(s, c);
        }
        if (err) {
            s->state = CS_ERROR;
            *why = err;
            return -1;
        }
        i++;
    }
    *used = i;
    return s->state == CS_DONE ? 1 : 0;
}
