/* http.c - head rewriting and canned responses. See http.h and proxy.h. */
#include "router/datapath/http.h"
#include "router/datapath/proxy.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Content-Length values are spelled out so that these stay constants. */
const char rt_resp_400[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 12\r\nConnection: close\r\n\r\nBad Request\n";
const char rt_resp_404[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 15\r\nConnection: close\r\n\r\nno route found\n";
const char rt_resp_405[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 19\r\nConnection: close\r\n\r\nMethod Not Allowed\n";
const char rt_resp_408[] = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 16\r\nConnection: close\r\n\r\nRequest Timeout\n";
const char rt_resp_413[] = "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 18\r\nConnection: close\r\n\r\nContent Too Large\n";
const char rt_resp_417[] = "HTTP/1.1 417 Expectation Failed\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 19\r\nConnection: close\r\n\r\nExpectation Failed\n";
const char rt_resp_431[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                           "Content-Type: text/plain\r\nContent-Length: 32\r\n"
                           "Connection: close\r\n\r\nRequest Header Fields Too Large\n";
const char rt_resp_501[] = "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 16\r\nConnection: close\r\n\r\nNot Implemented\n";
const char rt_resp_502[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 12\r\nConnection: close\r\n\r\nBad Gateway\n";
const char rt_resp_503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 20\r\nConnection: close\r\n\r\nService Unavailable\n";
const char rt_resp_504[] = "HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 16\r\nConnection: close\r\n\r\nGateway Timeout\n";
const char rt_resp_505[] = "HTTP/1.1 505 HTTP Version Not Supported\r\n"
                           "Content-Type: text/plain\r\nContent-Length: 27\r\n"
                           "Connection: close\r\n\r\nHTTP Version Not Supported\n";
const char rt_resp_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

const char *rt_error_response(unsigned status)
{
    switch (status) {
    case 400: return rt_resp_400;
    case 404: return rt_resp_404;
    case 405: return rt_resp_405;
    case 408: return rt_resp_408;
    case 413: return rt_resp_413;
    case 417: return rt_resp_417;
    case 431: return rt_resp_431;
    case 501: return rt_resp_501;
    case 502: return rt_resp_502;
    case 503: return rt_resp_503;
    case 504: return rt_resp_504;
    case 505: return rt_resp_505;
    default: return rt_resp_502;
    }
}

const char *rt_reason_phrase(unsigned s)
{
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static bool name_is(const char *n, size_t nl, const char *lit)
{
    size_t l = strlen(lit);
    return nl == l && !strncasecmp(n, lit, l);
}

bool rt_header_name_valid(const char *n, size_t nl)
{
    if (!nl)
        return false;
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)) || c == 0)
            return false;
    }
    return true;
}

bool rt_is_hop_header(const char *n, size_t nl)
{
    return name_is(n, nl, "connection") || name_is(n, nl, "keep-alive") ||
           name_is(n, nl, "proxy-connection") || name_is(n, nl, "te") ||
           name_is(n, nl, "upgrade") || name_is(n, nl, "http2-settings");
}

static bool is_framing(const char *n, size_t nl)
{
    return name_is(n, nl, "content-length") || name_is(n, nl, "transfer-encoding") ||
           name_is(n, nl, "host");
}

/* Is name one of the comma-separated tokens of a Connection header? */
bool rt_connection_lists(const char *v, size_t vl, const char *name, size_t nl)
{
    size_t i = 0;
    while (i < vl) {
        while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < vl && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == nl && !strncasecmp(v + s, name, nl))
            return true;
    }
    return false;
}

static bool listed_in_connection(const rt_header *hs, size_t n, const char *name, size_t nl)
{
    if (is_framing(name, nl))
        return false;
    for (size_t i = 0; i < n; i++)
        if (name_is(hs[i].name, hs[i].nlen, "connection") &&
            rt_connection_lists(hs[i].value, hs[i].vlen, name, nl))
            return true;
    return false;
}

bool rt_method_idempotent(uint8_t m)
{
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE ||
           m == HTTP_PUT || m == HTTP_DELETE;
}

typedef struct wr { char *p; size_t n, cap; bool ok; } wr;

static void put(wr *w, const void *s, size_t n)
{
    if (!w->ok || w->n + n > w->cap) {
        w->ok = false;
        return;
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
}
static void puts_(wr *w, const char *s) { put(w, s, strlen(s)); }

bool rt_split_absolute(const char *url, size_t len, const char **auth, size_t *alen,
                       const char **path, size_t *plen)
{
    size_t skip;
    if (len >= 7 && !strncasecmp(url, "http://", 7))
        skip = 7;
    else if (len >= 8 && !strncasecmp(url, "https://", 8))
        skip = 8;
    else
        return false;
    const char *a = url + skip, *end = url + len;
    const char *slash = a;
    while (slash < end && *slash != '/' && *slash != '?')
        slash++;
    *auth = a;
    *alen = (size_t)(slash - a);
    if (slash == end) {
        *path = "/";
        *plen = 1;
    } else if (*slash == '?') {
        *path = slash;      /* "?q" -> caller prefixes "/" */
        *plen = (size_t)(end - slash);
    } else {
        *path = slash;
        *plen = (size_t)(end - slash);
    }
    return true;
}

void rt_host_without_port(const char *v, size_t n, const char **host, size_t *hlen)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n && v[0] == '[') {
        const char *close = memchr(v, ']', n);
        *host = v;
        *hlen = close ? (size_t)(close - v + 1) : n;
        return;
    }
    const char *colon = memchr(v, ':', n);
    *host = v;
    *hlen = colon ? (size_t)(colon - v) : n;
}

static void put_shadow_host(wr *w, const char *v, size_t n)
{
    const char *h;
    size_t hl;
    rt_host_without_port(v, n, &h, &hl);
    size_t pre = (size_t)(h - v);
    put(w, v, pre + hl);
    puts_(w, "-shadow");
    put(w, h + hl, n - pre - hl);
}

size_t rt_build_request_head(char *out, size_t cap, const rt_req_head *h)
{
    wr w = {out, 0, cap, true};
    put(&w, h->method, h->method_len);
    put(&w, " ", 1);
    if (h->target_len && h->target[0] == '?')
        put(&w, "/", 1);
    put(&w, h->target, h->target_len);
    puts_(&w, " HTTP/1.1\r\n");
    bool have_proto = false, have_host = false;
    const rt_header *xff[16];
    size_t nxff = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        const rt_header *hd = &h->headers[i];
        if (rt_is_hop_header(hd->name, hd->nlen) || name_is(hd->name, hd->nlen, "expect") ||
            listed_in_connection(h->headers, h->nheaders, hd->name, hd->nlen))
            continue;
        if (name_is(hd->name, hd->nlen, "x-forwarded-for")) {
            if (nxff < 16)
                xff[nxff++] = hd;
            continue;
        }
        if (name_is(hd->name, hd->nlen, "x-forwarded-proto"))
            have_proto = true;
        if (name_is(hd->name, hd->nlen, "host")) {
            have_host = true;
            put(&w, hd->name, hd->nlen);
            put(&w, ": ", 2);
            const char *v = h->authority ? h->authority : hd->value;
            size_t vl = h->authority ? h->authority_len : hd->vlen;
            if (h->shadow)
                put_shadow_host(&w, v, vl);
            else
                put(&w, v, vl);
            put(&w, "\r\n", 2);
            continue;
        }
        put(&w, hd->name, hd->nlen);
        put(&w, ": ", 2);
        put(&w, hd->value, hd->vlen);
        put(&w, "\r\n", 2);
    }
    if (!have_host && h->authority) {
        puts_(&w, "Host: ");
        if (h->shadow)
            put_shadow_host(&w, h->authority, h->authority_len);
        else
            put(&w, h->authority, h->authority_len);
        put(&w, "\r\n", 2);
    }
    puts_(&w, "X-Forwarded-For: ");
    for (size_t i = 0; i < nxff; i++) {
        put(&w, xff[i]->value, xff[i]->vlen);
        put(&w, ", ", 2);
    }
    puts_(&w, h->client_ip ? h->client_ip : "unknown");
    put(&w, "\r\n", 2);
    if (!have_proto) {
        puts_(&w, "X-Forwarded-Proto: ");
        puts_(&w, h->proto ? h->proto : "http");
        put(&w, "\r\n", 2);
    }
    put(&w, "\r\n", 2);
    return w.ok ? w.n : 0;
}

size_t rt_build_response_head(char *out, size_t cap, const rt_resp_head *h)
{
    wr w = {out, 0, cap, true};
    char line[64];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %u ", h->status);
    put(&w, line, (size_t)n);
    if (h->reason_len)
        put(&w, h->reason, h->reason_len);
    else
        puts_(&w, rt_reason_phrase(h->status));
    put(&w, "\r\n", 2);
    for (size_t i = 0; i < h->nheaders; i++) {
        const rt_header *hd = &h->headers[i];
        if (rt_is_hop_header(hd->name, hd->nlen) ||
            listed_in_connection(h->headers, h->nheaders, hd->name, hd->nlen))
            continue;
        if (h->drop_transfer_encoding && name_is(hd->name, hd->nlen, "transfer-encoding"))
            continue;
        put(&w, hd->name, hd->nlen);
        put(&w, ": ", 2);
        put(&w, hd->value, hd->vlen);
        put(&w, "\r\n", 2);
    }
    if (h->extra_len)
        put(&w, h->extra, h->extra_len);
    if (!h->keep_alive)
        puts_(&w, "Connection: close\r\n");
    else if (h->client_http10)
        puts_(&w, "Connection: keep-alive\r\n");
    put(&w, "\r\n", 2);
    return w.ok ? w.n : 0;
}
