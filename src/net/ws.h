/* ws.h - a minimal WebSocket client (RFC 6455) for metric providers that
 * stream (Splunk SignalFlow): ws:// and wss:// on libcurl's CONNECT_ONLY
 * connection (TLS, CA and verification as net/http.h does them), the
 * upgrade handshake, masked client frames, fragmented and control frames
 * (ping answered, close reported). Every call is bounded by one deadline
 * for the whole session; a message is at most 16 MiB. Not thread-safe per
 * connection; must never print the URL's query or a credential. */
#ifndef CD_NET_WS_H
#define CD_NET_WS_H
#include "util/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cd_ws cd_ws;

typedef struct cd_ws_opts {
    int64_t timeout_ms;         /* the whole session, from connect; <= 0: 10 s */
    bool insecure;              /* skip TLS verification */
    const char *ca_file;        /* extra CA bundle (PEM); NULL: system */
} cd_ws_opts;

/* Connects and upgrades; NULL with err. */
cd_ws *cd_ws_connect(const char *url, const cd_ws_opts *o, cd_err *err);
bool cd_ws_send_text(cd_ws *ws, const char *data, size_t len, cd_err *err);
/* The next data message (text or binary), *data malloc'd and NUL-terminated.
 * False with err on a close frame, a protocol error, a dropped connection
 * or the deadline. */
bool cd_ws_recv(cd_ws *ws, bool *binary, char **data, size_t *len, cd_err *err);
void cd_ws_close(cd_ws *ws);
/* For tests and fuzzing: a connection whose server sent exactly data (the
 * handshake answer first when handshake_first, which then fails on the
 * random key's Sec-WebSocket-Accept), that discards what is sent and ends
 * as a dropped connection. NULL with err when the handshake fails. */
cd_ws *cd_ws_from_bytes(const void *data, size_t len, bool handshake_first, cd_err *err);

#endif
