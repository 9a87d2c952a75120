/* loadtester.h - `canaryd loadtester`, a drop-in for flagger-loadtester
 * (reference §4.4): gates (/gate/..., /rollback/...), /healthz, /metrics, and
 * webhook tasks on / (cmd, bash, helm, helmv3, kubectl, and canaryd's
 * native `load`), with namespace-regexp protection (of the payload and of
 * what kubectl and helm would act on), a command allowlist, an optional
 * bearer token, a task timeout and deduplication of running tasks.
 *
 * The server is event-driven (libmicrohttpd on epoll, net/httpd.h): slow
 * or idle clients cost a descriptor, not a thread, and lose their
 * connection after the read timeout; a synchronous task suspends its
 * connection and runs on its own thread. */
#ifndef CD_LOADTESTER_LOADTESTER_H
#define CD_LOADTESTER_LOADTESTER_H
#include "util/err.h"
#include "util/buf.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cd_loadtester_config {
    const char *address;            /* bind address; NULL: every interface */
    int port;                       /* 9090 as Flagger's; 0: any free port */
    int64_t timeout_ms;             /* task timeout; 0: 1 h */
    const char *namespace_regexp;   /* POSIX ERE; NULL/"": every namespace */
    int max_tasks;                  /* background tasks running at once; 0: 256 */
    const char *token;              /* required for everything but /healthz, /metrics; NULL: none */
    const char *allow_commands;     /* programs allowed besides the defaults, comma-separated */
    bool allow_any_command;         /* no allowlist, no shell subset (Flagger's behaviour) */
    unsigned max_connections;       /* 0: 8192 (clamped to the fd limit) */
    unsigned read_timeout_s;        /* a request within, and idle after; 0: 5 */
} cd_loadtester_config;

typedef struct cd_loadtester cd_loadtester;

cd_loadtester *cd_loadtester_start(const cd_loadtester_config *cfg, cd_err *err);
int cd_loadtester_port(const cd_loadtester *lt);
/* The connection cap in force (after clamping to the fd limit). */
unsigned cd_loadtester_max_connections(const cd_loadtester *lt);
/* Commands started so far (Flagger's TotalExecs). */
uint64_t cd_loadtester_execs(cd_loadtester *lt);
/* Background tasks still running. */
int cd_loadtester_running(cd_loadtester *lt);
/* Stops serving, kills running tasks and waits for them. */
void cd_loadtester_stop(cd_loadtester *lt);

/* ---- internals shared by the loadtester files ---- */

/* server.c: Flagger's CanaryWebhookPayload as a request body carries it
 * (pointers into j, which must outlive p); false with a message in why. */
typedef struct cd_lt_payload {
    const char *name, *namespace_;
    const json_t *metadata;     /* object of strings, may be NULL */
    char canary[600];           /* "name.namespace" */
} cd_lt_payload;
bool cd_loadtester_decode_payload(const json_t *j, cd_lt_payload *p, char *why, size_t n);

/* gate.c: a set of open keys ("name.ns", "rollback.name.ns"). */
typedef struct cd_gates cd_gates;
cd_gates *cd_gates_new(void);
void cd_gates_free(cd_gates *g);
void cd_gates_set(cd_gates *g, const char *key, bool open);
bool cd_gates_is_open(cd_gates *g, const char *key);

/* tasks.c: the answer to a task request. */
typedef struct cd_task_reply {
    unsigned status;
    cd_buf body;
    const char *content_type;       /* NULL: text/plain */
} cd_task_reply;

typedef struct cd_tasks cd_tasks;
struct cd_cmd_policy;
/* policy (kept, not copied) decides which commands may run. */
cd_tasks *cd_tasks_new(int64_t timeout_ms, int max_tasks, const struct cd_cmd_policy *policy);
/* True when the task answers only once done (bash, helm, helmv3,
 * kubectl, load with wait): the server runs it off its event thread. */
bool cd_tasks_blocks(const json_t *metadata);
/* Refuses new tasks and kills running ones (does not wait). */
void cd_tasks_cancel_all(cd_tasks *t);
/* Kills running tasks, waits for them, frees. */
void cd_tasks_free(cd_tasks *t);
/* Handles a payload on "/": canary = "name.namespace". */
void cd_tasks_handle(cd_tasks *t, const char *canary, const json_t *metadata, cd_task_reply *out);
uint64_t cd_tasks_execs(cd_tasks *t);
int cd_tasks_running(cd_tasks *t);
/* loadtester_* metrics in the text format. */
void cd_tasks_write_metrics(cd_tasks *t, cd_buf *out);

#endif
