/* endpoint.h - canaryd's own HTTP endpoint (Flagger's :8080): GET /metrics
 * in the Prometheus text format (the writers given, e.g. a cd_registry,
 * plus process_* metrics) and GET /healthz answering "OK". Runs on its own
 * libmicrohttpd thread; writers must be thread-safe (cd_registry_write is).
 * Serves nothing else (404), except read-only pages under page_prefix when
 * a page function is given (canaryd kube -dashboard): GET and HEAD only,
 * for a Host naming this machine (an IP address, localhost, its host
 * name: no DNS rebinding) and no foreign Origin. */
#ifndef CD_TELEMETRY_ENDPOINT_H
#define CD_TELEMETRY_ENDPOINT_H
#include "util/err.h"
#include "util/buf.h"
#include <stdbool.h>

/* Appends text exposition to out. A cd_registry is served with a wrapper:
 *   static void write_registry(void *r, cd_buf *out) { cd_registry_write(r, out); } */
typedef void (*cd_telemetry_writer)(void *ctx, cd_buf *out);

#define CD_TELEMETRY_MAX_WRITERS 4
/* Kubernetes probes this port: a few thousand slow clients must not
 * starve them (clamped to the fd limit). */
#define CD_TELEMETRY_MAX_CONNECTIONS 4096

/* A page's answer: status (0: not found), media type, Location of a
 * redirect, extra headers ("Name", "value", ..., NULL) and the body. */
typedef struct cd_telemetry_page {
    unsigned status;
    const char *type;
    const char *location;
    const char *const *headers;
    cd_buf body;
} cd_telemetry_page;
typedef void (*cd_telemetry_page_fn)(void *ctx, const char *url, cd_telemetry_page *out);

typedef struct cd_telemetry_endpoint_config {
    const char *address;            /* bind address; NULL: every interface */
    int port;                       /* 0: any free port (see cd_telemetry_endpoint_port) */
    cd_telemetry_writer writers[CD_TELEMETRY_MAX_WRITERS];
    void *writer_ctx[CD_TELEMETRY_MAX_WRITERS];
    size_t n_writers;
    bool no_process_metrics;        /* true: leave out process_* */
    /* /healthz answers 200 "OK" while this returns true (NULL: always) */
    bool (*healthy)(void *ctx);
    void *health_ctx;
    /* read-only pages for paths equal to or under page_prefix ("/ui") */
    const char *page_prefix;
    cd_telemetry_page_fn page;        /* NULL: none */
    void *page_ctx;
} cd_telemetry_endpoint_config;

typedef struct cd_telemetry_endpoint cd_telemetry_endpoint;

/* Starts serving; NULL with err when the port cannot be bound. The config
 * is copied. */
cd_telemetry_endpoint *cd_telemetry_endpoint_start(const cd_telemetry_endpoint_config *cfg,
                                                   cd_err *err);
int cd_telemetry_endpoint_port(const cd_telemetry_endpoint *e);
void cd_telemetry_endpoint_stop(cd_telemetry_endpoint *e);

/* The process collector of Prometheus' client libraries: CPU seconds,
 * resident and virtual memory, open and max file descriptors, start time. */
void cd_telemetry_process_write(cd_buf *out);

#endif
