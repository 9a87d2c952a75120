/* url.h - URL pieces built the way Go's net/url builds them, so that the
 * requests canaryd sends match Flagger's byte for byte: query escaping
 * (url.QueryEscape), query parsing and sorted encoding (url.Values), and
 * joining an API path onto a configured address (path.Join + Resolve).
 * Pure functions; no I/O. */
#ifndef CD_NET_URL_H
#define CD_NET_URL_H
#include "util/err.h"
#include "util/buf.h"
#include <stdbool.h>
#include <stddef.h>

/* url.QueryEscape: unreserved A-Z a-z 0-9 - _ . ~ kept, space -> '+',
 * everything else %XX (upper case). */
void cd_url_query_escape(cd_buf *out, const char *s);
/* Reverses it ('+' -> space). False on a malformed %XX. */
bool cd_url_query_unescape(const char *s, size_t n, cd_buf *out);

typedef struct cd_query_pair { char *key, *value; } cd_query_pair;
typedef struct cd_query {
    cd_query_pair *items;
    size_t n, cap;
} cd_query;

/* Parses "a=1&b=2" (';' is not a separator, as in Go >= 1.17). False and
 * err on a malformed escape. Appends to q. */
bool cd_query_parse(cd_query *q, const char *raw, cd_err *err);
void cd_query_add(cd_query *q, const char *key, const char *value);
/* Replaces every value of key with one value (url.Values.Set). */
void cd_query_set(cd_query *q, const char *key, const char *value);
/* url.Values.Encode: keys sorted, values of one key in insertion order. */
void cd_query_encode(const cd_query *q, cd_buf *out);
void cd_query_free(cd_query *q);

/* address + "/" + api_path, cleaned like Go's path.Join (the address's own
 * path is kept: "http://h/prom/" + "api/v1/query" -> "http://h/prom/api/v1/query").
 * rawquery (already encoded) is appended after '?' when not NULL. Returns
 * a malloc'd URL, or NULL with err when address is not an http(s) URL. */
char *cd_url_join(const char *address, const char *api_path, const char *rawquery, cd_err *err);

#endif
