/* flags.c - the table-driven command-line parser and usage generator; see
 * flags.h. Three steps: a dry pass that only looks for -h / --version
 * (so the usage shows the defaults, not values given before -h), the
 * environment fallbacks, then the arguments themselves. */
#include "util/flags.h"
#include "util/duration.h"
#include "util/suggest.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const cd_flag_log_levels[] = {"debug", "info", "warn", "warning", "error",
                                          "fatal", "panic", NULL};
const char *const cd_flag_log_formats[] = {"json", "text", NULL};
const char *const cd_flag_zap_encodings[] = {"json", "console", NULL};

#define WIDTH 79

/* ---- lookup ---- */

static const cd_flag *find_long(const cd_flag_cmd *cmd, const char *name, size_t len)
{
    for (size_t i = 0; i < cmd->nflags; i++)
        if (strlen(cmd->flags[i].name) == len && !memcmp(cmd->flags[i].name, name, len))
            return &cmd->flags[i];
    return NULL;
}

static const cd_flag *find_alias(const cd_flag_cmd *cmd, char c)
{
    for (size_t i = 0; i < cmd->nflags; i++)
        if (cmd->flags[i].alias && cmd->flags[i].alias == c)
            return &cmd->flags[i];
    return NULL;
}

static bool takes_value(const cd_flag *f)
{
    return f->type != CD_FLAG_BOOL && f->type != CD_FLAG_IGNORED_BOOL;
}

static const char *dash(const cd_flag_cmd *cmd) { return cmd->go_style ? "-" : "--"; }
static const char *help_flag(const cd_flag_cmd *cmd) { return cmd->go_style ? "-h" : "--help"; }

/* ---- errors ---- */

static int vfail(const cd_flag_cmd *cmd, FILE *err, bool hint, const char *fmt, va_list ap)
{
    fprintf(err, "%s: ", cmd->prog);
    vfprintf(err, fmt, ap);
    if (hint)
        fprintf(err, " (see %s %s)", cmd->prog, help_flag(cmd));
    fputc('\n', err);
    return CD_FLAGS_USAGE;
}

static int fail(const cd_flag_cmd *cmd, FILE *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const cd_flag_cmd *cmd, FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(cmd, err, false, fmt, ap);
    va_end(ap);
    return CD_FLAGS_USAGE;
}

int cd_flags_fail(const cd_flag_cmd *cmd, FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(cmd, err, true, fmt, ap);
    va_end(ap);
    return CD_FLAGS_USAGE;
}

/* "json or text", "a, b or c" */
static void choices_text(const char *const *c, char *out, size_t n)
{
    size_t k = 0, o = 0;
    while (c[k])
        k++;
    out[0] = '\0';
    for (size_t i = 0; i < k && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s", i == 0 ? "" : i + 1 == k ? " or " : ", ",
                              c[i]);
}

static void range_text(const cd_flag *f, char *out, size_t n)
{
    char a[32], b[32];
    if (f->type == CD_FLAG_DURATION)
        snprintf(out, n, "from %s to %s", cd_duration_format_ms((int64_t)f->lo, a, sizeof a),
                 cd_duration_format_ms((int64_t)f->hi, b, sizeof b));
    else
        snprintf(out, n, "from %.15g to %.15g", f->lo, f->hi);
}

/* ---- values ---- */

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True", NULL};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False", NULL};
    for (size_t i = 0; yes[i]; i++) {
        if (!strcmp(s, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcmp(s, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_whole(const char *s, double lo, double hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (!*s || *end || errno || (double)n < lo || (double)n > hi)
        return false;
    *out = n;
    return true;
}

static const char *choice(const cd_flag *f, const char *v)
{
    for (size_t i = 0; f->choices[i]; i++)
        if (!strcmp(f->choices[i], v))
            return f->choices[i];
    return NULL;
}

bool cd_flag_set_log_json(void *target, const char *v, char *err, size_t errlen)
{
    *(bool *)target = !strcmp(v, "json");
    return true;
}

/* who: how the user spelled the flag ("--workers", "-n", "$CANARYD_API") */
static int set_value(const cd_flag_cmd *cmd, const cd_flag *f, const char *who, const char *v,
                     FILE *err)
{
    char range[96], why[256] = "";
    const char *who_value = v;
    long long n;
    switch (f->type) {
    case CD_FLAG_STRING:
        *(const char **)f->target = v;
        break;
    case CD_FLAG_INT:
    case CD_FLAG_I64:
    case CD_FLAG_U32:
        if (!parse_whole(v, f->lo, f->hi, &n)) {
            range_text(f, range, sizeof range);
            return fail(cmd, err, "invalid value \"%s\" for %s: expected a whole number %s", v,
                        who, range);
        }
        if (f->type == CD_FLAG_INT)
            *(int *)f->target = (int)n;
        else if (f->type == CD_FLAG_I64)
            *(int64_t *)f->target = n;
        else
            *(uint32_t *)f->target = (uint32_t)n;
        break;
    case CD_FLAG_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(d) || d < f->lo || d > f->hi) {
            range_text(f, range, sizeof range);
            return fail(cmd, err, "invalid value \"%s\" for %s: expected a number %s", v, who,
                        range);
        }
        *(double *)f->target = d;
        break;
    }
    case CD_FLAG_DURATION: {
        int64_t ms;
        bool ok = cd_duration_parse_ms(v, &ms);
        if (!ok || (double)ms < f->lo || (double)ms > f->hi) {
            range_text(f, range, sizeof range);
            return fail(cmd, err, "invalid duration \"%s\" for %s: expected %s%s", v, who,
                        ok ? "" : "a duration such as 500ms, 10s or 1m30s, ", range);
        }
        *(int64_t *)f->target = ms;
        break;
    }
    case CD_FLAG_BOOL:
        if (!parse_bool(v, (bool *)f->target))
            return fail(cmd, err, "invalid value \"%s\" for %s: expected true or false", v, who);
        break;
    case CD_FLAG_ENUM:
        if (!(v = choice(f, v))) {
            choices_text(f->choices, why, sizeof why);
            return fail(cmd, err, "invalid value \"%s\" for %s: expected %s", who_value, who, why);
        }
        *(const char **)f->target = v;
        break;
    case CD_FLAG_LIST: {
        cd_flag_list *l = f->target;
        if (l->n >= l->cap)
            return fail(cmd, err, "%s is given more than %d times", who, l->cap);
        l->items[l->n++] = v;
        break;
    }
    case CD_FLAG_FUNC:
        if (f->choices && !choice(f, v)) {
            choices_text(f->choices, why, sizeof why);
            return fail(cmd, err, "invalid value \"%s\" for %s: expected %s", v, who, why);
        }
        if (!f->set(f->target, v, why, sizeof why))
            return fail(cmd, err, "invalid value \"%s\" for %s: %s", v, who, why);
        break;
    case CD_FLAG_IGNORED:
    case CD_FLAG_IGNORED_BOOL:
        fprintf(err, "%s: %s has no effect in canaryd (accepted for Flagger compatibility)\n",
                cmd->prog, who);
        break;
    }
    if (f->given)
        *f->given = true;
    return CD_FLAGS_OK;
}

static int apply_env(const cd_flag_cmd *cmd, FILE *err)
{
    for (size_t i = 0; i < cmd->nflags; i++) {
        const cd_flag *f = &cmd->flags[i];
        const char *v = f->env ? getenv(f->env) : NULL;
        if (!v || !*v)
            continue;
        char who[80];
        snprintf(who, sizeof who, "$%s", f->env);
        if (set_value(cmd, f, who, v, err) != CD_FLAGS_OK)
            return CD_FLAGS_USAGE;
    }
    return CD_FLAGS_OK;
}

/* ---- one argument ---- */

typedef struct token {
    const cd_flag *flag;   /* NULL: help or version (see what) */
    enum { T_FLAG, T_HELP, T_VERSION, T_UNKNOWN } what;
    const char *value;     /* attached value (=VALUE or -nVALUE), or NULL */
    char who[72];          /* the flag as typed, without any value */
} token;

static bool is_help(const cd_flag_cmd *cmd, const char *name, size_t len)
{
    return ((len == 1 && name[0] == 'h') || (len == 4 && !memcmp(name, "help", 4))) &&
           !find_long(cmd, name, len) && !(len == 1 && find_alias(cmd, 'h'));
}

/* a: an argument starting with '-' and longer than "-", not "--" */
static void classify(const cd_flag_cmd *cmd, const char *a, token *t)
{
    memset(t, 0, sizeof *t);
    int dashes = a[1] == '-' ? 2 : 1;
    const char *body = a + dashes;
    const char *eq = strchr(body, '=');
    size_t len = eq ? (size_t)(eq - body) : strlen(body);
    snprintf(t->who, sizeof t->who, "%.*s", (int)(dashes + (len > 64 ? 64 : len)), a);
    t->value = eq ? eq + 1 : NULL;
    if (is_help(cmd, body, len)) {
        t->what = T_HELP;
    } else if (cmd->version && len == 7 && !memcmp(body, "version", 7) &&
               !find_long(cmd, body, len)) {
        t->what = T_VERSION;
    } else if (dashes == 1 && len == 1 && (t->flag = find_alias(cmd, body[0]))) {
        t->what = T_FLAG;
    } else if ((t->flag = find_long(cmd, body, len))) {
        t->what = T_FLAG;
    } else if (dashes == 1 && (t->flag = find_alias(cmd, body[0])) && takes_value(t->flag)) {
        /* -ojson, -nprod: a one-letter flag with its value attached */
        t->what = T_FLAG;
        t->value = body + 1;
        snprintf(t->who, sizeof t->who, "-%c", body[0]);
    } else {
        t->flag = NULL;
        t->what = T_UNKNOWN;
    }
}

static int unknown(const cd_flag_cmd *cmd, const char *who, FILE *err)
{
    const char *name = who + strspn(who, "-");
    cd_suggest s;
    cd_suggest_init(&s, name);
    for (size_t i = 0; i < cmd->nflags; i++)
        if (cmd->flags[i].help)
            cd_suggest_offer(&s, cmd->flags[i].name);
    if (s.best)
        return fail(cmd, err, "unknown flag \"%s\": did you mean %s%s? (see %s %s)", who,
                    dash(cmd), s.best, cmd->prog, help_flag(cmd));
    return fail(cmd, err, "unknown flag \"%s\" (see %s %s)", who, cmd->prog, help_flag(cmd));
}

/* The dry pass: is help or the version asked for? */
static int wants_help(const cd_flag_cmd *cmd, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return 0;
        if (a[0] != '-' || !a[1])
            continue;
        token t;
        classify(cmd, a, &t);
        if (t.what == T_HELP || t.what == T_VERSION)
            return t.what;
        if (t.what == T_FLAG && takes_value(t.flag) && !t.value)
            i++;   /* skip its value: "-d -h" sends the body "-h" */
    }
    return 0;
}

int cd_flags_parse(const cd_flag_cmd *cmd, int argc, char **argv, int *nargs, FILE *out,
                   FILE *err)
{
    int help = wants_help(cmd, argc, argv);
    if (help == T_HELP) {
        cd_flags_usage(cmd, out);
        return CD_FLAGS_DONE;
    }
    if (help == T_VERSION) {
        fprintf(out, "%s\n", cmd->version);
        return CD_FLAGS_DONE;
    }
    if (apply_env(cmd, err) != CD_FLAGS_OK)
        return CD_FLAGS_USAGE;
    int npos = 0;
    bool flags_done = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!flags_done && !strcmp(a, "--")) {
            flags_done = true;
            continue;
        }
        if (flags_done || a[0] != '-' || !a[1]) {
            argv[1 + npos++] = a;   /* never overtakes i: compacting in place is safe */
            continue;
        }
        token t;
        classify(cmd, a, &t);
        if (t.what == T_UNKNOWN)
            return unknown(cmd, t.who, err);
        const char *v = t.value;
        if (!v && !takes_value(t.flag))
            v = "true";
        if (!v) {
            if (i + 1 >= argc)
                return fail(cmd, err, "flag needs an argument: %s", t.who);
            v = argv[++i];
        }
        if (set_value(cmd, t.flag, t.who, v, err) != CD_FLAGS_OK)
            return CD_FLAGS_USAGE;
    }
    if (npos < cmd->min_args)
        return cd_flags_fail(cmd, err, "missing argument: usage: %s %s", cmd->prog,
                             cmd->synopsis ? cmd->synopsis : "");
    if (cmd->max_args >= 0 && npos > cmd->max_args)
        return cd_flags_fail(cmd, err, "unexpected argument \"%s\"", argv[1 + cmd->max_args]);
    if (nargs)
        *nargs = npos;
    return CD_FLAGS_OK;
}

/* ---- usage ---- */

/* "N", "DURATION", or an enumeration's choices "json|text" when short */
static const char *arg_name(const cd_flag *f, char *buf, size_t n)
{
    if (f->arg)
        return f->arg;
    if (f->choices) {
        size_t o = 0;
        for (size_t i = 0; f->choices[i] && o < n; i++)
            o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? "|" : "", f->choices[i]);
        return o < 24 ? buf : "VALUE";
    }
    switch (f->type) {
    case CD_FLAG_INT:
    case CD_FLAG_I64:
    case CD_FLAG_U32: return "N";
    case CD_FLAG_DOUBLE: return "NUMBER";
    case CD_FLAG_DURATION: return "DURATION";
    case CD_FLAG_BOOL:
    case CD_FLAG_IGNORED_BOOL: return "";
    default: return "STRING";
    }
}

static void default_text(const cd_flag *f, char *out, size_t n)
{
    out[0] = '\0';
    if (f->def) {
        snprintf(out, n, "%s", f->def);
        return;
    }
    char d[32];
    switch (f->type) {
    case CD_FLAG_STRING:
    case CD_FLAG_ENUM: {
        const char *s = *(const char *const *)f->target;
        if (s && *s)
            snprintf(out, n, "%s", s);
        break;
    }
    case CD_FLAG_INT: snprintf(out, n, "%d", *(int *)f->target); break;
    case CD_FLAG_I64: snprintf(out, n, "%lld", (long long)*(int64_t *)f->target); break;
    case CD_FLAG_U32: snprintf(out, n, "%u", *(uint32_t *)f->target); break;
    case CD_FLAG_DOUBLE: snprintf(out, n, "%g", *(double *)f->target); break;
    case CD_FLAG_DURATION:
        snprintf(out, n, "%s", cd_duration_format_ms(*(int64_t *)f->target, d, sizeof d));
        break;
    case CD_FLAG_BOOL:
        if (*(bool *)f->target)
            snprintf(out, n, "true");
        break;
    default: break;
    }
}

/* Writes text from column `col` (already reached) wrapped at WIDTH, later
 * lines indented to `indent`. A single newline is a space (the text is
 * reflowed); a blank line separates paragraphs. */
static void wrap(FILE *out, const char *text, int col, int indent)
{
    const char *p = text;
    while (*p) {
        if (*p == '\n' && p[1] == '\n') {
            fprintf(out, "\n\n%*s", indent, "");
            col = indent;
            p += 2;
            continue;
        }
        if (*p == '\n' || *p == ' ') {
            p++;
            continue;
        }
        size_t w = strcspn(p, " \n");
        if (col > indent && col + 1 + (int)w > WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += (int)w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void left_text(const cd_flag_cmd *cmd, const cd_flag *f, bool any_alias, char *out,
                      size_t n)
{
    char buf[64];
    const char *arg = arg_name(f, buf, sizeof buf);
    const char *sep = *arg ? " " : "";
    if (f->alias)
        snprintf(out, n, "-%c, %s%s%s%s", f->alias, dash(cmd), f->name, sep, arg);
    else
        snprintf(out, n, "%s%s%s%s%s", any_alias ? "    " : "", dash(cmd), f->name, sep, arg);
}

void cd_flags_usage(const cd_flag_cmd *cmd, FILE *out)
{
    fprintf(out, "Usage: %s %s\n", cmd->prog, cmd->synopsis ? cmd->synopsis : "[flags]");
    if (cmd->about) {
        fputc('\n', out);
        wrap(out, cmd->about, 0, 0);
    }
    bool any_alias = false;
    int col = 0;
    char left[160];
    for (size_t i = 0; i < cmd->nflags; i++)
        any_alias = any_alias || (cmd->flags[i].help && cmd->flags[i].alias);
    for (size_t i = 0; i < cmd->nflags; i++) {
        if (!cmd->flags[i].help)
            continue;
        left_text(cmd, &cmd->flags[i], any_alias, left, sizeof left);
        int w = (int)strlen(left);
        if (w > col && w <= 30)
            col = w;
    }
    col += 4;   /* two of margin, two before the help */
    fprintf(out, "\nFlags:\n");
    for (size_t i = 0; i < cmd->nflags; i++) {
        const cd_flag *f = &cmd->flags[i];
        if (!f->help)
            continue;
        left_text(cmd, f, any_alias, left, sizeof left);
        char text[1024], def[128];
        default_text(f, def, sizeof def);
        int o = snprintf(text, sizeof text, "%s", f->help);
        char ab[64];
        const char *shown = arg_name(f, ab, sizeof ab);
        if (f->choices && shown != ab) {   /* the choices are not in the argument's name */
            char c[128];
            choices_text(f->choices, c, sizeof c);
            o += snprintf(text + o, sizeof text - (size_t)o, ": %s", c);
        }
        if (*def && o < (int)sizeof text)
            o += snprintf(text + o, sizeof text - (size_t)o, " (default %s)", def);
        if (f->env && o < (int)sizeof text)
            snprintf(text + o, sizeof text - (size_t)o, " [$%s]", f->env);
        fprintf(out, "  %s", left);
        int at = 2 + (int)strlen(left);
        if (at + 2 > col) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else {
            fprintf(out, "%*s", col - at, "");
            at = col;
        }
        wrap(out, text, at, col);
    }
    const char *h = any_alias ? "-h, " : "";
    snprintf(left, sizeof left, "%s%shelp", h, dash(cmd));
    fprintf(out, "  %-*s%s\n", col - 2, left, "this help");
    if (cmd->version) {
        snprintf(left, sizeof left, "%s%sversion", any_alias ? "    " : "", dash(cmd));
        fprintf(out, "  %-*s%s\n", col - 2, left, "print the version and exit");
    }
    bool env_header = false;
    size_t ew = 0;
    for (size_t i = 0; i < cmd->nflags; i++)
        if (cmd->flags[i].env && strlen(cmd->flags[i].env) > ew)
            ew = strlen(cmd->flags[i].env);
    for (const cd_flag_env_doc *e = cmd->env; e && e->name; e++)
        if (strlen(e->name) > ew)
            ew = strlen(e->name);
    for (size_t i = 0; i < cmd->nflags; i++) {
        const cd_flag *f = &cmd->flags[i];
        if (!f->env || !f->help)
            continue;
        if (!env_header)
            fprintf(out, "\nEnvironment:\n");
        env_header = true;
        char text[256];
        snprintf(text, sizeof text, "the default of %s%s", dash(cmd), f->name);
        fprintf(out, "  %-*s  ", (int)ew, f->env);
        wrap(out, text, 4 + (int)ew, 4 + (int)ew);
    }
    for (const cd_flag_env_doc *e = cmd->env; e && e->name; e++) {
        if (!env_header)
            fprintf(out, "\nEnvironment:\n");
        env_header = true;
        fprintf(out, "  %-*s  ", (int)ew, e->name);
        wrap(out, e->help, 4 + (int)ew, 4 + (int)ew);
    }
    if (cmd->footer) {
        fputc('\n', out);
        wrap(out, cmd->footer, 0, 0);
    }
}
