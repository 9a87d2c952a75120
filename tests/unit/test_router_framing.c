/* test_router_framing.c - the router's RFC 9112 framing checks
 * (src/router/datapath/framing.c): every refused form of request head, framing
 * field and chunked body, each with the reason it is refused for, and
 * the valid forms that must keep passing (leading empty lines, obs-text,
 * tabs in values, absolute form, chunk extensions, trailers, leading
 * zeros). Chunked bodies are also fed one byte at a time, and every
 * valid one is run through llhttp (built strict) to check that both end
 * the body at the same byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/datapath/framing.h"

#define S(lit) lit, sizeof lit - 1

/* ---- heads ---- */

static const char *head_why(const char *h, size_t n) { return rt_head_check(h, n); }

static void test_head_valid(void **state)
{
    static const struct { const char *h; size_t n; } ok[] = {
        {S("GET / HTTP/1.1\r\nHost: a\r\n\r\n")},
        {S("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")},           /* leading empty lines */
        {S("GET /a?b=c&d=%20 HTTP/1.0\r\n\r\n")},                  /* no header at all */
        {S("POST http://a.test:81/x HTTP/1.1\r\nHost: a\r\n\r\n")},
        {S("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")},
        {S("GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9\r\n\r\n")},  /* obs-text */
        {S("GET / HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb\t\r\n\r\n")},
        {S("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Sp:   \r\n\r\n")},
        {S("GET /{}|^`\\\"<> HTTP/1.1\r\nHost: a\r\n\r\n")},       /* what browsers send raw */
        {S("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")},
        {S("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *why = head_why(ok[i].h, ok[i].n);
        if (why)
            fail_msg("valid head %zu refused: %s", i, why);
    }
}

static void test_head_refused(void **state)
{
    static const struct { const char *h; size_t n; const char *why; } bad[] = {
        {S("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n  folded\r\n\r\n"), "obsolete line folding"},
        {S("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n\tfolded\r\n\r\n"), "obsolete line folding"},
        {S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), "obsolete line folding"},
        {S("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n"), "bare CR in a header line"},
        {S("GET / HTTP/1.1\nHost: a\r\n\r\n"), "bare LF at the end of the request line"},
        {S("GET / HTTP/1.1\r\nHost: a\n\r\n"), "bare LF in a header line"},
        {S("GET / HTTP/1.1\r\nHost: a\r\n\n"), "bare LF in the head"},
        {S("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), "bare CR in a header line"},
        {S("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n"), "bare CR in the head"},
        {S("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), "bare CR or LF before the request line"},
        {S("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), "bare CR in the request line"},
        {S("GET / HTTP/1.1\r\nX-A: a\x00" "b\r\n\r\n"), "NUL in a header value"},
        {S("GET / HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n"), "control character in a header value"},
        {S("GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n"), "control character in a header value"},
        {S("GET / HTTP/1.1\r\nX-A: \x0b\r\n\r\n"), "control character in a header value"},
        {S("GET / HTTP/1.1\r\nX\x00" "A: b\r\n\r\n"), "NUL in a header name"},
        {S("GET / HTTP/1.1\r\nX/A: b\r\n\r\n"), "invalid character in a header name"},
        {S("GET / HTTP/1.1\r\nX\xc3\xa9: b\r\n\r\n"), "invalid character in a header name"},
        {S("GET / HTTP/1.1\r\n: b\r\n\r\n"), "empty header name"},
        {S("GET / HTTP/1.1\r\nFoo\r\n\r\n"), "header line without a colon"},
        {S("GET / HTTP/1.1\r\nX-A : b\r\n\r\n"), "whitespace before the colon"},
        {S("GET / HTTP/1.1\r\nX-A\t: b\r\n\r\n"), "whitespace before the colon"},
        {S("GET  / HTTP/1.1\r\n\r\n"), "more than one space"},
        {S("GET /  HTTP/1.1\r\n\r\n"), "invalid HTTP version"},
        {S("GET\t/ HTTP/1.1\r\n\r\n"), "tab in the request line"},
        {S("GET /\t HTTP/1.1\r\n\r\n"), "tab in the request line"},
        {S("GET / HTTP/1.1 \r\n\r\n"), "invalid request line"},
        {S("GET /a\x01 HTTP/1.1\r\n\r\n"), "invalid character in the request target"},
        {S("GET /a\xff HTTP/1.1\r\n\r\n"), "invalid character in the request target"},
        {S("GET /a#frag HTTP/1.1\r\n\r\n"), "fragment"},
        {S("G(T / HTTP/1.1\r\n\r\n"), "invalid request method"},
        {S(" GET / HTTP/1.1\r\n\r\n"), "invalid request method"},
        {S("GET / HTTP/1.10\r\n\r\n"), "invalid request line"},
        {S("GET / http/1.1\r\n\r\n"), "invalid HTTP version"},
        {S("GET /\r\n\r\n"), "without an HTTP version"},
        {S("GET / HTTP/1.1\r\nHost: a\r\n"), "does not end with an empty line"},
        {S("GET / HTTP/1.1\r\nHost: a"), "header line without CRLF"},
        {S("GET / HTTP/1.1\r\nHost: a\r\n\r\nX"), "bytes after the end of the head"},
        {S(""), "invalid request method"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = head_why(bad[i].h, bad[i].n);
        if (!why)
            fail_msg("bad head %zu accepted", i);
        if (!strstr(why, bad[i].why))
            fail_msg("bad head %zu: \"%s\", want \"%s\"", i, why, bad[i].why);
    }
    /* every proper prefix of a valid head is refused (never read past len) */
    static const char h[] = "GET /x HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
    for (size_t n = 0; n < sizeof h - 1; n++)
        assert_non_null(rt_head_check(h, n));
}

/* ---- framing fields ---- */

#define H(n, v) {n, v, sizeof n - 1, sizeof v - 1}

typedef struct { rt_header h[4]; size_t n; unsigned minor; unsigned want; const char *why; } fcase;

static void test_framing_fields(void **state)
{
    static const fcase cases[] = {
        {{H("Host", "a"), H("Content-Length", "12")}, 2, 1, 0, NULL},
        {{H("Host", "a"), H("Content-Length", " 12 ")}, 2, 1, 0, NULL},
        {{H("Host", "a"), H("Transfer-Encoding", "chunked")}, 2, 1, 0, NULL},
        {{H("Host", "a"), H("Transfer-Encoding", " ChUnKeD ")}, 2, 1, 0, NULL},
        {{H("Content-Length", "0")}, 1, 0, 0, NULL},                 /* HTTP/1.0 without Host */
        {{H("Host", "[::1]:8080")}, 1, 1, 0, NULL},
        {{H("Host", "")}, 1, 1, 0, NULL},                             /* empty Host is valid */
        {{H("Host", "a"), H("Content-Length", "3"), H("content-length", "3")}, 3, 1, 400,
         "more than one Content-Length"},
        {{H("Host", "a"), H("Content-Length", "3, 3")}, 2, 1, 400, "invalid Content-Length"},
        {{H("Host", "a"), H("Content-Length", "+3")}, 2, 1, 400, "invalid Content-Length"},
        {{H("Host", "a"), H("Content-Length", "-3")}, 2, 1, 400, "invalid Content-Length"},
        {{H("Host", "a"), H("Content-Length", "0x3")}, 2, 1, 400, "invalid Content-Length"},
        {{H("Host", "a"), H("Content-Length", "")}, 2, 1, 400, "invalid Content-Length"},
        {{H("Host", "a"), H("Content-Length", "99999999999999999999")}, 2, 1, 400,
         "invalid Content-Length"},
        {{H("Host", "a"), H("Content-Length", "3"), H("Transfer-Encoding", "chunked")}, 3, 1, 400,
         "both Content-Length and Transfer-Encoding"},
        {{H("Host", "a"), H("Transfer-Encoding", "chunked"), H("Transfer-Encoding", "chunked")}, 3,
         1, 400, "more than one Transfer-Encoding"},
        {{H("Host", "a"), H("Transfer-Encoding", "chunked, identity")}, 2, 1, 400,
         "does not end with chunked"},
        {{H("Host", "a"), H("Transfer-Encoding", "identity")}, 2, 1, 400,
         "does not end with chunked"},
        {{H("Host", "a"), H("Transfer-Encoding", "chunked, chunked")}, 2, 1, 400,
         "chunked applied twice"},
        {{H("Host", "a"), H("Transfer-Encoding", "chunked,")}, 2, 1, 400,
         "invalid Transfer-Encoding"},
        {{H("Host", "a"), H("Transfer-Encoding", "")}, 2, 1, 400, "invalid Transfer-Encoding"},
        {{H("Host", "a"), H("Transfer-Encoding", "\"chunked\"")}, 2, 1, 400,
         "invalid Transfer-Encoding"},
        {{H("Host", "a"), H("Transfer-Encoding", "xchunked")}, 2, 1, 400,
         "does not end with chunked"},
        {{H("Host", "a"), H("Transfer-Encoding", "gzip, chunked")}, 2, 1, 501,
         "other than chunked"},
        {{H("Transfer-Encoding", "chunked")}, 1, 0, 400, "HTTP/1.0"},
        {{H("Content-Length", "1")}, 1, 1, 400, "no Host"},
        {{H("Host", "a"), H("Host", "b")}, 2, 1, 400, "more than one Host"},
        {{H("Host", "a b")}, 1, 1, 400, "invalid Host"},
        {{H("Host", "u@a")}, 1, 1, 400, "invalid Host"},
        {{H("Host", "a/b")}, 1, 1, 400, "invalid Host"},
        {{H("Host", "a:8x")}, 1, 1, 400, "invalid Host"},
        {{H("Host", "[::1")}, 1, 1, 400, "invalid Host"},
        {{H("Host", "a%zz")}, 1, 1, 400, "invalid Host"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_framing fr;
        const char *why = NULL;
        unsigned st = rt_framing_check(cases[i].h, cases[i].n, cases[i].minor, NULL, 0, &fr, &why);
        if (st != cases[i].want)
            fail_msg("framing case %zu: %u (%s), want %u", i, st, why ? why : "-", cases[i].want);
        if (st && !strstr(why, cases[i].why))
            fail_msg("framing case %zu: \"%s\", want \"%s\"", i, why, cases[i].why);
    }
    rt_framing fr;
    const char *why;
    rt_header hs[] = {H("Host", "a"), H("Content-Length", "42")};
    assert_int_equal(rt_framing_check(hs, 2, 1, NULL, 0, &fr, &why), 0);
    assert_true(fr.has_length);
    assert_int_equal(fr.length, 42);
    assert_false(fr.chunked);
    /* absolute form: the authority is a host, without userinfo */
    assert_int_equal(rt_framing_check(hs, 1, 1, "b.test:81", 9, &fr, &why), 0);
    assert_int_equal(rt_framing_check(hs, 1, 1, "u:p@b.test", 10, &fr, &why), 400);
    assert_non_null(strstr(why, "userinfo"));
    assert_int_equal(rt_framing_check(hs, 1, 1, "", 0, &fr, &why), 400);
}

/* ---- chunked bodies ---- */

/* Feeds body whole, then byte by byte; returns the result and *used. */
static int scan(const char *b, size_t n, size_t *used, const char **why)
{
    rt_chunk_scan s;
    rt_chunk_scan_init(&s, 16384);
    int whole = rt_chunk_scan_feed(&s, b, n, used, why);
    rt_chunk_scan_init(&s, 16384);
    int r = 0;
    size_t total = 0;
    const char *why1 = NULL;
    for (size_t i = 0; i < n && r == 0; i++) {
        size_t u = 0;
        r = rt_chunk_scan_feed(&s, b + i, 1, &u, &why1);
        if (r >= 0)
            total += u;
    }
    assert_int_equal(r, whole);
    if (whole >= 0)
        assert_int_equal(total, *used);
    else
        assert_string_equal(why1, *why);
    return whole;
}

static int ll_end;
static int ll_done(llhttp_t *p)
{
    ll_end = 1;
    return HPE_PAUSED;
}

/* Where strict llhttp ends the same chunked body (-1: it refuses it). */
static long llhttp_body_end(const char *body, size_t n)
{
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    char *buf = malloc(sizeof head - 1 + n);
    memcpy(buf, head, sizeof head - 1);
    memcpy(buf + sizeof head - 1, body, n);
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_complete = ll_done;
    llhttp_t p;
    llhttp_init(&p, HTTP_REQUEST, &st);
    ll_end = 0;
    llhttp_errno_t e = llhttp_execute(&p, buf, sizeof head - 1 + n);
    long end = -1;
    if (e == HPE_PAUSED && ll_end)
        end = (long)(llhttp_get_error_pos(&p) - buf) - (long)(sizeof head - 1);
    free(buf);
    return end;
}

static void test_chunked_valid(void **state)
{
    static const struct { const char *b; size_t n; } ok[] = {
        {S("0\r\n\r\n")},
        {S("3\r\nabc\r\n0\r\n\r\n")},
        {S("a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n")},
        {S("0003\r\nabc\r\n0000\r\n\r\n")},
        {S("3;name\r\nabc\r\n0\r\n\r\n")},
        {S("3;name=value\r\nabc\r\n0\r\n\r\n")},
        {S("3;q=\"a b;c\"\r\nabc\r\n0\r\n\r\n")},
        {S("3;q=\"a\";n=v\r\nabc\r\n0;last=1\r\n\r\n")},
        {S("3\r\na\r\n\r\n0\r\nX-Trailer: 1\r\nX-Other: two words\r\n\r\n")},
        {S("3\r\nabc\r\n0\r\nX-Empty:\r\n\r\n")},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t used = 0;
        const char *why = NULL;
        int r = scan(ok[i].b, ok[i].n, &used, &why);
        if (r != 1 || used != ok[i].n)
            fail_msg("valid body %zu: %d used %zu (%s)", i, r, used, why ? why : "-");
        long ll = llhttp_body_end(ok[i].b, ok[i].n);
        if (ll != (long)ok[i].n)
            fail_msg("valid body %zu: llhttp ends it at %ld, the scanner at %zu", i, ll, ok[i].n);
    }
    /* a pipelined request after the body is not part of it */
    static const char two[] = "3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    size_t used;
    const char *why;
    assert_int_equal(scan(two, sizeof two - 1, &used, &why), 1);
    assert_int_equal(used, 13);
    /* a body still going on: all bytes valid, none past */
    assert_int_equal(scan(S("10\r\n01234"), &used, &why), 0);
    assert_int_equal(used, 9);
    /* the largest size accepted */
    assert_int_equal(scan(S("7fffffffffffffff\r\nab"), &used, &why), 0);
}

static void test_chunked_refused(void **state)
{
    static const struct { const char *b; size_t n; const char *why; } bad[] = {
        {S("3\r\nabcXX0\r\n\r\n"), "chunk data not followed by CRLF"},
        {S("3\r\nabc\n0\r\n\r\n"), "bare LF after chunk data"},
        {S("3\r\nabc\r0\r\n\r\n"), "chunk data not followed by CRLF"},
        {S("3\r\nabcdef\r\n0\r\n\r\n"), "chunk data not followed by CRLF"},
        {S("3\nabc\r\n0\r\n\r\n"), "bare LF in a chunk size line"},
        {S("3\rabc\r\n0\r\n\r\n"), "bare CR in a chunk size line"},
        {S("0\n\n"), "bare LF in a chunk size line"},
        {S("0\r\n\r"), NULL},   /* incomplete, not refused: see below */
        {S("0\r\n\rX"), "bare CR at the end"},
        {S("0\r\nGET /x HTTP/1.1\r\n\r\n"), "whitespace before the colon of a trailer"},
        {S("3;\r\nabc\r\n0\r\n\r\n"), "invalid chunk extension"},
        {S("3;a b\r\nabc\r\n0\r\n\r\n"), "whitespace in a chunk size line"},
        {S("3;a=\x01\r\nabc\r\n0\r\n\r\n"), "invalid chunk extension"},
        {S("3;a=b\nabc\r\n0\r\n\r\n"), "bare LF in a chunk size line"},
        {S("3;a=\"b\r\nabc\r\n0\r\n\r\n"), "invalid chunk extension"},
        {S("3;a=\r\nabc\r\n0\r\n\r\n"), "invalid chunk extension"},
        {S("3;=b\r\nabc\r\n0\r\n\r\n"), "invalid chunk extension"},
        {S("3;a=\"b\"c\r\nabc\r\n0\r\n\r\n"), "invalid chunk extension"},
        {S("3 ;a=b\r\nabc\r\n0\r\n\r\n"), "whitespace in a chunk size line"},
        {S("3 \r\nabc\r\n0\r\n\r\n"), "whitespace in a chunk size line"},
        {S(" 3\r\nabc\r\n0\r\n\r\n"), "invalid chunk size"},
        {S("0x3\r\nabc\r\n0\r\n\r\n"), "invalid chunk size"},
        {S("+3\r\nabc\r\n0\r\n\r\n"), "invalid chunk size"},
        {S("-3\r\nabc\r\n0\r\n\r\n"), "invalid chunk size"},
        {S("\r\nabc\r\n0\r\n\r\n"), "invalid chunk size"},
        {S("10000000000000003\r\nabc\r\n"), "more than 16 hex digits"},
        {S("00000000000000000003\r\nabc\r\n0\r\n\r\n"), "more than 16 hex digits"},
        {S("8000000000000000\r\n"), "chunk size too large"},
        {S("ffffffffffffffff\r\n"), "chunk size too large"},
        {S("0\r\nA: b\r\n c\r\n\r\n"), "obsolete line folding in a trailer"},
        {S("0\r\nA: b\n\r\n"), "bare LF in a trailer"},
        {S("0\r\nA: b\rc\r\n\r\n"), "bare CR in a trailer"},
        {S("0\r\nA b: c\r\n\r\n"), "whitespace before the colon of a trailer"},
        {S("0\r\nA: b\x01\r\n\r\n"), "control character in a trailer"},
        {S("0\r\n: b\r\n\r\n"), "invalid trailer field name"},
        {S("0\r\nContent-Length: 5\r\n\r\n"), "framing field"},
        {S("0\r\ntransfer-encoding: chunked\r\n\r\n"), "framing field"},
        {S("0\r\nHOST: b\r\n\r\n"), "framing field"},
        {S("0\r\n\n"), "bare LF in the trailer section"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t used = 0;
        const char *why = NULL;
        int r = scan(bad[i].b, bad[i].n, &used, &why);
        if (!bad[i].why) {
            assert_int_equal(r, 0);
            continue;
        }
        if (r != -1)
            fail_msg("bad body %zu accepted (%d)", i, r);
        if (!strstr(why, bad[i].why))
            fail_msg("bad body %zu: \"%s\", want \"%s\"", i, why, bad[i].why);
    }
    /* size lines and trailer sections are bounded */
    char line[RT_CHUNK_LINE_MAX + 16];
    memset(line, 'a', sizeof line);
    memcpy(line, "3;x=", 4);
    size_t used;
    const char *why;
    assert_int_equal(scan(line, sizeof line, &used, &why), -1);
    assert_non_null(strstr(why, "chunk size line too long"));
    rt_chunk_scan s;
    rt_chunk_scan_init(&s, 64);
    char tr[128];
    memset(tr, 'x', sizeof tr);
    memcpy(tr, "0\r\nT:", 5);
    assert_int_equal(rt_chunk_scan_feed(&s, tr, sizeof tr, &used, &why), -1);
    assert_non_null(strstr(why, "trailer section too large"));
    /* after an error the scanner stays failed */
    assert_int_equal(rt_chunk_scan_feed(&s, "0\r\n\r\n", 5, &used, &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_valid), cmocka_unit_test(test_head_refused),
        cmocka_unit_test(test_framing_fields), cmocka_unit_test(test_chunked_valid),
        cmocka_unit_test(test_chunked_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
