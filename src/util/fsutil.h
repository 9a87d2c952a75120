/* fsutil.h - files that must survive crashes: atomic replace (temporary
 * file, fsync, rename, fsync of the directory), durable appends, reading
 * whole files, mkdir -p; and process identity (PID + start time) for
 * adopting processes after a restart. */
#ifndef CD_FSUTIL_H
#define CD_FSUTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Replaces path with data atomically: after a crash at any moment the file
 * holds either the old or the new content, never a mix. 0 or -errno. */
int cd_write_file_atomic(const char *path, const void *data, size_t len);
/* Appends one record and fsyncs it. 0 or -errno. */
int cd_append_durable(const char *path, const void *data, size_t len);
/* Whole file, NUL-terminated, malloc'd; NULL with errno set. */
char *cd_read_file(const char *path, size_t *len);
/* The same, but NULL with errno EFBIG (without reading further) when the
 * file holds more than max bytes. */
char *cd_read_file_max(const char *path, size_t max, size_t *len);
/* The same for a path that must be a regular file (or a symbolic link to
 * one): never blocks on a FIFO. Anything else is NULL with errno EINVAL
 * and its S_IFMT bits in *type. */
char *cd_read_regular_file_max(const char *path, size_t max, size_t *len, unsigned *type);
int cd_mkdir_p(const char *path, unsigned mode);   /* 0 or -errno */

/* The start time of a process (clock ticks after boot, /proc/PID/stat
 * field 22): with the PID it identifies a process across PID reuse.
 * Returns false when the process does not exist or is a zombie. */
bool cd_proc_start_time(pid_t pid, uint64_t *ticks);
/* The parent of a process (/proc/PID/stat field 4), or 0 when it is
 * gone or unreadable. */
pid_t cd_proc_parent(pid_t pid);
/* True when pid runs and started at start_time. */
bool cd_proc_is(pid_t pid, uint64_t start_time);
/* pidfd_open(2): a descriptor that becomes readable when pid exits, also
 * for processes that are not our children. -1 on error. */
int cd_pidfd_open(pid_t pid);

#endif
