/* proc.h - runs one command for the load tester: posix_spawn in its own
 * process group, stdin from /dev/null, stdout and stderr combined and
 * captured (capped), killed with its whole group at the deadline or on
 * cancel. Thread-safe; never leaves a zombie or a stray child. */
#ifndef CD_LOADTESTER_PROC_H
#define CD_LOADTESTER_PROC_H
#include "util/buf.h"
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define CD_PROC_MAX_OUTPUT (1u << 20)

typedef struct cd_proc_result {
    bool started;           /* false: the program could not be run (error says why) */
    int exit_code;          /* when it exited */
    int signal;             /* when it was killed by a signal */
    bool timed_out;
    bool cancelled;
    cd_buf output;          /* combined stdout+stderr, at most CD_PROC_MAX_OUTPUT bytes */
    char error[160];        /* Go's exec error text: "exit status 1", "signal: killed" */
} cd_proc_result;

/* Runs argv[0] (searched in PATH) with argv. cancel may be NULL; when it
 * becomes non-zero the process group is killed. True when the command ran
 * and exited 0. r must be freed with cd_proc_result_free. */
bool cd_proc_run(char *const argv[], int64_t timeout_ms, volatile sig_atomic_t *cancel,
                 cd_proc_result *r);
void cd_proc_result_free(cd_proc_result *r);

/* True when prog is an executable file in PATH (or a path to one). */
bool cd_proc_in_path(const char *prog);

#endif
