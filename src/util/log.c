/* log.c - see log.h. */
#include "util/log.h"
#include "util/redact.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int g_level = CD_LOG_INFO;
static _Atomic bool g_json = true;
static const char *g_logger = "canaryd";

void cd_log_set_level(cd_log_level l) { g_level = l; }
cd_log_level cd_log_get_level(void) { return (cd_log_level)g_level; }
void cd_log_set_json(bool json) { g_json = json; }
void cd_log_set_logger(const char *name) { g_logger = name; }

cd_log_level cd_log_parse_level(const char *s)
{
    if (!s)
        return CD_LOG_INFO;
    if (!strcmp(s, "debug"))
        return CD_LOG_DEBUG;
    if (!strcmp(s, "warn") || !strcmp(s, "warning"))
        return CD_LOG_WARN;
    if (!strcmp(s, "error") || !strcmp(s, "fatal") || !strcmp(s, "panic"))
        return CD_LOG_ERROR;
    return CD_LOG_INFO;
}

static const char *level_name(cd_log_level l)
{
    switch (l) {
    case CD_LOG_DEBUG: return "debug";
    case CD_LOG_INFO: return "info";
    case CD_LOG_WARN: return "warn";
    default: return "error";
    }
}

static void json_escape(cd_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': cd_buf_puts(b, "\\\""); break;
        case '\\': cd_buf_puts(b, "\\\\"); break;
        case '\n': cd_buf_puts(b, "\\n"); break;
        case '\r': cd_buf_puts(b, "\\r"); break;
        case '\t': cd_buf_puts(b, "\\t"); break;
        default:
            if (c < 0x20)
                cd_buf_printf(b, "\\u%04x", c);
            else
                cd_buf_putc(b, (char)c);
        }
    }
}

void cd_logf(cd_log_level l, const char *canary, const char *fmt, ...)
{
    if ((int)l < g_level)
        return;
    char raw[2048], msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* the last line of defence: callers redact what only they know is
     * secret (a webhook's path), this catches credentials in URLs and
     * headers whoever prints them */
    cd_redact_text(raw, NULL, 0, msg, sizeof msg);
    char ts[32];
    cd_rfc3339_ms(cd_wall_ms(), ts);
    cd_buf b = CD_BUF_INIT;
    if (g_json) {
        cd_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"logger\":\"%s\",\"msg\":\"",
                      ts, level_name(l), g_logger);
        json_escape(&b, msg);
        cd_buf_putc(&b, '"');
        if (canary) {
            cd_buf_puts(&b, ",\"canary\":\"");
            json_escape(&b, canary);
            cd_buf_putc(&b, '"');
        }
        cd_buf_puts(&b, "}\n");
    } else {
        cd_buf_printf(&b, "%s %-5s %s%s%s%s\n", ts, level_name(l),
                      canary ? "[" : "", canary ? canary : "", canary ? "] " : "", msg);
    }
    ssize_t off = 0;
    while ((size_t)off < b.len) {
        ssize_t n = write(STDERR_FILENO, b.data + off, b.len - (size_t)off);
        if (n <= 0)
            break;
        off += n;
    }
    cd_buf_free(&b);
}
