/* log.h - canaryd's logger: one line per record on stderr, JSON with
 * Flagger's keys (ts, level, logger, caller, msg, canary) or plain text.
 * Thread-safe (one write per line). Must never allocate unboundedly or
 * block on anything but stderr. Every message goes through
 * cd_redact_text (util/redact.h) on its way out. */
#ifndef CD_LOG_H
#define CD_LOG_H
#include <stdbool.h>

typedef enum { CD_LOG_DEBUG, CD_LOG_INFO, CD_LOG_WARN, CD_LOG_ERROR, CD_LOG_OFF } cd_log_level;

void cd_log_set_level(cd_log_level l);
cd_log_level cd_log_get_level(void);
/* "debug", "info", "warn" (or "warning"), "error" ("fatal", "panic");
 * anything else -> info, as Flagger. */
cd_log_level cd_log_parse_level(const char *s);
void cd_log_set_json(bool json);
void cd_log_set_logger(const char *name);   /* "logger" key, default "canaryd" */

/* canary may be NULL; it is added as "canary":"<name.namespace>". */
void cd_logf(cd_log_level l, const char *canary, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cd_debug(...) cd_logf(CD_LOG_DEBUG, NULL, __VA_ARGS__)
#define cd_info(...)  cd_logf(CD_LOG_INFO, NULL, __VA_ARGS__)
#define cd_warn(...)  cd_logf(CD_LOG_WARN, NULL, __VA_ARGS__)
#define cd_error(...) cd_logf(CD_LOG_ERROR, NULL, __VA_ARGS__)

#endif
