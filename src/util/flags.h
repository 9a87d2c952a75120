/* flags.h - the command-line parser of every canaryd process and canaryctl
 * command: a table of flags, each writing into the caller's variable, and
 * the usage text generated from that table (defaults included, taken from
 * the variables' values before parsing, so a default is written once).
 *
 * Syntax, the same everywhere: --name VALUE, --name=VALUE, and the Go
 * spelling -name VALUE / -name=VALUE (Flagger's flags keep working);
 * one-letter aliases -n VALUE, -n=VALUE, -nVALUE; booleans as --name or
 * --name=true|false; -h, --help; "--" ends the flags. Arguments that are
 * not flags may come anywhere and are handed back in order.
 *
 * Values are checked strictly: numbers must be whole (no trailing junk),
 * within the flag's range; durations are Go's (10s, 1m30s); enumerations
 * one of their choices. A bad value, an unknown flag or a missing value is
 * one line on err ("PROG: ...") and CD_FLAGS_USAGE (exit 2).
 *
 * Pure apart from reading the environment variables flags name as their
 * fallback. Must not depend on anything outside util/. */
#ifndef CD_FLAGS_H
#define CD_FLAGS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cd_flag_type {
    CD_FLAG_STRING,       /* const char **  */
    CD_FLAG_INT,          /* int *          (lo..hi) */
    CD_FLAG_I64,          /* int64_t *      (lo..hi) */
    CD_FLAG_U32,          /* uint32_t *     (lo..hi) */
    CD_FLAG_DOUBLE,       /* double *       (lo..hi, finite) */
    CD_FLAG_DURATION,     /* int64_t * milliseconds (lo..hi in ms) */
    CD_FLAG_BOOL,         /* bool * */
    CD_FLAG_ENUM,         /* const char ** set to the matching choice */
    CD_FLAG_LIST,         /* cd_flag_list *: repeatable, values appended */
    CD_FLAG_FUNC,         /* set(target, value, err, errlen) decides (after choices, if any) */
    CD_FLAG_IGNORED,      /* Flagger's, without effect here: takes a value, says so */
    CD_FLAG_IGNORED_BOOL, /* the same, for a boolean */
} cd_flag_type;

typedef struct cd_flag_list {
    const char **items;   /* storage of the caller, cap entries */
    int n, cap;
} cd_flag_list;

typedef bool (*cd_flag_setter)(void *target, const char *value, char *err, size_t errlen);

typedef struct cd_flag {
    const char *name;           /* long name without dashes: "log-format" */
    char alias;                 /* one-letter alias ('n' for -n), 0 none */
    cd_flag_type type;
    void *target;
    const char *arg;            /* the value's name in the usage: "ADDR" (a default per type) */
    const char *help;           /* NULL: accepted but not listed */
    double lo, hi;              /* numbers and durations: the accepted range */
    const char *const *choices; /* CD_FLAG_ENUM: NULL-terminated */
    cd_flag_setter set;         /* CD_FLAG_FUNC */
    const char *env;            /* read when the flag is not given ("CANARYD_API") */
    const char *def;            /* the default as shown, when not the variable's value */
    bool *given;                /* set to true when the flag (or its env) was given */
} cd_flag;

typedef struct cd_flag_env_doc {
    const char *name, *help;    /* an environment variable read other than as a flag's fallback */
} cd_flag_env_doc;

typedef struct cd_flag_cmd {
    const char *prog;           /* "canaryd router", "canaryctl get": prefixes every error */
    const char *synopsis;       /* after "Usage: PROG ": "[flags]", "NAME [flags]" */
    const char *about;          /* paragraph(s) after the usage line, or NULL */
    const char *footer;         /* after the flags: exit status, see-also, or NULL */
    bool go_style;              /* list flags as -name (Flagger's processes) rather than --name */
    const cd_flag *flags;
    size_t nflags;
    const cd_flag_env_doc *env; /* NULL-name terminated, or NULL */
    const char *version;        /* answer -version / --version with this, or NULL */
    int min_args, max_args;     /* positional arguments accepted (max -1: any) */
} cd_flag_cmd;

enum { CD_FLAGS_OK = 0, CD_FLAGS_DONE = 1, CD_FLAGS_USAGE = 2 };

/* Parses argv[1..argc) (argv[0] is the command's name). On CD_FLAGS_OK the
 * positional arguments are moved to argv[1..1+*nargs) in order. CD_FLAGS_DONE:
 * help or version was printed on out (exit 0). CD_FLAGS_USAGE: explained on
 * err (exit 2). nargs may be NULL when max_args is 0. */
int cd_flags_parse(const cd_flag_cmd *cmd, int argc, char **argv, int *nargs, FILE *out,
                   FILE *err);

/* The exit status for a result of cd_flags_parse other than CD_FLAGS_OK. */
static inline int cd_flags_exit(int rc) { return rc == CD_FLAGS_DONE ? 0 : 2; }

/* The usage text, with the defaults as the variables hold them now. */
void cd_flags_usage(const cd_flag_cmd *cmd, FILE *out);

/* A usage error found after parsing: "PROG: MESSAGE (see PROG --help)" on
 * err. Returns CD_FLAGS_USAGE. */
int cd_flags_fail(const cd_flag_cmd *cmd, FILE *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shared choices and helpers for the logging flags every process has. */
extern const char *const cd_flag_log_levels[];    /* debug info warn warning error fatal panic */
extern const char *const cd_flag_log_formats[];   /* json text */
extern const char *const cd_flag_zap_encodings[]; /* json console (Flagger's -zap-encoding) */

/* A CD_FLAG_FUNC setter for a bool "logs are JSON": true for "json", false
 * for anything else the flag's choices allow ("text", "console"). */
bool cd_flag_set_log_json(void *target, const char *value, char *err, size_t errlen);

/* Table-entry helpers: designated initialisers keep tables readable. */
#define CD_FLAG_STR(n, a, t, argname, h) \
    {.name = (n), .alias = (a), .type = CD_FLAG_STRING, .target = (t), .arg = (argname), .help = (h)}
#define CD_FLAG_NUM(n, t, argname, l, hh, h) \
    {.name = (n), .type = CD_FLAG_INT, .target = (t), .arg = (argname), .lo = (l), .hi = (hh), .help = (h)}
#define CD_FLAG_DUR(n, t, l, hh, h) \
    {.name = (n), .type = CD_FLAG_DURATION, .target = (t), .lo = (l), .hi = (hh), .help = (h)}
#define CD_FLAG_SWITCH(n, a, t, h) \
    {.name = (n), .alias = (a), .type = CD_FLAG_BOOL, .target = (t), .help = (h)}
#define CD_FLAG_CHOICE(n, a, t, c, h) \
    {.name = (n), .alias = (a), .type = CD_FLAG_ENUM, .target = (t), .choices = (c), .help = (h)}

#endif
