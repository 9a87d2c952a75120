/* test_kube_decode.c - decoding what the API server sends: the recorded
 * watch stream split at every byte, several events per chunk, bookmarks,
 * ERROR events with 410; List answers; Status objects into reasons and
 * messages; malformed input refused with a reason. Recordings come from
 * shared/conformance/kube-api/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kube/decode.h"
#include "kube/err.h"
#include "util/buf.h"

static char *slurp(const char *name, size_t *len)
{
    const char *shared = getenv("CANARYD_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/conformance/kube-api/%s", shared ? shared : "../shared", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    cd_buf b = CD_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cd_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return cd_buf_steal(&b);
}

typedef struct tally {
    int added, modified, deleted, bookmarks, errors;
    char last_rv[32];
    int stop_after;
} tally;

static int count(void *ud, const cd_watch_event *ev)
{
    tally *t = ud;
    switch (ev->type) {
    case CD_WATCH_ADDED: t->added++; break;
    case CD_WATCH_MODIFIED: t->modified++; break;
    case CD_WATCH_DELETED: t->deleted++; break;
    case CD_WATCH_BOOKMARK: t->bookmarks++; break;
    case CD_WATCH_ERROR: t->errors++; break;
    }
    const char *rv = json_string_value(json_object_get(json_object_get(ev->object, "metadata"), "resourceVersion"));
    if (rv)
        snprintf(t->last_rv, sizeof t->last_rv, "%s", rv);
    return t->stop_after && t->added + t->modified + t->deleted + t->bookmarks + t->errors >= t->stop_after;
}

static void test_recorded_watch_every_split(void **state)
{
    size_t len;
    char *body = slurp("28-watch.body", &len);
    for (size_t split = 0; split <= len; split += (split < 2000 ? 1 : 97)) {
        tally t = {0};
        cd_watch_decoder d;
        cd_watch_decoder_init(&d, 0, count, &t);
        assert_int_equal(cd_watch_decoder_feed(&d, body, split), 0);
        assert_int_equal(cd_watch_decoder_feed(&d, body + split, len - split), 0);
        assert_int_equal(cd_watch_decoder_end(&d), 0);
        assert_int_equal(t.modified, 5);
        assert_int_equal(t.bookmarks, 2);
        assert_string_equal(t.last_rv, "399");
        cd_watch_decoder_free(&d);
    }
    /* byte by byte */
    tally t = {0};
    cd_watch_decoder d;
    cd_watch_decoder_init(&d, 0, count, &t);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(cd_watch_decoder_feed(&d, body + i, 1), 0);
    assert_int_equal(cd_watch_decoder_end(&d), 0);
    assert_int_equal(t.modified + t.bookmarks, 7);
    cd_watch_decoder_free(&d);
    free(body);
}

static void test_stop_and_errors(void **state)
{
    const char *s = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\r\n"
                    "\n"
                    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                    "\"status\":\"Failure\",\"message\":\"too old resource version: 2 (9)\",\"reason\":\"Expired\","
                    "\"code\":410}}\n"
                    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"6\"}}}\n";
    tally t = {0};
    t.stop_after = 2;
    cd_watch_decoder d;
    cd_watch_decoder_init(&d, 0, count, &t);
    assert_int_equal(cd_watch_decoder_feed(&d, s, strlen(s)), 1);    /* stopped at the ERROR */
    assert_int_equal(t.added, 1);
    assert_int_equal(t.errors, 1);
    assert_int_equal(t.deleted, 0);
    assert_int_equal(cd_watch_decoder_feed(&d, s, strlen(s)), 1);    /* ignored once stopped */
    cd_watch_decoder_free(&d);

    const char *bad[] = {
        "not json\n",
        "{\"type\":\"SOMETHING\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}\n",
        "{\"object\":{\"metadata\":{}}}\n",
        "{\"type\":\"ADDED\",\"object\":3}\n",
        "{\"type\":\"ADDED\",\"object\":{\"kind\":\"X\"}}\n",
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"no-rv\"}}}\n",
        "[1,2]\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tally u = {0};
        cd_watch_decoder_init(&d, 0, count, &u);
        assert_int_equal(cd_watch_decoder_feed(&d, bad[i], strlen(bad[i])), -1);
        assert_true(d.failed);
        assert_true(d.error[0] != 0);
        assert_int_equal(cd_watch_decoder_feed(&d, "{}", 2), -1);
        cd_watch_decoder_free(&d);
    }
    /* a line over the limit */
    tally u = {0};
    cd_watch_decoder_init(&d, 64, count, &u);
    char big[200];
    memset(big, 'x', sizeof big);
    assert_int_equal(cd_watch_decoder_feed(&d, big, sizeof big), -1);
    assert_non_null(strstr(d.error, "longer than 64"));
    cd_watch_decoder_free(&d);
    /* a stream cut inside an event */
    cd_watch_decoder_init(&d, 0, count, &u);
    assert_int_equal(cd_watch_decoder_feed(&d, "{\"type\":\"ADD", 12), 0);
    assert_int_equal(cd_watch_decoder_end(&d), -1);
    cd_watch_decoder_free(&d);
}

static void test_list(void **state)
{
    size_t len;
    char *body = slurp("13-list-label-selector.body", &len);
    json_t *items;
    char *rv, *cont;
    cd_kube_err err = {0};
    assert_true(cd_kube_list_parse(body, len, &items, &rv, &cont, &err));
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(rv, "370");
    assert_null(cont);
    json_decref(items);
    free(rv);
    free(body);
    const char *page = "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"9\",\"continue\":\"abc\"},"
                       "\"items\":[{\"metadata\":{\"name\":\"a\"}}]}";
    assert_true(cd_kube_list_parse(page, strlen(page), &items, &rv, &cont, &err));
    assert_string_equal(cont, "abc");
    json_decref(items);
    free(rv);
    free(cont);
    const char *empty = "{\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":null}";
    assert_true(cd_kube_list_parse(empty, strlen(empty), &items, &rv, &cont, &err));
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    free(rv);
    const char *bad[] = {"", "[]", "{\"items\":[]}", "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[1]}",
                         "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(cd_kube_list_parse(bad[i], strlen(bad[i]), &items, &rv, &cont, &err));
        assert_int_equal(err.reason, CD_KR_DECODE);
        assert_null(items);
        assert_null(rv);
    }
}

static void status_case(const char *file, int http, cd_kube_reason want, const char *needle)
{
    size_t len;
    char *body = slurp(file, &len);
    cd_kube_err err = {0};
    cd_kube_err_from_status(&err, http, body, len, "GET /x");
    assert_int_equal(err.reason, want);
    assert_int_equal(err.http, http);
    if (!strstr(err.msg, needle))
        fail_msg("%s: \"%s\" lacks \"%s\"", file, err.msg, needle);
    free(body);
}

static void test_status(void **state)
{
    status_case("07-create-again-conflict.body", 409, CD_KR_ALREADY_EXISTS, "already exists");
    status_case("09-update-stale-409.body", 409, CD_KR_CONFLICT, "the object has been modified");
    status_case("12-get-missing-404.body", 404, CD_KR_NOT_FOUND, "deployments.apps \"nope\" not found");
    status_case("16-create-invalid-422.body", 422, CD_KR_INVALID, "spec.provider: Unsupported value");
    status_case("30-list-too-old.body", 410, CD_KR_EXPIRED, "too old");
    status_case("23-get-after-finalizer-removed.body", 404, CD_KR_NOT_FOUND, "(GET /x: 404 NotFound)");
    cd_kube_err err = {0};
    cd_kube_err_from_status(&err, 503, "<html>oops</html>", 17, "GET /y");
    assert_int_equal(err.reason, CD_KR_SERVICE_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "503"));
    assert_true(cd_kube_is_retriable(&err));
    const char *tmr = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"slow down\","
                      "\"details\":{\"retryAfterSeconds\":7},\"code\":429}";
    cd_kube_err_from_status(&err, 429, tmr, strlen(tmr), NULL);
    assert_int_equal(err.reason, CD_KR_TOO_MANY_REQUESTS);
    assert_int_equal(err.retry_after_s, 7);
    /* a watch ERROR event's Status: its own code */
    json_t *st = json_pack("{s:s, s:s, s:s, s:i}", "kind", "Status", "reason", "Expired", "message", "too old", "code", 410);
    cd_kube_err_from_status_json(&err, 0, st, "watch");
    assert_int_equal(err.reason, CD_KR_EXPIRED);
    assert_int_equal(err.http, 410);
    json_decref(st);
    assert_int_equal(cd_kube_reason_of(418, NULL), CD_KR_UNKNOWN);
    assert_int_equal(cd_kube_reason_of(410, "Gone"), CD_KR_EXPIRED);
    assert_false(cd_kube_is_retriable(&(cd_kube_err){.reason = CD_KR_CONFLICT}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_watch_every_split),
        cmocka_unit_test(test_stop_and_errors),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
