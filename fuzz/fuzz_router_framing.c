/* fuzz_router_framing.c - libFuzzer target for the router's framing
 * checks (src/router/datapath/framing.c), differential against llhttp (built
 * strict), which reads the same bytes on the request path. The first
 * byte picks what the rest is:
 *   even: a request head. When rt_head_check accepts it and llhttp also
 *         reads it, llhttp must end the head at its last byte;
 *   odd:  a chunked body after a fixed head. Fed whole and one byte at a
 *         time, the scanner must give the same answer; when it ends the
 *         body, llhttp must end it at the same byte or refuse it, and
 *         when it wants more, llhttp must not have ended it.
 * Any disagreement aborts: it is what request smuggling is made of. */
#include "router/datapath/framing.h"
#include <llhttp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int paused(llhttp_t *p) { return HPE_PAUSED; }

static void check_head(const char *h, size_t n)
{
    const char *why = rt_head_check(h, n);
    if (why)
        return;
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_headers_complete = paused;
    llhttp_t p;
    llhttp_init(&p, HTTP_REQUEST, &st);
    llhttp_errno_t e = llhttp_execute(&p, h, n);
    if (e == HPE_PAUSED && llhttp_get_error_pos(&p) != h + n)
        abort();    /* both read a head, of different lengths */
    if (e == HPE_OK)
        abort();    /* the scan saw a whole head, llhttp wants more */
}

static void check_body(const char *b, size_t n)
{
    rt_chunk_scan whole, bytewise;
    rt_chunk_scan_init(&whole, 4096);
    rt_chunk_scan_init(&bytewise, 4096);
    size_t used = 0, used1 = 0;
    const char *why = NULL, *why1 = NULL;
    int r = rt_chunk_scan_feed(&whole, b, n, &used, &why);
    int r1 = 0;
    for (size_t i = 0; i < n && r1 == 0; i++) {
        size_t u = 0;
        r1 = rt_chunk_scan_feed(&bytewise, b + i, 1, &u, &why1);
        if (r1 >= 0)
            used1 += u;
    }
    if (r != r1 || (r >= 0 && used != used1))
        abort();
    if (r < 0)
        return;
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t hl = sizeof head - 1;
    char *buf = malloc(hl + n);
    if (!buf)
        return;
    memcpy(buf, head, hl);
    memcpy(buf + hl, b, n);
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_complete = paused;
    llhttp_t p;
    llhttp_init(&p, HTTP_REQUEST, &st);
    llhttp_errno_t e = llhttp_execute(&p, buf, hl + n);
    if (e == HPE_PAUSED) {
        size_t end = (size_t)(llhttp_get_error_pos(&p) - buf) - hl;
        if (r != 1 || end != used)
            abort();    /* llhttp ends the body where the scanner does not */
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    const char *rest = (const char *)data + 1;
    if (data[0] & 1)
        check_body(rest, size - 1);
    else
        check_head(rest, size - 1);
    return 0;
}
