/* fsutil.c - see fsutil.h. Only syscalls; no allocation except
 * cd_read_file's result and temporary path strings. */
#include "util/fsutil.h"
#include "util/buf.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int cd_write_file_atomic(const char *path, const void *data, size_t len)
{
    cd_buf tmp = CD_BUF_INIT;
    cd_buf_printf(&tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = -errno;
        cd_buf_free(&tmp);
        return rc;
    }
    int rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp.data, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp.data);
    else
        rc = fsync_dir_of(path);
    cd_buf_free(&tmp);
    return rc;
}

int cd_append_durable(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    struct stat st;
    bool created = fstat(fd, &st) == 0 && st.st_size == 0;
    int rc = write_all(fd, data, len);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && created)
        rc = fsync_dir_of(path);
    return rc;
}

/* Reads fd to its end (and closes it); see cd_read_file_max. */
static char *read_fd_max(int fd, size_t max, size_t *len)
{
    cd_buf b = CD_BUF_INIT;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && b.len + (size_t)n > max)) {
            int e = n < 0 ? errno : EFBIG;
            close(fd);
            cd_buf_free(&b);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        cd_buf_append(&b, chunk, (size_t)n);
    }
    close(fd);
    if (len)
        *len = b.len;
    return cd_buf_steal(&b);
}

char *cd_read_file_max(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    return read_fd_max(fd, max, len);
}

char *cd_read_regular_file_max(const char *path, size_t max, size_t *len, unsigned *type)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (type)
            *type = (unsigned)(st.st_mode & S_IFMT);
        errno = EINVAL;
        return NULL;
    }
    return read_fd_max(fd, max, len);
}

char *cd_read_file(const char *path, size_t *len)
{
    return cd_read_file_max(path, SIZE_MAX, len);
}

int cd_mkdir_p(const char *path, unsigned mode)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) != 0 && errno != EEXIST) {
            int rc = -errno;
            free(copy);
            return rc;
        }
        *p = '/';
    }
    int rc = 0;
    if (mkdir(copy, mode) != 0 && errno != EEXIST)
        rc = -errno;
    free(copy);
    return rc;
}

bool cd_proc_start_time(pid_t pid, uint64_t *ticks)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    size_t len;
    char *s = cd_read_file(path, &len);
    if (!s)
        return false;
    /* the command name (field 2) may hold spaces and parentheses */
    char *p = strrchr(s, ')');
    bool ok = false;
    if (p && (p[2] == 'Z' || p[2] == 'X'))
        p = NULL;   /* a zombie is dead, even if not reaped yet */
    if (p) {
        p++;
        /* fields 3.. follow; starttime is field 22 */
        for (int field = 3; field < 22 && p; field++) {
            p = strchr(p + 1, ' ');
        }
        if (p) {
            char *end;
            unsigned long long v = strtoull(p + 1, &end, 10);
            ok = end != p + 1;
            *ticks = v;
        }
    }
    free(s);
    return ok;
}

pid_t cd_proc_parent(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    size_t len;
    char *s = cd_read_file(path, &len);
    if (!s)
        return 0;
    /* "PID (comm) STATE PPID ...": comm may hold spaces and parentheses */
    char *p = strrchr(s, ')');
    long ppid = 0;
    if (p && sscanf(p + 1, " %*c %ld", &ppid) != 1)
        ppid = 0;
    free(s);
    return ppid > 0 ? (pid_t)ppid : 0;
}

bool cd_proc_is(pid_t pid, uint64_t start_time)
{
    uint64_t t;
    return pid > 0 && cd_proc_start_time(pid, &t) && t == start_time;
}

int cd_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
