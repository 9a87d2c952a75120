/* test_router_http.c - head rewriting: hop-by-hop and Connection-listed
 * headers removed (never the framing ones), X-Forwarded-For merged and
 * appended, X-Forwarded-Proto kept or added, absolute-form targets, the
 * mirror's "-shadow" host, heads too large for the buffer; response heads
 * for HTTP/1.0 and 1.1 clients; the canned responses' Content-Length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/datapath/http.h"
#include "router/datapath/proxy.h"

#define H(n, v) {n, v, sizeof n - 1, sizeof v - 1}

static void test_request_head(void **state)
{
    rt_header hs[] = {
        H("Host", "app.test:8080"), H("Connection", "keep-alive, X-Private, Content-Length"),
        H("X-Private", "secret"), H("Keep-Alive", "timeout=5"), H("TE", "trailers"),
        H("Upgrade", "h2c"), H("X-Forwarded-For", "10.0.0.1"), H("x-forwarded-for", "10.0.0.2"),
        H("Content-Length", "3"), H("Expect", "100-continue"), H("Accept", "*/*"),
    };
    rt_req_head h = {.method = "POST", .method_len = 4, .target = "/a?b=1", .target_len = 6,
                     .headers = hs, .nheaders = sizeof hs / sizeof hs[0], .client_ip = "192.0.2.7",
                     .proto = "http"};
    char out[1024];
    size_t n = rt_build_request_head(out, sizeof out, &h);
    assert_true(n > 0);
    out[n] = 0;
    assert_string_equal(out, "POST /a?b=1 HTTP/1.1\r\n"
                             "Host: app.test:8080\r\n"
                             "Content-Length: 3\r\n"
                             "Accept: */*\r\n"
                             "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 192.0.2.7\r\n"
                             "X-Forwarded-Proto: http\r\n\r\n");
    h.shadow = true;
    n = rt_build_request_head(out, sizeof out, &h);
    out[n] = 0;
    assert_non_null(strstr(out, "\r\nHost: app.test-shadow:8080\r\n"));
    /* too small a buffer: 0, never a truncated head */
    assert_int_equal(rt_build_request_head(out, 40, &h), 0);
}

static void test_absolute_and_proto(void **state)
{
    const char *auth, *path;
    size_t al, pl;
    assert_true(rt_split_absolute("http://x.io:81/p/q?z", 20, &auth, &al, &path, &pl));
    assert_int_equal(al, 7);
    assert_memory_equal(auth, "x.io:81", 7);
    assert_int_equal(pl, 6);
    assert_true(rt_split_absolute("http://x.io", 11, &auth, &al, &path, &pl));
    assert_string_equal(path, "/");
    assert_false(rt_split_absolute("/rel", 4, &auth, &al, &path, &pl));
    rt_header hs[] = {H("X-Forwarded-Proto", "https"), H("Host", "ignored")};
    rt_req_head h = {.method = "GET", .method_len = 3, .target = "/", .target_len = 1,
                     .authority = "x.io:81", .authority_len = 7, .headers = hs, .nheaders = 2,
                     .client_ip = "::1"};
    char out[512];
    size_t n = rt_build_request_head(out, sizeof out, &h);
    out[n] = 0;
    assert_string_equal(out, "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nHost: x.io:81\r\n"
                             "X-Forwarded-For: ::1\r\n\r\n");
    const char *host;
    size_t hl;
    rt_host_without_port("[::1]:80", 8, &host, &hl);
    assert_int_equal(hl, 5);
    rt_host_without_port(" a.b ", 5, &host, &hl);
    assert_int_equal(hl, 3);
}

static void test_response_head(void **state)
{
    rt_header hs[] = {H("Content-Type", "text/plain"), H("Connection", "close, X-Hop"),
                      H("X-Hop", "1"), H("Transfer-Encoding", "chunked"), H("Keep-Alive", "x")};
    rt_resp_head h = {.status = 200, .reason = "Fine", .reason_len = 4, .headers = hs,
                      .nheaders = 5, .keep_alive = true,
                      .extra = "Set-Cookie: a=b; Max-Age=1\r\n", .extra_len = 28};
    char out[512];
    size_t n = rt_build_response_head(out, sizeof out, &h);
    out[n] = 0;
    assert_string_equal(out, "HTTP/1.1 200 Fine\r\nContent-Type: text/plain\r\n"
                             "Transfer-Encoding: chunked\r\nSet-Cookie: a=b; Max-Age=1\r\n\r\n");
    h.client_http10 = true;
    h.drop_transfer_encoding = true;
    h.reason_len = 0;
    n = rt_build_response_head(out, sizeof out, &h);
    out[n] = 0;
    assert_string_equal(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Set-Cookie: a=b; Max-Age=1\r\nConnection: keep-alive\r\n\r\n");
    h.keep_alive = false;
    n = rt_build_response_head(out, sizeof out, &h);
    out[n] = 0;
    assert_non_null(strstr(out, "Connection: close\r\n\r\n"));
}

static void test_canned(void **state)
{
    unsigned codes[] = {400, 404, 405, 408, 413, 417, 431, 501, 502, 503, 504, 505};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *r = rt_error_response(codes[i]);
        char want[16];
        snprintf(want, sizeof want, "HTTP/1.1 %u ", codes[i]);
        assert_true(!strncmp(r, want, strlen(want)));
        const char *cl = strstr(r, "Content-Length: ");
        const char *body = strstr(r, "\r\n\r\n");
        assert_non_null(cl);
        assert_non_null(body);
        assert_int_equal(atoi(cl + 16), (int)strlen(body + 4));
        assert_non_null(strstr(r, "Connection: close\r\n"));
    }
}

static void test_tokens(void **state)
{
    assert_true(rt_header_name_valid("X-Custom_1", 10));
    assert_false(rt_header_name_valid("Bad Header", 10));
    assert_false(rt_header_name_valid("", 0));
    assert_false(rt_header_name_valid("a:b", 3));
    assert_true(rt_connection_lists(" close ,  X-A", 13, "x-a", 3));
    assert_false(rt_connection_lists("x-ab", 4, "x-a", 3));
    assert_true(rt_is_hop_header("Keep-Alive", 10));
    assert_false(rt_is_hop_header("Trailer", 7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_head), cmocka_unit_test(test_absolute_and_proto),
        cmocka_unit_test(test_response_head), cmocka_unit_test(test_canned),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
