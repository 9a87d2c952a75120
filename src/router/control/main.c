/* main.c - `canaryd router`: flags, startup (fresh or taking over a
 * previous router's sockets), the control loop in the main thread
 * (signals, admin API, handover socket, health checks, housekeeping) and
 * shutdown. `canaryd router` first re-executes the small `canaryd-router`
 * binary next to it when there is one: the data plane then maps neither
 * libcurl nor GnuTLS, which keeps its idle memory low. */
#include "mains.h"
#include "router/control/admin.h"
#include "router/control/control.h"
#include "router/control/handover.h"
#include "router/control/health.h"
#include "router/datapath/proxy.h"
#include "router/datapath/workers.h"
#include "util/access.h"
#include "util/flags.h"
#include "util/log.h"
#include "version.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

rt_runtime rt_rt;

typedef struct flags {
    const char *listen_v[64];
    cd_flag_list listen;
    const char *admin_v[8];
    cd_flag_list admin;
    const char *metrics_v[4];
    cd_flag_list metrics;
    const char *admin_token_file;
    unsigned admin_socket_mode;
    const char *config;
    const char *handover;
    const char *takeover;
    const char *pid_file;
    int workers;
    uint32_t window_s;
    uint32_t samples;
    int64_t retention_ms;
    const char *log_level;
    bool log_json;
} flags;

/* the main thread: its loop, signals, timers, flags, shutdown state */
static struct {
    rt_loop loop;
    rt_io sig_io;
    rt_timer gc_timer;
    rt_timer drain_timer;
    flags f;
    bool stopping;
    bool exit_now;
    bool workers_started;
    int64_t retention_ms;
} g_main;

#define MS_DAY 86400000.0

static bool set_socket_mode(void *target, const char *s, char *err, size_t errlen)
{
    mode_t m;
    if (!cd_parse_socket_mode(s, &m)) {
        snprintf(err, errlen, "\"%s\" is not an octal mode such as 0600", s);
        return false;
    }
    *(unsigned *)target = m ? (unsigned)m : 0600;
    return true;
}

/* The flags' table: defaults are the values f and rt_cfg hold before
 * parsing (rt_settings_defaults, flags_defaults). */
static size_t flag_table(flags *f, cd_flag *t)
{
    const cd_flag table[] = {
        {.name = "listen", .type = CD_FLAG_LIST, .target = &f->listen, .arg = "[NAME=]ADDR",
         .help = "serve traffic on ADDR (repeatable); ADDR is host:port, [ipv6]:port or "
                 "unix:/path; NAME defaults to \"default\", \"default-1\", ..."},
        {.name = "admin", .type = CD_FLAG_LIST, .target = &f->admin, .arg = "ADDR",
         .help = "admin API on ADDR (repeatable): unix:/path (see --admin-socket-mode) or "
                 "host:port, which needs the token"},
        CD_FLAG_STR("admin-token-file", 0, &f->admin_token_file, "FILE",
                    "the token TCP admin listeners require (Authorization: Bearer; default "
                    "$CANARYD_ROUTER_TOKEN)"),
        {.name = "admin-socket-mode", .type = CD_FLAG_FUNC, .target = &f->admin_socket_mode,
         .set = set_socket_mode, .arg = "MODE", .def = "0600",
         .help = "permissions of unix: admin sockets"},
        {.name = "metrics", .type = CD_FLAG_LIST, .target = &f->metrics, .arg = "ADDR",
         .help = "a read-only listener: GET /metrics, /healthz and /readyz, nothing else, no "
                 "token (repeatable; for Prometheus)"},
        CD_FLAG_STR("config", 0, &f->config, "FILE",
                    "configuration loaded at start and on SIGHUP (JSON)"),
        CD_FLAG_NUM("workers", &f->workers, "N", 1, RT_MAX_WORKERS, "worker threads"),
        CD_FLAG_STR("handover", 0, &f->handover, "PATH",
                    "offer the listening sockets to a successor on this unix socket"),
        CD_FLAG_STR("takeover", 0, &f->takeover, "PATH",
                    "take the sockets and configuration of the router serving PATH (its "
                    "--handover), then let it drain; starts fresh when nothing answers there"),
        CD_FLAG_STR("pid-file", 0, &f->pid_file, "FILE", "write the process id"),
        CD_FLAG_DUR("connect-timeout", &rt_cfg.connect_timeout_ms, 1, MS_DAY, "backend connect timeout"),
        CD_FLAG_DUR("read-timeout", &rt_cfg.read_timeout_ms, 1, MS_DAY, "backend inactivity timeout"),
        CD_FLAG_DUR("header-timeout", &rt_cfg.header_timeout_ms, 1, MS_DAY,
                    "time allowed for a request head"),
        CD_FLAG_DUR("idle-timeout", &rt_cfg.idle_timeout_ms, 1, MS_DAY,
                    "keep-alive client idle timeout"),
        CD_FLAG_DUR("client-timeout", &rt_cfg.client_timeout_ms, 1, MS_DAY,
                    "client inactivity during a request"),
        CD_FLAG_DUR("pool-idle-timeout", &rt_cfg.pool_idle_ms, 1, MS_DAY,
                    "idle backend connections are closed after"),
        {.name = "pool-max-idle", .type = CD_FLAG_U32, .target = &rt_cfg.pool_max_idle, .lo = 0,
         .hi = 100000, .help = "idle backend connections kept per backend and worker"},
        CD_FLAG_DUR("drain-timeout", &rt_cfg.drain_timeout_ms, 1, MS_DAY,
                    "longest drain on SIGTERM or takeover"),
        {.name = "buffer-size", .type = CD_FLAG_U32, .target = &rt_cfg.buf_size, .arg = "BYTES",
         .lo = 1024, .hi = 1 << 24, .help = "per-direction buffer; also the request head limit"},
        {.name = "max-headers", .type = CD_FLAG_U32, .target = &rt_cfg.max_headers, .lo = 1,
         .hi = RT_HDR_CAP, .help = "request headers allowed"},
        {.name = "eject-after", .type = CD_FLAG_U32, .target = &rt_cfg.eject_after, .lo = 0,
         .hi = 1000,
         .help = "consecutive connection failures before a backend is ejected (0: never)"},
        CD_FLAG_DUR("eject-for", &rt_cfg.eject_ms, 1, MS_DAY, "ejection time"),
        {.name = "mirror-max-body", .type = CD_FLAG_U32, .target = &rt_cfg.mirror_max_body,
         .arg = "BYTES", .lo = 0, .hi = 1 << 30, .help = "larger request bodies are not mirrored"},
        {.name = "window", .type = CD_FLAG_U32, .target = &f->window_s, .arg = "SECONDS", .lo = 60,
         .hi = 86400, .help = "seconds kept for windowed measurements"},
        {.name = "samples", .type = CD_FLAG_U32, .target = &f->samples, .lo = 0, .hi = 10000000,
         .help = "recent latency samples kept per route group"},
        CD_FLAG_DUR("stats-retention", &f->retention_ms, 1, 7 * MS_DAY,
                    "series of removed backends stay visible for"),
        {.name = "log-level", .type = CD_FLAG_ENUM, .target = &f->log_level,
         .choices = cd_flag_log_levels, .arg = "LEVEL", .help = "log level"},
        {.name = "log-format", .type = CD_FLAG_FUNC, .target = &f->log_json,
         .choices = cd_flag_log_formats, .set = cd_flag_set_log_json,
         .def = "text on a terminal, json otherwise",
         .help = "log format"},
    };
    memcpy(t, table, sizeof table);
    return sizeof table / sizeof table[0];
}

static void flags_defaults(flags *f)
{
    memset(f, 0, sizeof *f);
    f->listen = (cd_flag_list){f->listen_v, 0, 64};
    f->admin = (cd_flag_list){f->admin_v, 0, 8};
    f->metrics = (cd_flag_list){f->metrics_v, 0, 4};
    f->admin_socket_mode = 0600;
    f->workers = 1;
    f->window_s = RT_WINDOW_DEFAULT_S;
    f->samples = RT_SAMPLES_DEFAULT;
    f->retention_ms = 300000;
    f->log_level = "info";
    f->log_json = !isatty(STDERR_FILENO);   /* text on a terminal, as every canaryd process */
}

/* Returns CD_FLAGS_OK, CD_FLAGS_DONE (help shown) or CD_FLAGS_USAGE. */
static int parse_flags(int argc, char **argv, flags *f)
{
    flags_defaults(f);
    cd_flag t[40];
    size_t n = flag_table(f, t);
    cd_flag_cmd cmd = {
        .prog = "canaryd router",
        .synopsis = "[flags]",
        .about = "The built-in data plane: an HTTP/1.1 traffic splitter reconfigured live\n"
                 "through its admin API (see docs/router.md).",
        .footer = "Signals: SIGTERM/SIGINT drain and exit; SIGHUP reloads --config.",
        .flags = t,
        .nflags = n,
        .version = CANARYD_VERSION,
    };
    int rc = cd_flags_parse(&cmd, argc, argv, NULL, stdout, stderr);
    if (rc != CD_FLAGS_OK)
        return rc;
    cd_log_set_level(cd_log_parse_level(f->log_level));
    cd_log_set_json(f->log_json);
    return CD_FLAGS_OK;
}

/* ---- configuration ---- */

static uint64_t g_applies, g_failures;

/* Which listener could not be bound and why, for the caller to act on
 * (canaryd local keeps the other listeners' routes up to date):
 * [{path: "listeners[i]", listener, address, errno: "EADDRINUSE", message}]. */
static json_t *bind_error_details(const rt_snapshot *s, const char *message)
{
    if (s->bind_failed < 0 || (size_t)s->bind_failed >= s->nlcfg)
        return NULL;
    const rt_listener_cfg *c = &s->lcfg[s->bind_failed];
    char path[48];
    snprintf(path, sizeof path, "listeners[%ld]", s->bind_failed);
    const char *name = s->bind_errno ? strerrorname_np(s->bind_errno) : NULL;
    return json_pack("[{s:s,s:s,s:s,s:s,s:s}]", "path", path, "listener", c->name, "address",
                     c->address, "errno", name ? name : "", "message", message);
}

void rt_control_apply(const json_t *doc, uint64_t if_version, rt_apply_result *res)
{
    memset(res, 0, sizeof *res);
    rt_snapshot *cur = rt_table_acquire();
    if (if_version && (!cur || cur->version != if_version)) {
        res->rc = RT_APPLY_CONFLICT;
        snprintf(res->message, sizeof res->message,
                 "the configuration changed: version is %llu, not %llu",
                 (unsigned long long)(cur ? cur->version : 0), (unsigned long long)if_version);
        rt_snapshot_release(cur);
        return;
    }
    json_t *errors = NULL;
    rt_snapshot *s = rt_config_decode(doc, cur, &errors);
    if (!s) {
        res->rc = RT_APPLY_INVALID;
        res->errors = errors;
        snprintf(res->message, sizeof res->message, "invalid configuration (%zu errors)",
                 json_array_size(errors));
        rt_snapshot_release(cur);
        rt_rt.apply_failures = ++g_failures;
        return;
    }
    if (!rt_table_activate(s, cur, res->message, sizeof res->message)) {
        res->rc = RT_APPLY_BIND;
        res->errors = bind_error_details(s, res->message);
        rt_snapshot_free_decoded(s);
        rt_snapshot_release(cur);
        rt_rt.apply_failures = ++g_failures;
        return;
    }
    rt_table_publish(s);
    res->version = s->version;
    /* when this returns, every worker routes new requests with s, and
     * sockets of removed listeners are closed */
    if (g_main.workers_started && !rt_workers_wait_version(s->version, 2000))
        cd_warn("router: workers are slow to take configuration version %llu",
                (unsigned long long)s->version);
    if (cur && g_main.workers_started)
        rt_table_close_removed_listeners(cur, s);
    rt_snapshot_release(cur);
    rt_rt.applies = ++g_applies;
    rt_rt.last_apply_wall_ms = cd_wall_ms();
    cd_info("router: configuration version %llu applied (%zu routes, %zu listeners)",
            (unsigned long long)s->version, s->nroutes, s->nlisteners);
}

static void on_publish(void)
{
    rt_workers_notify();
    rt_health_sync();
}

static bool load_config_file(const char *path, bool fatal)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        cd_error("router: %s:%d:%d: %s", path, je.line, je.column, je.text);
        if (fatal)
            fprintf(stderr, "canaryd router: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return false;
    }
    rt_apply_result res;
    rt_control_apply(doc, 0, &res);
    json_decref(doc);
    if (res.rc == RT_APPLY_OK)
        return true;
    cd_error("router: %s: %s", path, res.message);
    if (fatal)
        fprintf(stderr, "canaryd router: %s: %s\n", path, res.message);
    size_t i;
    json_t *e;
    json_array_foreach(res.errors, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *m = json_string_value(json_object_get(e, "message"));
        cd_error("router: %s: %s: %s", path, p, m);
        if (fatal)
            fprintf(stderr, "  %s: %s\n", p, m);
    }
    json_decref(res.errors);
    return false;
}

static bool apply_empty(void)
{
    json_t *doc = json_pack("{s:[],s:[]}", "listeners", "routes");
    rt_apply_result res;
    rt_control_apply(doc, 0, &res);
    json_decref(doc);
    json_decref(res.errors);
    if (res.rc != RT_APPLY_OK)
        fprintf(stderr, "canaryd router: %s\n", res.message);
    return res.rc == RT_APPLY_OK;
}

/* The admin token: --admin-token-file, else $CANARYD_ROUTER_TOKEN. */
static bool load_admin_token(const flags *f)
{
    char tok[CD_TOKEN_MAX + 1], err[600];
    bool loose = false;
    if (f->admin_token_file) {
        if (!cd_token_read_file(f->admin_token_file, tok, sizeof tok, &loose, err, sizeof err)) {
            fprintf(stderr, "canaryd router: --admin-token-file: %s\n", err);
            return false;
        }
        if (loose)
            cd_warn("router: %s is readable by other users; anyone who reads it can change "
                    "the routes", f->admin_token_file);
    } else if (!cd_token_from_env(CD_ENV_ROUTER_TOKEN, tok, sizeof tok, err, sizeof err)) {
        if (err[0]) {
            fprintf(stderr, "canaryd router: %s\n", err);
            return false;
        }
        return true;
    }
    rt_admin_set_token(tok);
    memset(tok, 0, sizeof tok);
    return true;
}

/* ---- lifecycle ---- */

static void on_drain_check(rt_loop *l, rt_timer *t)
{
    g_main.exit_now = true;
}

void rt_control_shutdown(const char *why)
{
    if (g_main.stopping)
        return;
    g_main.stopping = true;
    rt_rt.draining = true;
    cd_info("router: %s: draining (at most %lldms)", why, (long long)rt_cfg.drain_timeout_ms);
    rt_handover_close();
    rt_health_stop();
    rt_workers_drain();
    rt_table_close_listener_fds();
    /* workers exit by themselves once drained; join them off the loop */
    g_main.drain_timer.cb = on_drain_check;
    rt_timer_set(&g_main.loop, &g_main.drain_timer, g_main.loop.now);
}

static void on_signal(rt_loop *l, rt_io *io, uint32_t events)
{
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            if (g_main.f.config) {
                cd_info("router: SIGHUP: reloading %s", g_main.f.config);
                load_config_file(g_main.f.config, false);
            } else {
                cd_info("router: SIGHUP ignored: no --config file");
            }
        } else {
            rt_control_shutdown(si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        }
    }
}

static void on_gc(rt_loop *l, rt_timer *t)
{
    rt_registry_gc(cd_wall_ms(), g_main.retention_ms);
    rt_timer_set(l, t, l->now + 10000);
}

static void on_handed_over(void)
{
    rt_control_shutdown("taken over by a new router");
}

static bool write_pid_file(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return false;
    fprintf(f, "%d\n", (int)getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return false;
    }
    return true;
}

static int setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -1;
    g_main.sig_io.fd = fd;
    g_main.sig_io.cb = on_signal;
    return rt_loop_add(&g_main.loop, &g_main.sig_io, EPOLLIN);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Flag listeners: NAME=ADDR, or ADDR named "default", "default-1", ... */
static bool bind_flag_listeners(const flags *f)
{
    for (int i = 0; i < f->listen.n; i++) {
        char name[64];
        const char *spec = f->listen.items[i], *addr = spec;
        const char *eq = strchr(spec, '=');
        if (eq && strncmp(spec, "unix:", 5) && (size_t)(eq - spec) < sizeof name) {
            memcpy(name, spec, (size_t)(eq - spec));
            name[eq - spec] = 0;
            addr = eq + 1;
        } else if (i == 0) {
            snprintf(name, sizeof name, "default");
        } else {
            snprintf(name, sizeof name, "default-%d", i);
        }
        char err[256];
        if (!rt_table_add_flag_listener(name, addr, err, sizeof err)) {
            fprintf(stderr, "canaryd router: --listen %s: %s\n", spec, err);
            return false;
        }
    }
    return true;
}

static void exec_small_binary(int argc, char **argv)
{
    if (getenv("CANARYD_ROUTER_INPROCESS"))
        return;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
    if (n <= 0)
        return;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash || !strcmp(slash + 1, "canaryd-router"))
        return;
    strcpy(slash + 1, "canaryd-router");
    if (access(self, X_OK) != 0)
        return;
    char **av = calloc((size_t)argc + 1, sizeof *av);
    if (!av)
        return;
    av[0] = self;
    for (int i = 1; i < argc; i++)
        av[i] = argv[i];
    setenv("CANARYD_ROUTER_INPROCESS", "1", 1);
    execv(self, av);
    free(av);     /* exec failed: run here */
}

int cd_main_router(int argc, char **argv)
{
    rt_settings_defaults(&rt_cfg);
    int rc = parse_flags(argc, argv, &g_main.f);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    exec_small_binary(argc, argv);
    cd_log_set_logger("router");
    const flags *f = &g_main.f;
    g_main.retention_ms = f->retention_ms;
    rt_rt.started_wall_ms = cd_wall_ms();
    rt_rt.workers = f->workers;
    rt_rt.config_file = f->config;
    raise_fd_limit();
    /* I/O buffers (buffer-size and up) come from their own mappings, so
     * that freeing them after a burst gives memory back instead of leaving
     * holes between long-lived connection objects; workers cache them. */
    mallopt(M_MMAP_THRESHOLD, (int)rt_cfg.buf_size);
    if (rt_loop_init(&g_main.loop, NULL) < 0 || setup_signals() < 0) {
        fprintf(stderr, "canaryd router: cannot set up the event loop: %s\n", strerror(errno));
        return 1;
    }
    rt_stats_setup(f->workers, f->window_s, f->samples);
    rt_table_set_publish_hook(on_publish);

    rt_takeover tk;
    memset(&tk, 0, sizeof tk);
    if (f->takeover) {
        char err[256];
        int t = rt_handover_take(f->takeover, &tk, err, sizeof err);
        if (t < 0) {
            fprintf(stderr, "canaryd router: --takeover %s: %s\n", f->takeover, err);
            return 1;
        }
        if (t == 0)
            cd_info("router: --takeover %s: %s; starting fresh", f->takeover, err);
        else
            rt_rt.took_over = true;
    }
    if (!bind_flag_listeners(f))
        goto fail;
    bool configured = false;
    if (tk.config) {
        rt_apply_result res;
        rt_control_apply(tk.config, 0, &res);
        if (res.rc != RT_APPLY_OK) {
            fprintf(stderr, "canaryd router: configuration from the previous router: %s\n",
                    res.message);
            json_decref(res.errors);
            goto fail;
        }
        configured = true;
    } else if (f->config) {
        if (!load_config_file(f->config, true))
            goto fail;
        configured = true;
    }
    if (!configured && !apply_empty())
        goto fail;
    if (!load_admin_token(f))
        goto fail;
    for (int i = 0; i < f->admin.n + f->metrics.n; i++) {
        char err[300];
        bool metrics = i >= f->admin.n;
        const char *addr = metrics ? f->metrics.items[i - f->admin.n] : f->admin.items[i];
        rt_admin_listen_opts lo = {.metrics_only = metrics, .socket_mode = f->admin_socket_mode};
        if (!rt_admin_listen(&g_main.loop, addr, &lo, err, sizeof err)) {
            fprintf(stderr, "canaryd router: %s %s: %s\n", metrics ? "--metrics" : "--admin",
                    addr, err);
            goto fail;
        }
    }
    rt_table_close_unused_inherited();
    rt_admin_close_unused_inherited();
    if (rt_workers_start(f->workers) < 0) {
        fprintf(stderr, "canaryd router: cannot start workers\n");
        goto fail;
    }
    g_main.workers_started = true;
    rt_health_start(&g_main.loop);
    rt_health_sync();
    if (tk.conn_fd >= 0 && rt_rt.took_over)
        rt_handover_finish(&tk);
    if (f->handover) {
        char err[256];
        if (!rt_handover_serve(&g_main.loop, f->handover, on_handed_over, err, sizeof err))
            cd_warn("router: --handover %s: %s", f->handover, err);
    }
    if (f->pid_file && !write_pid_file(f->pid_file))
        cd_warn("router: cannot write %s: %s", f->pid_file, strerror(errno));
    g_main.gc_timer.cb = on_gc;
    rt_timer_set(&g_main.loop, &g_main.gc_timer, g_main.loop.now + 10000);
    cd_info("router: canaryd %s serving with %d worker(s)%s", CANARYD_VERSION, f->workers,
            rt_rt.took_over ? " (took over the previous router's sockets)" : "");
    while (!g_main.exit_now)
        rt_loop_run_once(&g_main.loop, 1000);
    rt_workers_join();
    rt_admin_close_all();
    rt_health_stop();
    rt_table_shutdown();
    rt_registry_shutdown();
    rt_timer_clear(&g_main.loop, &g_main.gc_timer);
    close(g_main.sig_io.fd);
    rt_loop_fini(&g_main.loop);
    json_decref(tk.config);
    cd_info("router: stopped");
    return 0;
fail:
    json_decref(tk.config);
    rt_table_shutdown();
    rt_registry_shutdown();
    return 1;
}
