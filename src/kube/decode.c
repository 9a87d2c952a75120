/* decode.c - see decode.h. Pure; memory bounded by max_line. */
#include "kube/decode.h"
#include <stdlib.h>
#include <string.h>

static const char *type_names[] = {NULL, "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *cd_watch_type_name(cd_watch_type t)
{
    return t >= CD_WATCH_ADDED && t <= CD_WATCH_ERROR ? type_names[t] : "?";
}

bool cd_watch_event_parse(const char *line, size_t len, cd_watch_event *ev, char *why,
                          size_t whylen)
{
    ev->type = 0;
    ev->object = NULL;
    json_error_t je;
    json_t *j = json_loadb(line, len, 0, &je);
    if (!j) {
        snprintf(why, whylen, "malformed watch event: %s", je.text);
        return false;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *obj = json_object_get(j, "object");
    cd_watch_type t = 0;
    for (int i = CD_WATCH_ADDED; type && i <= CD_WATCH_ERROR; i++)
        if (!strcmp(type, type_names[i]))
            t = (cd_watch_type)i;
    if (!t) {
        snprintf(why, whylen, "watch event with %s type%s%.40s%s", type ? "unknown" : "no",
                 type ? " \"" : "", type ? type : "", type ? "\"" : "");
        json_decref(j);
        return false;
    }
    if (!json_is_object(obj)) {
        snprintf(why, whylen, "%s watch event without an object", type);
        json_decref(j);
        return false;
    }
    if (t != CD_WATCH_ERROR && !json_is_object(json_object_get(obj, "metadata"))) {
        snprintf(why, whylen, "%s watch event: object without metadata", type);
        json_decref(j);
        return false;
    }
    if (t != CD_WATCH_ERROR &&
        !json_is_string(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"))) {
        snprintf(why, whylen, "%s watch event: object without metadata.resourceVersion", type);
        json_decref(j);
        return false;
    }
    ev->type = t;
    ev->object = json_incref(obj);
    json_decref(j);
    return true;
}

void cd_watch_decoder_init(cd_watch_decoder *d, size_t max_line, cd_watch_event_fn fn, void *ud)
{
    memset(d, 0, sizeof *d);
    d->max_line = max_line ? max_line : CD_WATCH_MAX_LINE_DEFAULT;
    d->fn = fn;
    d->ud = ud;
}

void cd_watch_decoder_free(cd_watch_decoder *d)
{
    cd_buf_free(&d->pending);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* One complete line: decode and dispatch. */
static int line_done(cd_watch_decoder *d, const char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        n--;
    if (blank(s, n))
        return 0;
    cd_watch_event ev;
    if (!cd_watch_event_parse(s, n, &ev, d->error, sizeof d->error)) {
        d->failed = true;
        return -1;
    }
    d->events++;
    int rc = d->fn ? d->fn(d->ud, &ev) : 0;
    json_decref(ev.object);
    if (rc) {
        d->stopped = true;
        return 1;
    }
    return 0;
}

int cd_watch_decoder_feed(cd_watch_decoder *d, const char *data, size_t len)
{
    if (d->failed)
        return -1;
    if (d->stopped)
        return 1;
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (d->pending.len + take > d->max_line) {
            snprintf(d->error, sizeof d->error, "watch event longer than %zu bytes", d->max_line);
            d->failed = true;
            cd_buf_free(&d->pending);
            return -1;
        }
        if (!nl) {
            cd_buf_append(&d->pending, data, take);
            return 0;
        }
        int rc;
        if (d->pending.len) {
            cd_buf_append(&d->pending, data, take);
            rc = line_done(d, d->pending.data, d->pending.len);
            cd_buf_reset(&d->pending);
        } else {
            rc = line_done(d, data, take);
        }
        if (rc)
            return rc;
        data += take + 1;
        len -= take + 1;
    }
    return 0;
}

int cd_watch_decoder_end(cd_watch_decoder *d)
{
    if (d->failed)
        return -1;
    if (d->stopped)
        return 1;
    if (d->pending.len && !blank(d->pending.data, d->pending.len)) {
        /* a last line without its newline is still a complete JSON value
         * when the server ends the stream cleanly */
        int rc = line_done(d, d->pending.data, d->pending.len);
        cd_buf_reset(&d->pending);
        if (rc < 0)
            snprintf(d->error, sizeof d->error, "the watch stream ended inside an event");
        return rc;
    }
    return 0;
}

bool cd_kube_list_from_json(const json_t *j, json_t **items, char **rv, char **cont,
                            cd_kube_err *err)
{
    *items = NULL;
    *rv = NULL;
    *cont = NULL;
    json_t *its = json_object_get(j, "items");
    json_t *md = json_object_get(j, "metadata");
    if (!json_is_object(j) || !(json_is_array(its) || json_is_null(its) || !its))
        return cd_kube_fail(err, CD_KR_DECODE, 0, "the list answer has no items array");
    const char *r = json_string_value(json_object_get(md, "resourceVersion"));
    const char *c = json_string_value(json_object_get(md, "continue"));
    if (!r)
        return cd_kube_fail(err, CD_KR_DECODE, 0, "the list answer has no metadata.resourceVersion");
    size_t i;
    json_t *v;
    json_array_foreach(its, i, v) {
        if (!json_is_object(v) || !json_is_object(json_object_get(v, "metadata")))
            return cd_kube_fail(err, CD_KR_DECODE, 0, "list item %zu is not an object with metadata", i);
    }
    *items = json_is_array(its) ? json_incref(its) : json_array();
    *rv = strdup(r);
    *cont = c && *c ? strdup(c) : NULL;
    return true;
}

bool cd_kube_list_parse(const char *body, size_t len, json_t **items, char **rv, char **cont,
                        cd_kube_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!j) {
        *items = NULL;
        *rv = *cont = NULL;
        return cd_kube_fail(err, CD_KR_DECODE, 0, "malformed list answer: %s", je.text);
    }
    bool ok = cd_kube_list_from_json(j, items, rv, cont, err);
    json_decref(j);
    return ok;
}
