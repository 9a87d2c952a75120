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
/* The describe page of one canary detail. */
void cd_view_describe(cd_buf *out, const json_t *canary);
/* A weight bar, e.g. "[#####...............] 25%". */
void cd_view_bar(cd_buf *out, int weight, int width);
/* The watch frame: phase, bar, metrics against their thresholds, last events. */
void cd_view_watch(cd_buf *out, const json_t *canary, int events);
/* One line for piped watch output. */
void cd_view_line(cd_buf *out, const json_t *canary);

#endif
