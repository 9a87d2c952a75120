/* process.c - process_* metrics from /proc/self, with the names, types
 * and help texts of Prometheus client libraries' process collector. Reads
 * only; a missing /proc leaves the affected metrics out. */
#include "telemetry/endpoint.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void gauge(cd_buf *out, const char *name, const char *help, const char *type, double v)
{
    cd_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;   /* the directory stream itself */
}

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[256];
    double bt = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "btime ", 6))
            bt = strtod(line + 6, NULL);
    fclose(f);
    return bt;
}

static double limit_value(rlim_t v)
{
    return v == RLIM_INFINITY ? 18446744073709551615.0 : (double)v;
}

void cd_telemetry_process_write(cd_buf *out)
{
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* fields after the command name, which may hold spaces and ')' */
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0, vsize = 0;
    unsigned long long start = 0;
    long rss = 0;
    bool have_stat = p && sscanf(p + 2,
                                 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
                                 "%*d %*d %*d %*d %llu %lu %ld",
                                 &utime, &stime, &start, &vsize, &rss) == 5;
    if (have_stat && ticks > 0) {
        gauge(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              "counter", (double)(utime + stime) / (double)ticks);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        gauge(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge",
              limit_value(rl.rlim_cur));
    long fds = open_fds();
    if (fds >= 0)
        gauge(out, "process_open_fds", "Number of open file descriptors.", "gauge", (double)fds);
    if (have_stat) {
        gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
              (double)rss * (double)page);
        double bt = boot_time();
        if (bt >= 0 && ticks > 0)
            gauge(out, "process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.", "gauge",
                  bt + (double)start / (double)ticks);
        gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
              (double)vsize);
    }
    if (getrlimit(RLIMIT_AS, &rl) == 0)
        gauge(out, "process_virtual_memory_max_bytes",
              "Maximum amount of virtual memory available in bytes.", "gauge",
              limit_value(rl.rlim_cur));
}
