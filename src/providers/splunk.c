/* splunk.c - the Splunk Observability (SignalFx) provider (`splunk`), as
 * Flagger queries it: SignalFlow over a WebSocket at the address turned
 * into the stream endpoint (first "http" -> "ws", first "api" -> "stream",
 * + /v2/signalflow/connect), authenticate with the secret's sf_token_key,
 * execute the program over [now - 10 x interval, now] with immediate: true,
 * and collect the binary data messages until the channel ends; the value is
 * the last value received, an error when several time series answered.
 * Online: GET <api address>/v2/metric?limit=1 with X-SF-Token is 200. The
 * whole query is bounded by 5 s. Never shows the token. */
#include "net/ws.h"
#include "providers/provider.h"
#include "util/errfmt.h"
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SF_CHANNEL "R0"
#define SF_MAX_INFLATED (16u << 20)

typedef struct splunk {
    char *stream_url, *validate_url, *token;
    int64_t from_delta_ms;
} splunk;

static void sp_close(cd_provider *p)
{
    splunk *s = p->state;
    if (!s)
        return;
    free(s->stream_url);
    free(s->validate_url);
    free(s->token);
    free(s);
    p->state = NULL;
}

/* s with the first from replaced by to (Go's strings.Replace(s, from, to, 1)); malloc'd. */
static char *replace1(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    cd_buf b = CD_BUF_INIT;
    if (!at)
        cd_buf_puts(&b, s);
    else
        cd_buf_printf(&b, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return cd_buf_steal(&b);
}

static bool sp_open(cd_provider *p, const cd_provider_config *cfg, cd_err *err)
{
    if (!cfg->address || !*cfg->address) {
        cd_errfmt(err, "splunk endpoint is not set");
        return false;
    }
    const char *token = cd_provider_secret(cfg, "sf_token_key");
    if (!token) {
        cd_errfmt(err, "splunk credentials does not contain sf_token_key");
        return false;
    }
    int64_t ms;
    if (!cd_provider_interval_ms(cfg, &ms, err))
        return false;
    splunk *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    cd_buf b = CD_BUF_INIT;
    cd_buf_printf(&b, "%s/v2/signalflow", cfg->address);
    char *t = replace1(b.data, "http", "ws");
    s->stream_url = replace1(t, "api", "stream");
    free(t);
    cd_buf_reset(&b);
    cd_buf_printf(&b, "%s/v2/metric?limit=1", cfg->address);
    t = replace1(b.data, "ws", "http");
    s->validate_url = replace1(t, "stream", "api");
    free(t);
    cd_buf_free(&b);
    s->token = strdup(token);
    if (!s->token)
        abort();
    s->from_delta_ms = 10 * ms;
    p->state = s;
    if (strncmp(s->stream_url, "ws://", 5) && strncmp(s->stream_url, "wss://", 6)) {
        cd_provider_address_error(err, "splunk", cfg->address);
        sp_close(p);
        return false;
    }
    if (p->timeout_ms <= 0)
        p->timeout_ms = 5000;
    return true;
}

/* ---- SignalFlow messages ---- */

typedef struct sf_result {
    bool done;
    size_t n;                   /* payloads with a value */
    double last;
    uint64_t tsid;
    bool several;               /* more than one TSID */
} sf_result;

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool gunzip(const unsigned char *in, size_t n, cd_buf *out, cd_err *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        cd_errfmt(err, "invalid response: cannot inflate a compressed message");
        return false;
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    unsigned char buf[16384];
    int rc;
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END)
            break;
        cd_buf_append(out, buf, sizeof buf - z.avail_out);
    } while (rc != Z_STREAM_END && out->len <= SF_MAX_INFLATED && (z.avail_in || !z.avail_out));
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out->len > SF_MAX_INFLATED) {
        cd_errfmt(err, "invalid response: a compressed message does not inflate");
        return false;
    }
    return true;
}

static bool on_json(const char *body, size_t len, sf_result *r, cd_err *err);

/* A binary message: 20-byte header (version, type, flags, reserved,
 * channel), then a data message: timestamp (8), count (4), count x 17
 * bytes (value type, TSID, value), big-endian. */
static bool on_binary(const unsigned char *m, size_t len, sf_result *r, cd_err *err)
{
    if (len <= 20) {
        cd_errfmt(err, "invalid response: expected SignalFlow message of at least 21 bytes, got %zu "
                       "bytes", len);
        return false;
    }
    unsigned flags = m[2];
    cd_buf plain = CD_BUF_INIT;
    const unsigned char *d = m + 20;
    size_t n = len - 20;
    bool ok = true;
    if (flags & 1) {
        if (!gunzip(d, n, &plain, err)) {
            cd_buf_free(&plain);
            return false;
        }
        d = (const unsigned char *)plain.data;
        n = plain.len;
    }
    if (flags & 2) {
        ok = on_json((const char *)d, n, r, err);
    } else if (n < 12 || be32(d + 8) > (n - 12) / 17) {
        cd_errfmt(err, "invalid response: a SignalFlow data message is truncated");
        ok = false;
    } else {
        uint32_t count = be32(d + 8);
        for (uint32_t i = 0; i < count; i++) {
            const unsigned char *e = d + 12 + 17 * (size_t)i;
            uint64_t tsid = be64(e + 1), raw = be64(e + 9);
            double v;
            if (e[0] == 1)
                v = (double)(int64_t)raw;
            else if (e[0] == 2)
                memcpy(&v, &raw, sizeof v);
            else if (e[0] == 3)
                v = (double)(int32_t)(uint32_t)(raw >> 32);
            else
                continue;   /* no value, as Flagger drops it */
            if (r->n && tsid != r->tsid)
                r->several = true;
            r->tsid = tsid;
            r->last = v;
            r->n++;
        }
    }
    cd_buf_free(&plain);
    return ok;
}

/* A JSON message: errors fail, END_OF_CHANNEL / CHANNEL_ABORT end. */
static bool on_json(const char *body, size_t len, sf_result *r, cd_err *err)
{
    json_t *j = cd_provider_parse_json(body, len, false, err);
    if (!j)
        return false;
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *event = json_string_value(json_object_get(j, "event"));
    bool ok = true;
    if (type && !strcmp(type, "error")) {
        const char *msg = json_string_value(json_object_get(j, "message"));
        cd_errfmt(err, "error executing query: computation error %lld: %.300s",
                  (long long)json_integer_value(json_object_get(j, "error")), msg ? msg : "");
        ok = false;
    } else if (type && !strcmp(type, "control-message") && event &&
               (!strcmp(event, "END_OF_CHANNEL") || !strcmp(event, "CHANNEL_ABORT"))) {
        r->done = true;
    }
    json_decref(j);
    return ok;
}

static bool send_json(cd_ws *ws, json_t *m, cd_err *err)
{
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (!s)
        abort();
    bool ok = cd_ws_send_text(ws, s, strlen(s), err);
    free(s);
    return ok;
}

/* Waits for {"type": "authenticated"}. */
static bool authenticate(cd_ws *ws, const splunk *s, cd_err *err)
{
    if (!send_json(ws, json_pack("{s:s, s:s}", "type", "authenticate", "token", s->token), err))
        return false;
    for (;;) {
        bool bin;
        char *m;
        size_t n;
        if (!cd_ws_recv(ws, &bin, &m, &n, err))
            return false;
        json_t *j = bin ? NULL : json_loadb(m, n, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        bool authed = type && !strcmp(type, "authenticated");
        bool failed = type && !strcmp(type, "error");
        if (failed) {
            const char *msg = json_string_value(json_object_get(j, "message"));
            cd_errfmt(err, "authentication failed: %.300s", msg ? msg : "");
        }
        json_decref(j);
        free(m);
        if (authed)
            return true;
        if (failed)
            return false;
    }
}

static cd_metric_rc sp_query(cd_provider *p, const char *query, double *value, cd_err *err)
{
    splunk *s = p->state;
    cd_buf url = CD_BUF_INIT;
    cd_buf_printf(&url, "%s/connect", s->stream_url);
    cd_ws_opts o = {p->timeout_ms, p->insecure, p->ca_file};
    cd_ws *ws = cd_ws_connect(url.data, &o, err);
    cd_buf_free(&url);
    if (!ws) {
        cd_errprefix(err, "error executing query");
        return CD_METRIC_ERROR;
    }
    int64_t now = cd_provider_now_ms(p);
    bool ok = authenticate(ws, s, err);
    if (!ok)
        cd_errprefix(err, "error executing query");
    ok = ok && send_json(ws, json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:i, s:b, s:s}", "type",
                                       "execute", "program", query, "channel", SF_CHANNEL, "start",
                                       (json_int_t)(now - s->from_delta_ms), "stop",
                                       (json_int_t)now, "resolution", 0, "maxDelay", 0,
                                       "immediate", 1, "timezone", ""), err);
    if (!ok) {
        cd_ws_close(ws);
        return CD_METRIC_ERROR;
    }
    cd_metric_rc rc = cd_splunk_read(ws, value, err);
    cd_ws_close(ws);
    return rc;
}

cd_metric_rc cd_splunk_read(struct cd_ws *ws, double *value, cd_err *err)
{
    sf_result r = {0};
    bool ok = true;
    while (!r.done) {
        bool bin;
        char *m;
        size_t n;
        if (!cd_ws_recv(ws, &bin, &m, &n, err)) {
            cd_errprefix(err, "error executing query");
            ok = false;
            break;
        }
        ok = bin ? on_binary((const unsigned char *)m, n, &r, err) : on_json(m, n, &r, err);
        free(m);
        if (!ok)
            break;
    }
    if (!ok)
        return CD_METRIC_ERROR;
    if (!r.n) {
        cd_errfmt(err, "invalid response: no values found");
        return CD_METRIC_NO_DATA;
    }
    if (r.several) {
        cd_errfmt(err, "invalid response: query returned multiple values");
        return CD_METRIC_ERROR;
    }
    *value = r.last;
    return CD_METRIC_OK;
}

static bool sp_online(cd_provider *p, cd_err *err)
{
    splunk *s = p->state;
    cd_http_request rq;
    cd_http_request_init(&rq, "GET", s->validate_url);
    cd_http_response rs = {0};
    bool ok = cd_http_add_header(&rq, "X-SF-Token", s->token, err);
    if (ok && !(ok = cd_provider_http(p, &rq, &rs, err)))
        cd_errprefix(err, "request failed");
    else if (ok && rs.status != 200) {
        char ex[360];
        cd_http_excerpt(rs.body.data ? rs.body.data : "", rs.body.len, ex, sizeof ex);
        cd_errfmt(err, "error response (HTTP %ld): %s", rs.status, *ex ? ex : "(empty body)");
        ok = false;
    }
    cd_http_response_free(&rs);
    cd_http_request_free(&rq);
    return ok;
}

const cd_provider_type cd_provider_splunk = {
    .name = "splunk",
    .open = sp_open,
    .query = sp_query,
    .is_online = sp_online,
    .close = sp_close,
};
