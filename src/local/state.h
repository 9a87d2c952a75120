/* state.h - the local platform's state directory: each Canary's status and
 * event journal, the process sets and the router process, all written so
 * that a crash (kill -9) at any moment leaves a readable state: whole files
 * are replaced atomically, journals are appended and synced line by line.
 *
 *   DIR/canaries/<namespace>/<name>/status.json
 *   DIR/canaries/<namespace>/<name>/events.jsonl
 *   DIR/<key>.json            (procsets/<name>, router, ...)
 *   DIR/logs/                 (replica output)
 *
 * A file that cannot be read is reported with why and moved aside by the
 * caller (cd_state_quarantine), never silently read as defaults. DIR/lock
 * keeps a second canaryd local off the same directory.
 *
 * Thread-safe for different canaries; one writer per file. */
#ifndef CD_LOCAL_STATE_H
#define CD_LOCAL_STATE_H
#include "model/status.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* events.jsonl past this size keeps its newest half (cd_state_append_event) */
#define CD_STATE_EVENTS_MAX (1024 * 1024)

typedef struct cd_state cd_state;

/* Creates the directory if needed. NULL with errno on failure. */
cd_state *cd_state_open(const char *dir);
void cd_state_close(cd_state *st);
/* Takes DIR/lock (flock, held until cd_state_close or the process ends,
 * even by kill -9): one canaryd local per state directory. false with
 * why (naming the holder's pid) when another one holds it. */
bool cd_state_lock(cd_state *st, char *why, size_t n);
/* Removes the directories cd_state_open created when they are still empty
 * (a start that failed at once leaves nothing behind). */
void cd_state_remove_empty(cd_state *st);
const char *cd_state_dir(const cd_state *st);
const char *cd_state_log_dir(const cd_state *st);

/* 0 or -errno. */
int cd_state_save_status(cd_state *st, const char *ns, const char *name,
                         const cd_canary_status *status);
/* 0, -ENOENT when there is none, or another -errno (corrupt file: -EINVAL). */
int cd_state_load_status(cd_state *st, const char *ns, const char *name, cd_canary_status *out);
/* The same, saying in why (when -EINVAL) what is wrong with the file: its
 * JSON (line, column) or a field of the wrong type ({"phase": 42}). */
int cd_state_load_status_why(cd_state *st, const char *ns, const char *name,
                             cd_canary_status *out, char *why, size_t n);
/* Paths for messages (malloc'd; NULL for a name that is not safe). */
char *cd_state_status_path(cd_state *st, const char *ns, const char *name);
char *cd_state_record_path(cd_state *st, const char *key);
/* Moves a bad file aside (path.corrupt-<ms>), keeping it for a post-mortem;
 * moved gets the new name (the old one when the rename failed). 0 or -errno. */
int cd_state_quarantine(const char *path, char *moved, size_t n);
int cd_state_remove_canary(cd_state *st, const char *ns, const char *name);

/* One event: {"ts": RFC3339, "type": Normal|Warning, "phase": ..., "message": ...} */
int cd_state_append_event(cd_state *st, const char *ns, const char *name, int64_t wall_ms,
                          const char *type, const char *phase, const char *message);
/* The last `limit` events (all when limit <= 0), oldest first. A torn last
 * line (crash mid-write) is skipped. */
json_t *cd_state_events(cd_state *st, const char *ns, const char *name, int limit);

/* Small JSON records (key is a relative path without ".json"). */
int cd_state_save_json(cd_state *st, const char *key, const json_t *value);
json_t *cd_state_load_json(cd_state *st, const char *key);
/* 0, -ENOENT, or -EINVAL with why (line, column and jansson's text). */
int cd_state_load_json_why(cd_state *st, const char *key, json_t **out, char *why, size_t n);
int cd_state_remove_json(cd_state *st, const char *key);

#endif
