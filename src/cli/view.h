/* view.h - how canaryctl prints canaries from canaryd local's API: the
 * kubectl-like table, the describe page and the live watch frame. Pure
 * formatting into a buffer; no I/O. */
#ifndef CD_CLI_VIEW_H
#define CD_CLI_VIEW_H
#include "util/buf.h"
#include <jansson.h>
#include <stdbool.h>

/* NAME STATUS WEIGHT FAILEDCHECKS LASTTRANSITIONTIME (NAMESPACE first when all_ns). */
void cd_view_table(cd_buf *out, const json_t *items, bool all_ns);
/* TIME TYPE PHASE MESSAGE of journal entries, each row after indent. */
void cd_view_events(cd_buf *out, const json_t *events, const char *indent);
/* The traffic split as the router has it: primaryWeight (the routes) is
 * the truth, the canary gets the rest; mirrored: the canary also gets a
 * copy of the primary's requests. Falls back to canaryWeight. Always
 * adds up to 100. */
void cd_view_weights(const json_t *canary, int *canary_w, int *primary_w, bool *mirrored);
/* The "Gates:" lines of describe (nothing when none is engaged). */
void cd_view_gates(cd_buf *out, const json_t *gates);
/* NAME LAST VALUE LIMIT CHECK MESSAGE of detail["metrics"], indented. */
void cd_view_metrics(cd_buf *out, const json_t *canary);
/* The describe page of one canary detail. */
void cd_view_describe(cd_buf *out, const json_t *canary);
/* A weight bar, e.g. "[#####...............] 25%". */
void cd_view_bar(cd_buf *out, int weight, int width);
/* The watch frame: phase, bar, metrics against their thresholds, last events. */
void cd_view_watch(cd_buf *out, const json_t *canary, int events);
/* One line for piped watch output. */
void cd_view_line(cd_buf *out, const json_t *canary);

/* watch --until-done's verdict on one canary detail: 0 the current
 * revision's release Succeeded, 1 it Failed, -1 not done. */
int cd_watch_outcome(const json_t *canary);

#endif
