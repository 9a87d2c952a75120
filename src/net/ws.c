/* ws.c - the WebSocket client of ws.h on libcurl's CONNECT_ONLY mode
 * (curl_easy_send / curl_easy_recv over its TCP or TLS connection). No
 * global state besides curl_global_init. Error texts show scheme, host and
 * port only. */
#include "net/ws.h"
#include "util/buf.h"
#include "util/errfmt.h"
#include "util/timeutil.h"
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define WS_MAX_MESSAGE (16u << 20)
#define WS_MAX_HEADERS 16384
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct cd_ws {
    CURL *h;
    curl_socket_t fd;
    int64_t deadline;           /* cd_mono_ms */
    cd_buf in;                  /* received, not yet consumed */
    size_t in_off;
    char where[300];            /* scheme://host:port for messages */
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Waits for the socket (POLLIN or POLLOUT) until the deadline. */
static bool wait_fd(cd_ws *ws, short ev, cd_err *err)
{
    int64_t left = ws->deadline - cd_mono_ms();
    if (left <= 0) {
        cd_errfmt(err, "%s: timed out", ws->where);
        return false;
    }
    struct pollfd p = {ws->fd, ev, 0};
    int r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
    if (r < 0) {
        cd_errfmt(err, "%s: poll failed", ws->where);
        return false;
    }
    return true;    /* ready or a slice passed: the caller retries */
}

static bool send_all(cd_ws *ws, const unsigned char *p, size_t n, cd_err *err)
{
    if (!ws->h)         /* cd_ws_from_bytes: nobody listens */
        return true;
    while (n) {
        size_t sent = 0;
        CURLcode rc = curl_easy_send(ws->h, p, n, &sent);
        if (rc == CURLE_AGAIN) {
            if (!wait_fd(ws, POLLOUT, err))
                return false;
            continue;
        }
        if (rc != CURLE_OK) {
            cd_errfmt(err, "%s: send failed: %s", ws->where, curl_easy_strerror(rc));
            return false;
        }
        p += sent;
        n -= sent;
    }
    return true;
}

/* Reads more bytes into ws->in. */
static bool fill(cd_ws *ws, cd_err *err)
{
    unsigned char buf[16384];
    if (!ws->h) {       /* cd_ws_from_bytes: everything is already in ws->in */
        cd_errfmt(err, "%s: connection closed", ws->where);
        return false;
    }
    for (;;) {
        size_t got = 0;
        CURLcode rc = curl_easy_recv(ws->h, buf, sizeof buf, &got);
        if (rc == CURLE_AGAIN) {
            if (!wait_fd(ws, POLLIN, err))
                return false;
            continue;
        }
        if (rc != CURLE_OK || got == 0) {
            cd_errfmt(err, "%s: connection closed%s%s", ws->where, rc ? ": " : "",
                      rc ? curl_easy_strerror(rc) : "");
            return false;
        }
        if (ws->in_off && ws->in_off == ws->in.len) {
            cd_buf_reset(&ws->in);
            ws->in_off = 0;
        }
        cd_buf_append(&ws->in, buf, got);
        return true;
    }
}

/* n bytes from the connection. */
static bool take(cd_ws *ws, unsigned char *out, size_t n, cd_err *err)
{
    while (ws->in.len - ws->in_off < n)
        if (!fill(ws, err))
            return false;
    memcpy(out, ws->in.data + ws->in_off, n);
    ws->in_off += n;
    return true;
}

static void b64(const unsigned char *d, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
}

/* GET <path> with the upgrade headers; checks 101 and the accept key. */
static bool handshake(cd_ws *ws, const char *host, const char *path, cd_err *err)
{
    unsigned char rnd[16];
    char key[32], want[64];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        cd_errfmt(err, "%s: no random bytes for the handshake", ws->where);
        return false;
    }
    b64(rnd, sizeof rnd, key);
    cd_buf rq = CD_BUF_INIT;
    cd_buf_printf(&rq, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                       "User-Agent: canaryd\r\n\r\n", path, host, key);
    bool ok = send_all(ws, (const unsigned char *)rq.data, rq.len, err);
    cd_buf_free(&rq);
    if (!ok)
        return false;
    char *end = NULL;
    while (!(end = ws->in.len ? strstr(ws->in.data, "\r\n\r\n") : NULL)) {
        if (ws->in.len > WS_MAX_HEADERS) {
            cd_errfmt(err, "%s: handshake answer too large", ws->where);
            return false;
        }
        if (!fill(ws, err))
            return false;
    }
    *end = '\0';
    ws->in_off = (size_t)(end + 4 - ws->in.data);
    int status = 0;
    if (sscanf(ws->in.data, "HTTP/1.%*d %d", &status) != 1 || status != 101) {
        cd_errfmt(err, "%s: websocket handshake refused (HTTP %d)", ws->where, status);
        return false;
    }
    cd_buf k = CD_BUF_INIT;
    cd_buf_printf(&k, "%s%s", key, WS_GUID);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)k.data, k.len, sha);
    cd_buf_free(&k);
    b64(sha, sizeof sha, want);
    bool accepted = false;
    for (char *line = strstr(ws->in.data, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (!strncasecmp(l, "Sec-WebSocket-Accept:", 21)) {
            l += 21;
            while (*l == ' ' || *l == '\t')
                l++;
            accepted = !strncmp(l, want, strlen(want)) &&
                       (l[strlen(want)] == '\r' || l[strlen(want)] == '\0' || l[strlen(want)] == ' ');
        }
    }
    if (!accepted) {
        cd_errfmt(err, "%s: websocket handshake: missing or wrong Sec-WebSocket-Accept", ws->where);
        return false;
    }
    return true;
}

cd_ws *cd_ws_connect(const char *url, const cd_ws_opts *o, cd_err *err)
{
    pthread_once(&g_once, init_once);
    bool tls = !strncasecmp(url, "wss://", 6);
    if (!tls && strncasecmp(url, "ws://", 5)) {
        cd_errfmt(err, "websocket URL must start with ws:// or wss://");
        return NULL;
    }
    cd_buf http = CD_BUF_INIT;
    cd_buf_printf(&http, "%s%s", tls ? "https://" : "http://", url + (tls ? 6 : 5));
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, http.data, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        cd_errfmt(err, "websocket URL is not valid");
        curl_url_cleanup(u);
        cd_buf_free(&http);
        return NULL;
    }
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    cd_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        abort();
    int64_t timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 10000;
    ws->deadline = cd_mono_ms() + timeout;
    snprintf(ws->where, sizeof ws->where, "%s://%s:%s", tls ? "wss" : "ws", host, port);
    ws->h = curl_easy_init();
    if (!ws->h)
        abort();
    curl_easy_setopt(ws->h, CURLOPT_URL, http.data);
    curl_easy_setopt(ws->h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(ws->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ws->h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
    curl_easy_setopt(ws->h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (o && o->insecure) {
        curl_easy_setopt(ws->h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(ws->h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o && o->ca_file)
        curl_easy_setopt(ws->h, CURLOPT_CAINFO, o->ca_file);
    CURLcode rc = curl_easy_perform(ws->h);
    bool ok = rc == CURLE_OK &&
              curl_easy_getinfo(ws->h, CURLINFO_ACTIVESOCKET, &ws->fd) == CURLE_OK &&
              ws->fd != CURL_SOCKET_BAD;
    if (!ok)
        cd_errfmt(err, "%s: connect failed: %s", ws->where, curl_easy_strerror(rc));
    if (ok) {
        /* the Host header: host, with the port unless it is the scheme's */
        cd_buf hp = CD_BUF_INIT, target = CD_BUF_INIT;
        bool v6 = strchr(host, ':') != NULL;
        cd_buf_printf(&hp, v6 ? "[%s]" : "%s", host);
        if (strcmp(port, tls ? "443" : "80"))
            cd_buf_printf(&hp, ":%s", port);
        cd_buf_printf(&target, "%s%s%s", path, query ? "?" : "", query ? query : "");
        ok = handshake(ws, hp.data, target.data, err);
        cd_buf_free(&hp);
        cd_buf_free(&target);
    }
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    cd_buf_free(&http);
    if (!ok) {
        cd_ws_close(ws);
        return NULL;
    }
    return ws;
}

cd_ws *cd_ws_from_bytes(const void *data, size_t len, bool handshake_first, cd_err *err)
{
    cd_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        abort();
    ws->deadline = INT64_MAX;
    snprintf(ws->where, sizeof ws->where, "ws://bytes:0");
    cd_buf_append(&ws->in, data, len);
    if (handshake_first && !handshake(ws, "bytes", "/", err)) {
        cd_ws_close(ws);
        return NULL;
    }
    return ws;
}

static bool send_frame(cd_ws *ws, unsigned opcode, const char *data, size_t len, cd_err *err)
{
    unsigned char hdr[14], mask[4];
    size_t n = 0;
    hdr[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        hdr[n++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        hdr[n++] = 0x80 | 126;
        hdr[n++] = (unsigned char)(len >> 8);
        hdr[n++] = (unsigned char)len;
    } else {
        hdr[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    if (getrandom(mask, sizeof mask, 0) != (ssize_t)sizeof mask) {
        cd_errfmt(err, "%s: no random bytes for the frame mask", ws->where);
        return false;
    }
    memcpy(hdr + n, mask, 4);
    n += 4;
    unsigned char *body = malloc(len ? len : 1);
    if (!body)
        abort();
    for (size_t i = 0; i < len; i++)
        body[i] = (unsigned char)data[i] ^ mask[i % 4];
    bool ok = send_all(ws, hdr, n, err) && send_all(ws, body, len, err);
    free(body);
    return ok;
}

bool cd_ws_send_text(cd_ws *ws, const char *data, size_t len, cd_err *err)
{
    return send_frame(ws, 0x1, data, len, err);
}

bool cd_ws_recv(cd_ws *ws, bool *binary, char **data, size_t *len, cd_err *err)
{
    cd_buf msg = CD_BUF_INIT;
    int opcode = -1;
    for (;;) {
        unsigned char h[2], ext[8], mask[4] = {0};
        if (!take(ws, h, 2, err))
            goto fail;
        unsigned op = h[0] & 0x0f;
        bool fin = h[0] & 0x80, masked = h[1] & 0x80;
        uint64_t n = h[1] & 0x7f;
        if (n == 126 || n == 127) {
            size_t k = n == 126 ? 2 : 8;
            if (!take(ws, ext, k, err))
                goto fail;
            n = 0;
            for (size_t i = 0; i < k; i++)
                n = (n << 8) | ext[i];
        }
        if (masked && !take(ws, mask, 4, err))
            goto fail;
        if (n > WS_MAX_MESSAGE || msg.len + n > WS_MAX_MESSAGE) {
            cd_errfmt(err, "%s: message larger than 16 MiB", ws->where);
            goto fail;
        }
        unsigned char *payload = malloc(n ? n : 1);
        if (!payload)
            abort();
        if (!take(ws, payload, n, err)) {
            free(payload);
            goto fail;
        }
        for (uint64_t i = 0; masked && i < n; i++)
            payload[i] ^= mask[i % 4];
        if (op >= 0x8) {                     /* control frames */
            bool pong_ok = true;
            if (op == 0x9)
                pong_ok = send_frame(ws, 0xA, (const char *)payload, n, err);
            if (op == 0x8) {
                unsigned code = n >= 2 ? (unsigned)(payload[0] << 8 | payload[1]) : 1005;
                cd_errfmt(err, "%s: connection closed by the server (code %u%s%.*s)", ws->where,
                          code, n > 2 ? ": " : "", n > 2 ? (int)(n - 2 > 200 ? 200 : n - 2) : 0,
                          n > 2 ? (const char *)payload + 2 : "");
                free(payload);
                goto fail;
            }
            free(payload);
            if (!pong_ok)
                goto fail;
            continue;
        }
        if ((op == 0x0) != (opcode >= 0) || (op != 0x0 && op != 0x1 && op != 0x2)) {
            free(payload);
            cd_errfmt(err, "%s: unexpected websocket frame (opcode %u)", ws->where, op);
            goto fail;
        }
        if (opcode < 0)
            opcode = (int)op;
        cd_buf_append(&msg, payload, n);
        free(payload);
        if (fin)
            break;
    }
    *binary = opcode == 0x2;
    *len = msg.len;
    if (!msg.data)
        cd_buf_append(&msg, "", 0);
    *data = cd_buf_steal(&msg);
    if (!*data) {
        *data = calloc(1, 1);
        if (!*data)
            abort();
    }
    return true;
fail:
    cd_buf_free(&msg);
    return false;
}

void cd_ws_close(cd_ws *ws)
{
    if (!ws)
        return;
    if (ws->h)
        curl_easy_cleanup(ws->h);
    cd_buf_free(&ws->in);
    free(ws);
}
