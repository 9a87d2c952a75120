/* framing.h - the request framing a proxy may forward (RFC 9112), checked
 * on top of llhttp so that nothing two HTTP parsers could read
 * differently reaches a backend: the request head byte by byte (request
 * line, CRLF line ends, field names and values, no obsolete line
 * folding), the header fields that frame the message (Content-Length,
 * Transfer-Encoding, Host), and chunked bodies as they stream (chunk
 * sizes, extensions, CRLF after data, trailer fields). Pure: no I/O, no
 * allocation; every function says why it refused with a short constant
 * string. Must not accept anything llhttp would read otherwise. */
#ifndef CD_ROUTER_FRAMING_H
#define CD_ROUTER_FRAMING_H
#include "router/table/table.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A chunk size has at most this many hex digits (leading zeros count). */
#define RT_CHUNK_SIZE_DIGITS 16
/* ... and is below 2^63 (what a signed 64-bit parser can hold). */
#define RT_CHUNK_SIZE_MAX INT64_MAX
/* A chunk-size line (size and extensions) is at most this long. */
#define RT_CHUNK_LINE_MAX 4096

/* Checks a complete request head: optional leading empty lines (CRLF),
 * then "METHOD SP request-target SP HTTP/d.d CRLF", header lines
 * "name:OWS value OWS CRLF" and the final CRLF, exactly len bytes.
 * Returns NULL when it conforms, else why not. */
const char *rt_head_check(const char *head, size_t len);

/* Checks only the request line at the start of p[0..len) (after optional
 * empty lines): NULL when it is well formed up to its CRLF. */
const char *rt_request_line_check(const char *p, size_t len);

typedef struct rt_framing {
    bool chunked;           /* the body is chunked */
    bool has_length;        /* Content-Length given */
    uint64_t length;
} rt_framing;

/* Checks the fields that frame and route a request of HTTP/1.http_minor:
 * at most one Content-Length, all digits; at most one Transfer-Encoding,
 * a comma list of codings ending with one "chunked", never with
 * Content-Length nor in HTTP/1.0; exactly one Host (HTTP/1.1; at most
 * one in 1.0) holding a valid host[:port]. Returns 0 and fills out, or
 * 400 (malformed) or 501 (a transfer coding other than chunked) with why.
 * An absolute-form authority (with auth_len) is checked like Host, and
 * refused with userinfo. */
unsigned rt_framing_check(const rt_header *hs, size_t n, unsigned http_minor,
                          const char *authority, size_t auth_len, rt_framing *out,
                          const char **why);

/* Whether v[0..n) is a valid uri-host [":" port] (Host header syntax). */
bool rt_host_valid(const char *v, size_t n);

/* A chunked body, checked as it streams. */
typedef struct rt_chunk_scan {
    uint8_t state;
    uint8_t digits;         /* hex digits of the current size */
    bool quoted_pair;       /* in a quoted extension value, after '\' */
    uint8_t name_len;       /* trailer field name, first bytes kept */
    char name[20];
    uint32_t line;          /* bytes of the current size line */
    uint32_t trailers;      /* bytes of the trailer section */
    uint32_t max_trailers;
    uint64_t size;          /* of the current chunk; data left to skip */
} rt_chunk_scan;

void rt_chunk_scan_init(rt_chunk_scan *s, uint32_t max_trailer_bytes);

/* Feeds n more body bytes. Returns 0 when all n are valid and the body
 * goes on (*used = n), 1 when the body ends within them (*used = bytes up
 * to and including its last CRLF), -1 on invalid framing (why set). */
int rt_chunk_scan_feed(rt_chunk_scan *s, const char *p, size_t n, size_t *used,
                       const char **why);

#endif
