/* test_providers_splunk.c - the `splunk` provider against a local SignalFlow
 * server: a WebSocket server (RFC 6455 handshake, masked client frames)
 * speaking SignalFlow's stream messages (authenticate/authenticated,
 * execute, control messages, metadata, binary data messages with the
 * 20-byte header, gzip'd or not, fragmented, with pings in between, errors,
 * END_OF_CHANNEL), and the HTTP validation endpoint: the value, the
 * execute request, no data, several series, computation errors, a bad
 * token, garbage and truncated messages, a server that never ends the
 * channel (timeout), a refused upgrade, a close frame, constructor errors;
 * and frames given as bytes (cd_ws_from_bytes), as the fuzz target reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>
#include "testsrv.h"
#include "net/ws.h"
#include "providers/provider.h"

#define NOW_MS 1700000000000LL
static int64_t fixed_now(void) { return NOW_MS; }

typedef enum { SC_DATA, SC_ERROR, SC_HANG, SC_GARBAGE, SC_TRUNCATED, SC_CLOSE, SC_REFUSE } scenario;

typedef struct sf_point { unsigned char type; uint64_t tsid; double v; } sf_point;

static struct {
    int lfd, port;
    pthread_t th;
    scenario sc;
    bool gzip, fragment;
    sf_point pts[8];
    size_t npts;
    char path[256];
    json_t *auth, *exec;
    int conns;
    int hung_fd;
} sf;

static testsrv http;   /* the validation endpoint */

/* ---- the WebSocket side of the server ---- */

static bool rd(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void wr(int fd, const void *p, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = write(fd, (const char *)p + done, n - done);
        if (r <= 0)
            return;
        done += (size_t)r;
    }
}

static void frame(int fd, unsigned op, bool fin, const void *p, size_t n)
{
    unsigned char h[10];
    size_t k = 0;
    h[k++] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        h[k++] = (unsigned char)n;
    } else if (n <= 0xffff) {
        h[k++] = 126;
        h[k++] = (unsigned char)(n >> 8);
        h[k++] = (unsigned char)n;
    } else {
        h[k++] = 127;
        for (int i = 7; i >= 0; i--)
            h[k++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    wr(fd, h, k);
    wr(fd, p, n);
}

static void text(int fd, const char *s) { frame(fd, 1, true, s, strlen(s)); }

/* A client frame (must be masked); opcode, malloc'd payload. */
static int read_frame(int fd, char **out, size_t *len)
{
    unsigned char h[2], ext[8], mask[4];
    if (!rd(fd, h, 2))
        return -1;
    uint64_t n = h[1] & 0x7f;
    if (n >= 126) {
        size_t k = n == 126 ? 2 : 8;
        if (!rd(fd, ext, k))
            return -1;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | ext[i];
    }
    if (!(h[1] & 0x80) || !rd(fd, mask, 4))
        return -2;   /* unmasked client frames are a protocol error */
    char *p = malloc(n + 1);
    if (!rd(fd, p, n)) {
        free(p);
        return -1;
    }
    for (uint64_t i = 0; i < n; i++)
        p[i] ^= mask[i % 4];
    p[n] = '\0';
    *out = p;
    *len = n;
    return h[0] & 0x0f;
}

static size_t gzip_buf(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return got;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        p[7 - i] = (unsigned char)(v >> (8 * i));
}

/* One binary data message with pts (all at one timestamp). */
static void data_message(int fd, const sf_point *pts, size_t n, bool gz, bool truncated)
{
    unsigned char body[12 + 17 * 8], msg[20 + 512];
    put64(body, (uint64_t)NOW_MS);
    body[8] = body[9] = body[10] = 0;
    body[11] = (unsigned char)n;
    for (size_t i = 0; i < n; i++) {
        unsigned char *e = body + 12 + 17 * i;
        e[0] = pts[i].type;
        put64(e + 1, pts[i].tsid);
        uint64_t raw;
        if (pts[i].type == 2)
            memcpy(&raw, &pts[i].v, 8);
        else if (pts[i].type == 3)
            raw = (uint64_t)(uint32_t)(int32_t)pts[i].v << 32;
        else
            raw = (uint64_t)(int64_t)pts[i].v;
        put64(e + 9, raw);
    }
    size_t blen = 12 + 17 * n;
    memset(msg, 0, 20);
    msg[0] = 1;      /* version */
    msg[1] = 5;      /* data */
    msg[2] = gz ? 1 : 0;
    memcpy(msg + 4, "R0", 2);
    size_t mlen = 20 + (gz ? gzip_buf(body, blen, msg + 20, sizeof msg - 20)
                           : (memcpy(msg + 20, body, blen), blen));
    if (truncated)
        mlen -= 5;
    if (sf.fragment && mlen > 30) {   /* two fragments, a ping between them */
        frame(fd, 2, false, msg, 25);
        frame(fd, 9, true, "hb", 2);
        frame(fd, 0, true, msg + 25, mlen - 25);
    } else {
        frame(fd, 2, true, msg, mlen);
    }
}

static void serve(int fd)
{
    char req[4096] = "";
    size_t n = 0;
    while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t r = read(fd, req + n, sizeof req - 1 - n);
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
    }
    sscanf(req, "GET %255s", sf.path);
    if (sf.sc == SC_REFUSE) {
        const char *no = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        wr(fd, no, strlen(no));
        return;
    }
    const char *k = strcasestr(req, "Sec-WebSocket-Key:");
    char key[64] = "";
    if (k)
        sscanf(k + 18, " %63s", key);
    char cat[128];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char sha[20];
    SHA1((unsigned char *)cat, strlen(cat), sha);
    char acc[64];
    EVP_EncodeBlock((unsigned char *)acc, sha, 20);
    char resp[256];
    snprintf(resp, sizeof resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
    wr(fd, resp, strlen(resp));
    for (;;) {
        char *p;
        size_t len;
        int op = read_frame(fd, &p, &len);
        if (op < 0)
            return;
        if (op != 1) {
            free(p);
            continue;
        }
        json_t *m = json_loads(p, 0, NULL);
        free(p);
        const char *type = json_string_value(json_object_get(m, "type"));
        if (type && !strcmp(type, "authenticate")) {
            json_decref(sf.auth);
            sf.auth = m;
            if (strcmp(json_string_value(json_object_get(m, "token")), "sf-token")) {
                text(fd, "{\"type\":\"error\",\"error\":401,\"message\":\"Invalid access token\"}");
                return;
            }
            text(fd, "{\"type\":\"authenticated\",\"orgId\":\"AAAA\",\"userId\":\"BBBB\"}");
            continue;
        }
        json_decref(sf.exec);
        sf.exec = m;
        text(fd, "{\"type\":\"control-message\",\"channel\":\"R0\",\"event\":\"STREAM_START\","
                 "\"timestampMs\":1700000000000}");
        text(fd, "{\"type\":\"control-message\",\"channel\":\"R0\",\"event\":\"JOB_START\","
                 "\"handle\":\"EwXbkNqAgAA\",\"timestampMs\":1700000000000}");
        switch (sf.sc) {
        case SC_ERROR:
            text(fd, "{\"type\":\"error\",\"channel\":\"R0\",\"error\":400,\"errorType\":"
                     "\"ANALYTICS_PROGRAM_SYNTAX_ERROR\",\"message\":\"Syntax error at line 1\"}");
            return;
        case SC_HANG:     /* keeps the connection open, says nothing more */
            sf.hung_fd = dup(fd);
            return;
        case SC_GARBAGE:
            text(fd, "<html>502</html>");
            return;
        case SC_CLOSE:
            frame(fd, 8, true, "\x03\xf3going away", 12);
            return;
        default:
            break;
        }
        text(fd, "{\"type\":\"message\",\"channel\":\"R0\",\"logicalTimestampMs\":1700000000000,"
                 "\"message\":{\"messageCode\":\"JOB_RUNNING_RESOLUTION\",\"contents\":"
                 "{\"resolutionMs\":10000}}}");
        for (size_t i = 0; i < sf.npts; i++)
            text(fd, "{\"type\":\"metadata\",\"channel\":\"R0\",\"tsId\":\"AAAAAKzoDtQ\","
                     "\"properties\":{\"sf_metric\":\"service.request.count\"}}");
        /* one data message per point, as a stream over the window sends them */
        for (size_t i = 0; i < sf.npts; i++)
            data_message(fd, &sf.pts[i], 1, sf.gzip, sf.sc == SC_TRUNCATED);
        text(fd, "{\"type\":\"control-message\",\"channel\":\"R0\",\"event\":\"END_OF_CHANNEL\","
                 "\"timestampMs\":1700000000000}");
    }
}

static void *server(void *arg)
{
    for (;;) {
        int fd = accept(sf.lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        sf.conns++;
        serve(fd);
        close(fd);
    }
}

static int setup(void **state)
{
    sf.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(sf.lfd, (struct sockaddr *)&a, sizeof a) || listen(sf.lfd, 8) ||
        getsockname(sf.lfd, (struct sockaddr *)&a, &al))
        return -1;
    sf.port = ntohs(a.sin_port);
    pthread_create(&sf.th, NULL, server, NULL);
    return testsrv_start(&http, false) > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    shutdown(sf.lfd, SHUT_RDWR);
    close(sf.lfd);
    pthread_join(sf.th, NULL);
    json_decref(sf.auth);
    json_decref(sf.exec);
    if (sf.hung_fd > 0)
        close(sf.hung_fd);
    testsrv_stop(&http);
    return 0;
}

static cd_secret token_secret(const char *t)
{
    cd_secret s;
    cd_secret_init(&s, "splunk");
    if (t)
        cd_secret_put(&s, "sf_token_key", t, strlen(t));
    return s;
}

static cd_metric_rc run(const char *token, sf_point *pts, size_t n, double *v, cd_err *err)
{
    char addr[64];
    snprintf(addr, sizeof addr, "http://127.0.0.1:%d", sf.port);
    cd_secret s = token_secret(token);
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "splunk";
    c.address = addr;
    c.secret = &s;
    c.interval = "1m";
    c.now_ms = fixed_now;
    c.timeout_ms = 1500;
    if (n)
        memcpy(sf.pts, pts, n * sizeof *pts);
    sf.npts = n;
    cd_provider *p = cd_provider_open(&c, err);
    if (!p)
        fail_msg("open: %s", err->msg);
    cd_metric_rc rc = cd_provider_query(p, "data('service.request.count').sum().publish()", v, err);
    cd_provider_close(p);
    cd_secret_free(&s);
    return rc;
}

static void test_value(void **state)
{
    sf_point one[] = {{2, 0xACE80ED4ULL, 0.25}, {2, 0xACE80ED4ULL, 0.5}};
    double v = 0;
    cd_err err = {""};
    sf.sc = SC_DATA;
    assert_int_equal(run("sf-token", one, 2, &v, &err), CD_METRIC_OK);
    assert_true(v == 0.5);   /* the last value */
    assert_string_equal(sf.path, "/v2/signalflow/connect");
    assert_string_equal(json_string_value(json_object_get(sf.auth, "token")), "sf-token");
    json_t *want = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "type", "execute", "program",
                             "data('service.request.count').sum().publish()", "channel", "R0",
                             "start", (json_int_t)(NOW_MS - 600000), "stop", (json_int_t)NOW_MS,
                             "immediate", 1);
    const char *k;
    json_t *x;
    json_object_foreach(want, k, x)
        if (!json_equal(json_object_get(sf.exec, k), x))
            fail_msg("execute.%s differs", k);
    json_decref(want);

    /* long and int32 values; gzip'd and fragmented messages with a ping */
    sf_point longs[] = {{1, 7, 42}};
    sf.gzip = true;
    assert_int_equal(run("sf-token", longs, 1, &v, &err), CD_METRIC_OK);
    assert_true(v == 42);
    sf.gzip = false;
    sf.fragment = true;
    sf_point ints[] = {{3, 7, -3}};
    assert_int_equal(run("sf-token", ints, 1, &v, &err), CD_METRIC_OK);
    assert_true(v == -3);
    sf.fragment = false;
}

static void test_no_data_and_errors(void **state)
{
    double v;
    cd_err err = {""};
    sf.sc = SC_DATA;
    assert_int_equal(run("sf-token", NULL, 0, &v, &err), CD_METRIC_NO_DATA);
    assert_string_equal(err.msg, "invalid response: no values found");
    sf_point novalue[] = {{0, 7, 0}};   /* an entry without a value type */
    assert_int_equal(run("sf-token", novalue, 1, &v, &err), CD_METRIC_NO_DATA);
    sf_point two[] = {{2, 1, 1}, {2, 2, 2}};
    assert_int_equal(run("sf-token", two, 2, &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "invalid response: query returned multiple values");

    static const struct { scenario sc; const char *msg; } cases[] = {
        {SC_ERROR, "error executing query: computation error 400: Syntax error at line 1"},
        {SC_GARBAGE, "error unmarshaling result"},
        {SC_TRUNCATED, "a SignalFlow data message is truncated"},
        {SC_CLOSE, "connection closed by the server (code 1011: going away)"},
        {SC_HANG, "timed out"},
        {SC_REFUSE, "websocket handshake refused (HTTP 401)"},
    };
    sf_point one[] = {{2, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sf.sc = cases[i].sc;
        err.msg[0] = '\0';
        cd_metric_rc rc = run("sf-token", one, 1, &v, &err);
        if (rc != CD_METRIC_ERROR || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d \"%s\"", i, rc, err.msg);
    }
    sf.sc = SC_DATA;
    assert_int_equal(run("wrong", one, 1, &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "error executing query: authentication failed: Invalid access token");
    assert_null(strstr(err.msg, "wrong"));

    /* nothing listens */
    char addr[64];
    snprintf(addr, sizeof addr, "http://127.0.0.1:%d", http.port);
    testsrv_stop(&http);
    cd_secret s = token_secret("t");
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "splunk";
    c.address = addr;
    c.secret = &s;
    c.interval = "1m";
    cd_provider *p = cd_provider_open(&c, &err);
    assert_int_equal(cd_provider_query(p, "x", &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "error executing query: ws://127.0.0.1:"));
    cd_provider_close(p);
    cd_secret_free(&s);
    assert_true(testsrv_start(&http, false) > 0);
}

static void test_online_and_open(void **state)
{
    cd_secret s = token_secret("sf-token");
    cd_provider_config c;
    memset(&c, 0, sizeof c);
    c.type = "splunk";
    c.address = testsrv_url(&http, "");
    c.secret = &s;
    c.interval = "1m";
    cd_err err = {""};
    cd_provider *p = cd_provider_open(&c, &err);
    assert_non_null(p);
    testsrv_reset(&http);
    testsrv_push(&http, 200, "{\"count\":1,\"results\":[]}", 0, NULL, NULL);
    assert_true(cd_provider_is_online(p, &err));
    assert_string_equal(http.req[0].uri, "/v2/metric?limit=1");
    assert_string_equal(ts_header(&http.req[0], "X-SF-Token"), "sf-token");
    testsrv_reset(&http);
    testsrv_push(&http, 401, "{\"code\":401,\"message\":\"Unauthorized\"}", 0, NULL, NULL);
    assert_false(cd_provider_is_online(p, &err));
    assert_non_null(strstr(err.msg, "error response (HTTP 401)"));
    cd_provider_close(p);

    /* Flagger's endpoint rewriting: api -> stream for SignalFlow, and back */
    c.address = "https://api.us1.signalfx.com";
    assert_non_null(p = cd_provider_open(&c, &err));
    cd_provider_close(p);
    c.address = "";
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "splunk endpoint is not set");
    c.address = "ftp://x";
    assert_null(cd_provider_open(&c, &err));
    assert_non_null(strstr(err.msg, "is not a valid URL"));
    c.address = "https://api.us1.signalfx.com";
    cd_secret_free(&s);
    s = token_secret(NULL);
    assert_null(cd_provider_open(&c, &err));
    assert_string_equal(err.msg, "splunk credentials does not contain sf_token_key");
    cd_secret_free(&s);
}

/* A server frame (unmasked unless mask) of opcode op around payload. */
static size_t put_frame(unsigned char *o, unsigned op, bool fin, const void *payload, size_t n,
                        const unsigned char *mask)
{
    size_t k = 0;
    o[k++] = (unsigned char)((fin ? 0x80 : 0) | op);
    unsigned char m = mask ? 0x80 : 0;
    if (n < 126) {
        o[k++] = (unsigned char)(m | n);
    } else {
        o[k++] = m | 126;
        o[k++] = (unsigned char)(n >> 8);
        o[k++] = (unsigned char)n;
    }
    if (mask) {
        memcpy(o + k, mask, 4);
        k += 4;
    }
    for (size_t i = 0; i < n; i++)
        o[k + i] = ((const unsigned char *)payload)[i] ^ (mask ? mask[i % 4] : 0);
    return k + n;
}

/* A binary SignalFlow data message with one double. */
static size_t put_data(unsigned char *o, uint64_t tsid, double v)
{
    memset(o, 0, 20 + 12 + 17);
    o[0] = 1;
    o[1] = 5;
    memcpy(o + 4, "R0", 2);
    unsigned char *d = o + 20;
    d[11] = 1;                                  /* count */
    d[12] = 2;                                  /* double */
    uint64_t raw;
    memcpy(&raw, &v, sizeof raw);
    for (int i = 0; i < 8; i++) {
        d[13 + i] = (unsigned char)(tsid >> (56 - 8 * i));
        d[21 + i] = (unsigned char)(raw >> (56 - 8 * i));
    }
    return 20 + 12 + 17;
}

/* The fuzz target's path (fuzz/fuzz_splunk_stream.c): frames from bytes
 * through cd_ws_from_bytes and cd_splunk_read, no socket. */
static void test_from_bytes(void **state)
{
    static const char end[] = "{\"type\":\"control-message\",\"event\":\"END_OF_CHANNEL\"}";
    static const unsigned char mask[4] = {1, 2, 3, 4};
    unsigned char buf[1024], msg[64];
    size_t n = 0, m = put_data(msg, 7, 1.5);
    /* fragmented (a ping between the pieces), masked, then the end */
    n += put_frame(buf + n, 2, false, msg, 10, NULL);
    n += put_frame(buf + n, 9, true, "hi", 2, NULL);
    n += put_frame(buf + n, 0, true, msg + 10, m - 10, mask);
    n += put_frame(buf + n, 1, true, end, strlen(end), NULL);
    cd_err err = {""};
    double v = 0;
    cd_ws *ws = cd_ws_from_bytes(buf, n, false, &err);
    assert_non_null(ws);
    assert_int_equal(cd_splunk_read(ws, &v, &err), CD_METRIC_OK);
    assert_true(v == 1.5);
    cd_ws_close(ws);

    /* the stream ends before END_OF_CHANNEL: a dropped connection */
    ws = cd_ws_from_bytes(buf, n - strlen(end) - 2, false, &err);
    assert_int_equal(cd_splunk_read(ws, &v, &err), CD_METRIC_ERROR);
    assert_string_equal(err.msg, "error executing query: ws://bytes:0: connection closed");
    cd_ws_close(ws);

    /* a continuation frame with no message to continue */
    n = put_frame(buf, 0, true, msg, m, NULL);
    ws = cd_ws_from_bytes(buf, n, false, &err);
    assert_int_equal(cd_splunk_read(ws, &v, &err), CD_METRIC_ERROR);
    assert_non_null(strstr(err.msg, "unexpected websocket frame (opcode 0)"));
    cd_ws_close(ws);

    /* a handshake answer that is not 101 */
    static const char refused[] = "HTTP/1.1 403 Forbidden\r\n\r\n";
    assert_null(cd_ws_from_bytes(refused, strlen(refused), true, &err));
    assert_string_equal(err.msg, "ws://bytes:0: websocket handshake refused (HTTP 403)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value),
        cmocka_unit_test(test_no_data_and_errors),
        cmocka_unit_test(test_online_and_open),
        cmocka_unit_test(test_from_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
