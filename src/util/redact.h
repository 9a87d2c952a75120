/* redact.h - the one place that decides what of a URL, a header or a free
 * text is a secret, for everything canaryd prints: log lines, errors,
 * events, status, canaryctl output, metrics. Secrets are replaced by
 * "REDACTED"; what stays is what a user needs to see which endpoint
 * failed. Pure string functions: no I/O, no allocation except the _dup
 * variant; output is always NUL-terminated and truncated to fit.
 * Must never return more of its input than the rules below keep. */
#ifndef CD_UTIL_REDACT_H
#define CD_UTIL_REDACT_H
#include <stdbool.h>
#include <stddef.h>

#define CD_REDACTED "REDACTED"

/* The URL's whole path is a secret (alert provider and webhook
 * addresses, whose paths carry their token): keep scheme://host:port. */
#define CD_REDACT_PATH 1u

/* url with its secrets replaced:
 *   - userinfo (user and password): https://REDACTED@host/
 *   - every query value (keys stay) and the fragment;
 *   - on the webhook hosts of Slack, Discord, Microsoft Teams / Power
 *     Automate and Google Chat, every path segment but the fixed words
 *     of their URL schemes (services, api, webhooks, v1, spaces, ...);
 *   - on any host, every segment after a "hooks", "hook", "webhook",
 *     "webhooks" or "webhookb2" segment (Rocket.Chat and the like);
 *   - any path segment that looks like a token (16 characters or more
 *     mixing upper case, lower case and digits; a UUID or 32+ hex
 *     digits; a JWT);
 *   - with CD_REDACT_PATH, the whole path.
 * Text that is not an absolute URL is redacted the same way, read as
 * host/path?query when it has no scheme. */
void cd_redact_url(const char *url, unsigned flags, char *out, size_t n);
/* The same, malloc'd (NULL only when url is NULL or memory is out). */
char *cd_redact_url_dup(const char *url, unsigned flags);

/* Whether a header (or query parameter, or name=value word) called
 * name[0..len) carries a credential: Authorization, Proxy-Authorization,
 * Cookie, Set-Cookie, and any name with "token", "secret", "passw",
 * "key", "auth", "session", "signature", "credential" or "sig" as a
 * word (X-API-Key, DD-APPLICATION-KEY, X-Vault-Token, api_key, sig). */
bool cd_redact_name_secret(const char *name, size_t len);

/* Free text (an error message, a response excerpt, a command line)
 * with: every http:// or https:// URL in it redacted as cd_redact_url
 * does (with flags); the value after a secret header name and a colon
 * ("Authorization: Bearer x", "X-API-Key: x") up to the end of the line
 * or a quote; the word after "Bearer", "Basic", "Token" or "Api-Token";
 * the value of name=value words with a secret name (token=x,
 * password=x); and, when url is not NULL, every piece of url that
 * cd_redact_url would hide (its password, query values, secret path
 * segments), wherever it appears. */
void cd_redact_text(const char *text, const char *url, unsigned flags, char *out, size_t n);

#endif
