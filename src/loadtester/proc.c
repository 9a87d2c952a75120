/* proc.c - see proc.h. The child gets a fresh process group and default
 * signal handling; the parent polls the output pipe against a monotonic
 * deadline, then reaps the child. */
#include "loadtester/proc.h"
#include "util/timeutil.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void cd_proc_result_free(cd_proc_result *r)
{
    cd_buf_free(&r->output);
}

bool cd_proc_in_path(const char *prog)
{
    if (!prog || !*prog)
        return false;
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char dir[4096];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, n ? p : ".", prog);
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISREG(st.st_mode) && access(dir, X_OK) == 0)
            return true;
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

static void kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

bool cd_proc_run(char *const argv[], int64_t timeout_ms, volatile sig_atomic_t *cancel,
                 cd_proc_result *r)
{
    memset(r, 0, sizeof *r);
    cd_buf_puts(&r->output, "");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(r->error, sizeof r->error, "pipe: %s", strerror(errno));
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(r->error, sizeof r->error, "exec: \"%s\": %s", argv[0],
                 rc == ENOENT ? "executable file not found in $PATH" : strerror(rc));
        return false;
    }
    r->started = true;
    int64_t deadline = timeout_ms > 0 ? cd_mono_ms() + timeout_ms : INT64_MAX;
    char buf[8192];
    bool open = true;
    while (open) {
        if (cancel && *cancel) {
            r->cancelled = true;
            kill_group(pid);
            break;
        }
        int64_t left = deadline - cd_mono_ms();
        if (left <= 0) {
            r->timed_out = true;
            kill_group(pid);
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int n = poll(&p, 1, left > 200 ? 200 : (int)left);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got > 0) {
            size_t room = CD_PROC_MAX_OUTPUT - r->output.len;
            cd_buf_append(&r->output, buf, (size_t)got < room ? (size_t)got : room);
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
            open = false;
        }
    }
    close(fds[0]);
    /* the output may close before the process ends (exec >/dev/null): keep
     * honouring the deadline and cancel while waiting for it */
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        if (w == 0 && !r->timed_out && !r->cancelled) {
            if (cancel && *cancel) {
                r->cancelled = true;
                kill_group(pid);
            } else if (cd_mono_ms() >= deadline) {
                r->timed_out = true;
                kill_group(pid);
            }
        }
        if (w == 0) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    /* the group may still hold children that outlived the shell */
    if (r->timed_out || r->cancelled)
        kill(-pid, SIGKILL);
    if (WIFEXITED(status)) {
        r->exit_code = WEXITSTATUS(status);
        if (r->exit_code)
            snprintf(r->error, sizeof r->error, "exit status %d", r->exit_code);
    } else if (WIFSIGNALED(status)) {
        r->signal = WTERMSIG(status);
        const char *name = r->signal == SIGKILL ? "killed" : strsignal(r->signal);
        snprintf(r->error, sizeof r->error, "signal: %s", name ? name : "unknown");
    }
    if (r->timed_out) {
        size_t n = strlen(r->error);
        snprintf(r->error + n, sizeof r->error - n, " (timed out after %lld ms)",
                 (long long)timeout_ms);
    }
    return !r->timed_out && !r->cancelled && WIFEXITED(status) && r->exit_code == 0;
}
