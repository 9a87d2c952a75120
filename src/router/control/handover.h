/* handover.h - passing listening sockets from a running router to its
 * successor over a unix socket (SCM_RIGHTS), like HAProxy's "expose-fd
 * listeners": the successor starts accepting on the very same sockets, so
 * no connection is refused, and the predecessor then drains. The
 * successor also receives the live configuration. */
#ifndef CD_ROUTER_HANDOVER_H
#define CD_ROUTER_HANDOVER_H
#include "router/io/loop.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct rt_takeover {
    json_t *config;         /* the predecessor's configuration */
    int conn_fd;            /* open until rt_handover_finish */
} rt_takeover;

/* Successor side. Returns 1 when sockets were received (they are
 * registered with the table and the admin module by address), 0 when no
 * router answers at path (start fresh), -1 on a protocol error. */
int rt_handover_take(const char *path, rt_takeover *tk, char *err, size_t errlen);
/* Tells the predecessor we serve now; it starts draining. */
void rt_handover_finish(rt_takeover *tk);

/* Predecessor side: serve path; on_done runs once a successor is ready. */
bool rt_handover_serve(rt_loop *l, const char *path, void (*on_done)(void), char *err,
                       size_t errlen);
void rt_handover_close(void);

#endif
