/* access.c - see access.h. Nothing here writes a token anywhere but the
 * token file it is asked to write. */
#include "util/access.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- tokens ------------------------------------------------------------- */

/* Trims s[0..n) and checks it is a token; copies it to out. */
static bool take_token(const char *s, size_t n, char *out, size_t cap, const char *what, char *err,
                       size_t errlen)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0) {
        snprintf(err, errlen, "%s is empty", what);
        return false;
    }
    if (n > CD_TOKEN_MAX || n + 1 > cap) {
        snprintf(err, errlen, "%s is longer than %d characters", what, CD_TOKEN_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            snprintf(err, errlen, "%s holds a character that is not visible ASCII", what);
            return false;
        }
    }
    memcpy(out, s, n);
    out[n] = 0;
    return true;
}

bool cd_token_read_file(const char *path, char *out, size_t cap, bool *loose, char *err,
                        size_t errlen)
{
    /* O_NONBLOCK: a named pipe would wait for a writer. The reasons are
     * in parentheses: "PATH: why", with a PATH ending in "token", reads
     * as a header to the log's redactor, which hides the reason */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s (%s)", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s (not a regular file)", path);
        close(fd);
        return false;
    }
    if (loose)
        *loose = (st.st_mode & 077) != 0;
    char buf[CD_TOKEN_MAX + 64];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "%s (%s)", path, strerror(errno));
            close(fd);
            return false;
        }
        n += (size_t)r;
    }
    close(fd);
    const char *nl = memchr(buf, '\n', n);
    size_t line = nl ? (size_t)(nl - buf) : n;
    if (!nl && n == sizeof buf) {
        snprintf(err, errlen, "%s (the token is longer than %d characters)", path, CD_TOKEN_MAX);
        return false;
    }
    char what[300];
    snprintf(what, sizeof what, "the token in %.250s", path);
    return take_token(buf, line, out, cap, what, err, errlen);
}

bool cd_token_from_env(const char *env, char *out, size_t cap, char *err, size_t errlen)
{
    const char *v = getenv(env);
    if (err && errlen)
        err[0] = 0;
    if (!v || !*v)
        return false;
    char what[80];
    snprintf(what, sizeof what, "$%s", env);
    return take_token(v, strlen(v), out, cap, what, err, errlen);
}

bool cd_token_generate(char *out, size_t cap)
{
    unsigned char r[32];
    size_t got = 0;
    if (cap < 2 * sizeof r + 1)
        return false;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return true;
}

bool cd_token_write_file(const char *path, const char *token, char *err, size_t errlen)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= sizeof tmp) {
        snprintf(err, errlen, "%.200s: path too long", path);
        return false;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%.300s: %s", tmp, strerror(errno));
        return false;
    }
    size_t n = strlen(token);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, token, n) == (ssize_t)n &&
              write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        snprintf(err, errlen, "%.300s: %s", path, strerror(e));
    }
    return ok;
}

bool cd_token_equal(const char *given, size_t given_len, const char *want)
{
    size_t n = strlen(want);
    volatile unsigned char diff = given_len != n;
    if (n == 0)
        return false;
    for (size_t i = 0; i < given_len; i++)
        diff |= (unsigned char)given[i] ^ (unsigned char)want[i % n];
    return diff == 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64, padding optional. Returns the length or -1. */
static long b64decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '=') {
            for (; i < n; i++)
                if (in[i] != '=')
                    return -1;
            break;
        }
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

bool cd_authorization_credential(const char *h, char *out, size_t cap)
{
    if (!h || cap == 0)
        return false;
    while (*h == ' ' || *h == '\t')
        h++;
    const char *v;
    bool basic;
    if (!strncasecmp(h, "Bearer ", 7)) {
        v = h + 7;
        basic = false;
    } else if (!strncasecmp(h, "Basic ", 6)) {
        v = h + 6;
        basic = true;
    } else {
        return false;
    }
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (!basic) {
        if (n == 0 || n >= cap)
            return false;
        memcpy(out, v, n);
        out[n] = 0;
        return true;
    }
    unsigned char dec[3 * (CD_TOKEN_MAX + 128) / 4 + 4];
    long m = b64decode(v, n, dec, sizeof dec);
    if (m <= 0)
        return false;
    const unsigned char *colon = memchr(dec, ':', (size_t)m);
    const unsigned char *cred = dec;
    size_t cl = (size_t)m;
    if (colon) {
        size_t pl = (size_t)m - (size_t)(colon - dec) - 1;
        if (pl > 0) {
            cred = colon + 1;
            cl = pl;
        } else {
            cl = (size_t)(colon - dec);   /* "TOKEN:" (curl -u TOKEN:) */
        }
    }
    if (cl == 0 || cl >= cap || memchr(cred, 0, cl))
        return false;
    memcpy(out, cred, cl);
    out[cl] = 0;
    return true;
}

/* ---- Host, Origin, Content-Type ----------------------------------------- */

/* host[:port] -> the host part (brackets removed) in out; false when
 * malformed. */
static bool host_part(const char *hp, char *out, size_t cap, bool *is_v6)
{
    *is_v6 = false;
    size_t n;
    if (*hp == '[') {
        const char *end = strchr(hp, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
        n = (size_t)(end - hp - 1);
        hp++;
        *is_v6 = true;
    } else {
        const char *colon = strchr(hp, ':');
        if (colon && strchr(colon + 1, ':'))
            return false;
        n = colon ? (size_t)(colon - hp) : strlen(hp);
    }
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, hp, n);
    out[n] = 0;
    return true;
}

static bool name_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na && a[na - 1] == '.')
        na--;
    if (nb && b[nb - 1] == '.')
        nb--;
    return na == nb && na && !strncasecmp(a, b, na);
}

bool cd_host_is_local(const char *host)
{
    char h[256];
    bool v6;
    if (!host || !host_part(host, h, sizeof h, &v6))
        return false;
    unsigned char addr[16];
    if (v6)
        return inet_pton(AF_INET6, h, addr) == 1;
    if (inet_pton(AF_INET, h, addr) == 1)
        return true;
    size_t n = strlen(h);
    if (n && h[n - 1] == '.')
        h[--n] = 0;
    if (!strcasecmp(h, "localhost") || (n > 10 && !strcasecmp(h + n - 10, ".localhost")))
        return true;
    char self[256];
    if (gethostname(self, sizeof self) == 0) {
        self[sizeof self - 1] = 0;
        if (name_equal(h, self))
            return true;
        char *dot = strchr(self, '.');   /* the short name of an FQDN host name */
        if (dot) {
            *dot = 0;
            if (name_equal(h, self))
                return true;
        }
    }
    return false;
}

bool cd_origin_matches_host(const char *origin, const char *host)
{
    if (!origin)
        return true;
    if (!host)
        return false;
    const char *rest = NULL;
    if (!strncasecmp(origin, "http://", 7))
        rest = origin + 7;
    else if (!strncasecmp(origin, "https://", 8))
        rest = origin + 8;
    if (!rest || !*rest)
        return false;
    size_t n = strlen(rest);
    if (rest[n - 1] == '/')
        n--;
    return n == strlen(host) && !strncasecmp(rest, host, n);
}

bool cd_media_type_is(const char *ct, const char *type)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = 0;
    while (ct[n] && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
        n++;
    return n == strlen(type) && !strncasecmp(ct, type, n);
}

bool cd_method_changes_state(const char *m)
{
    return m && strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

int cd_access_check(const cd_access_policy *p, const cd_access_request *r, char *why,
                    size_t whylen)
{
    if (p->check_host && r->host && !cd_host_is_local(r->host)) {
        snprintf(why, whylen, "the Host header does not name this server (use an IP address "
                              "or localhost); requests for other names are refused against "
                              "DNS rebinding");
        return 403;
    }
    if (!cd_origin_matches_host(r->origin, r->host)) {
        snprintf(why, whylen, "cross-origin request refused (the Origin header differs from "
                              "the Host)");
        return 403;
    }
    if (p->token) {
        char cred[CD_TOKEN_MAX + 1];
        if (!cd_authorization_credential(r->authorization, cred, sizeof cred)) {
            snprintf(why, whylen, "this listener needs a token: send \"Authorization: Bearer "
                                  "TOKEN\"");
            return 401;
        }
        bool ok = cd_token_equal(cred, strlen(cred), p->token);
        memset(cred, 0, sizeof cred);
        if (!ok) {
            snprintf(why, whylen, "wrong token");
            return 401;
        }
    }
    if (p->require_json && cd_method_changes_state(r->method)) {
        bool ok = cd_media_type_is(r->content_type, "application/json");
        for (size_t i = 0; !ok && p->extra_types && p->extra_types[i]; i++)
            ok = cd_media_type_is(r->content_type, p->extra_types[i]);
        if (!ok) {
            int n = snprintf(why, whylen, "a %s request needs \"Content-Type: application/json\"",
                             r->method);
            for (size_t i = 0; p->extra_types && p->extra_types[i] && n > 0 && (size_t)n < whylen; i++)
                n += snprintf(why + n, whylen - (size_t)n, " or \"%s\"", p->extra_types[i]);
            return 415;
        }
    }
    return 0;
}

/* ---- Unix sockets ------------------------------------------------------- */

bool cd_parse_socket_mode(const char *s, mode_t *mode)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 8);
    if (*end || errno || v > 0777)
        return false;
    *mode = (mode_t)v;
    return true;
}

int cd_listen_unix(const char *path, mode_t mode, int backlog, bool nonblock, char *err,
                   size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!path || !*path || strlen(path) >= sizeof a.sun_path) {
        snprintf(err, errlen, "a Unix socket path must have 1 to %zu characters",
                 sizeof a.sun_path - 1);
        return -1;
    }
    strcpy(a.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            return -1;
        }
        int t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = t >= 0 && connect(t, (struct sockaddr *)&a, sizeof a) == 0;
        if (t >= 0)
            close(t);
        if (live) {
            snprintf(err, errlen, "another process is listening on %s", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* the socket file gets 0777 & ~umask: exactly mode for this instant */
    mode_t old = umask(0777 & ~(mode & 0777));
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    umask(old);
    if (rc != 0) {
        snprintf(err, errlen, "bind %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) != 0) {
        snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

/* ---- the runtime directory ---------------------------------------------- */

bool cd_runtime_dir(char *out, size_t cap, char *err, size_t errlen)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    int n;
    if (x && x[0] == '/')
        n = snprintf(out, cap, "%s/canaryd", x);
    else
        n = snprintf(out, cap, "/tmp/canaryd-%u", (unsigned)geteuid());
    if (n < 0 || (size_t)n >= cap) {
        snprintf(err, errlen, "the runtime directory path is too long");
        return false;
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", out, strerror(errno));
        return false;
    }
    struct stat st;
    if (lstat(out, &st) != 0) {
        snprintf(err, errlen, "%s: %s", out, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s is not a private directory of this user (mode 0700); "
                              "refusing to use it", out);
        return false;
    }
    return true;
}

bool cd_default_local_socket(char *out, size_t cap, char *err, size_t errlen)
{
    char dir[3800];
    if (!cd_runtime_dir(dir, sizeof dir, err, errlen))
        return false;
    if ((size_t)snprintf(out, cap, "%s/local.sock", dir) >= cap) {
        snprintf(err, errlen, "the socket path is too long");
        return false;
    }
    return true;
}

bool cd_local_token_path(const char *addr, char *out, size_t cap, char *err, size_t errlen)
{
    char dir[3800], name[200];
    if (!cd_runtime_dir(dir, sizeof dir, err, errlen))
        return false;
    size_t i = 0;
    for (; addr[i] && i + 1 < sizeof name; i++)
        name[i] = isalnum((unsigned char)addr[i]) || addr[i] == '.' || addr[i] == '-'
                      ? addr[i] : '_';
    name[i] = 0;
    if ((size_t)snprintf(out, cap, "%s/api-%s.token", dir, name) >= cap) {
        snprintf(err, errlen, "the token path is too long");
        return false;
    }
    return true;
}

bool cd_env_is_secret(const char *e)
{
    static const char *const names[] = {CD_ENV_TOKEN "=", CD_ENV_ROUTER_TOKEN "=",
                                        CD_ENV_LOADTESTER_TOKEN "="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strncmp(e, names[i], strlen(names[i])))
            return true;
    return false;
}
