/* decode.h - decoding what the API server streams and lists: watch events
 * (newline-delimited JSON, each event possibly split across many network
 * chunks, several per chunk) and List answers (items, resourceVersion,
 * continue token). Pure and bounded: a line longer than max_line or a
 * malformed event fails the decoder with a reason; it never crashes on
 * any input (fuzzed by fuzz/fuzz_kube_decode.c). */
#ifndef CD_KUBE_DECODE_H
#define CD_KUBE_DECODE_H
#include "kube/err.h"
#include "util/buf.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CD_WATCH_ADDED = 1,
    CD_WATCH_MODIFIED,
    CD_WATCH_DELETED,
    CD_WATCH_BOOKMARK,
    CD_WATCH_ERROR,             /* object is a Status (410 Expired: relist) */
} cd_watch_type;

typedef struct cd_watch_event {
    cd_watch_type type;
    json_t *object;             /* an object with metadata (a Status for ERROR) */
} cd_watch_event;

const char *cd_watch_type_name(cd_watch_type t);

/* Parses one event line. On success ev->object is a new reference the
 * caller releases. On failure why explains. */
bool cd_watch_event_parse(const char *line, size_t len, cd_watch_event *ev, char *why,
                          size_t whylen);

/* Called once per event; ev->object is borrowed for the call. Return 0 to
 * go on, nonzero to stop decoding. */
typedef int (*cd_watch_event_fn)(void *ud, const cd_watch_event *ev);

typedef struct cd_watch_decoder {
    cd_buf pending;             /* an incomplete line */
    size_t max_line;
    cd_watch_event_fn fn;
    void *ud;
    size_t events;
    bool failed, stopped;
    char error[256];
} cd_watch_decoder;

#define CD_WATCH_MAX_LINE_DEFAULT (32u << 20)

void cd_watch_decoder_init(cd_watch_decoder *d, size_t max_line, cd_watch_event_fn fn, void *ud);
void cd_watch_decoder_free(cd_watch_decoder *d);
/* 0: fed; 1: the callback stopped; -1: malformed (d->error says why).
 * Once stopped or failed, further input is ignored. */
int cd_watch_decoder_feed(cd_watch_decoder *d, const char *data, size_t len);
/* The stream ended: a partial event left over is an error (-1). */
int cd_watch_decoder_end(cd_watch_decoder *d);

/* A List answer. items: new reference to the array; rv and cont:
 * malloc'd (cont NULL when the list is complete). */
bool cd_kube_list_parse(const char *body, size_t len, json_t **items, char **rv, char **cont,
                        cd_kube_err *err);
/* Same from a parsed value (borrowed). */
bool cd_kube_list_from_json(const json_t *list, json_t **items, char **rv, char **cont,
                            cd_kube_err *err);

#endif
