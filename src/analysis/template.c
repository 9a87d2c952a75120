/* template.c - renders the Go text/template subset described in
 * template.h. One pass: text is copied, each action is lexed into tokens
 * and evaluated at once (there are no control structures). Must never read
 * past the template, recurse without bound or grow output past
 * CD_TEMPLATE_MAX_OUTPUT. */
#include "analysis/template.h"
#include "util/gofmt.h"
#include "net/url.h"
#include "util/buf.h"
#include "util/errfmt.h"
#include "util/grow.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ------------------------------------------------------------ */

typedef enum { V_NIL, V_STR, V_INT, V_FLOAT, V_BOOL, V_MAP } vkind;

typedef struct val {
    vkind k;
    char *s;                    /* V_STR, owned */
    int64_t i;
    double f;
    bool b;
    const cd_strmap *map;       /* V_MAP, borrowed */
} val;

static val v_nil(void) { val v = {V_NIL, NULL, 0, 0, false, NULL}; return v; }
static val v_str(const char *s)
{
    val v = v_nil();
    v.k = V_STR;
    v.s = strdup(s ? s : "");
    if (!v.s)
        abort();
    return v;
}
static val v_strn(const char *s, size_t n)
{
    val v = v_nil();
    v.k = V_STR;
    v.s = malloc(n + 1);
    if (!v.s)
        abort();
    memcpy(v.s, s, n);
    v.s[n] = '\0';
    return v;
}
static void v_free(val *v)
{
    if (v->k == V_STR)
        free(v->s);
    *v = v_nil();
}
static val v_copy(const val *v)
{
    return v->k == V_STR ? v_str(v->s) : *v;
}

static const char *kind_name(vkind k)
{
    switch (k) {
    case V_STR: return "string";
    case V_INT: return "int";
    case V_FLOAT: return "float64";
    case V_BOOL: return "bool";
    case V_MAP: return "map[string]string";
    default: return "<nil>";
    }
}

static void put_float(cd_buf *b, double f)
{
    char tmp[64];
    cd_buf_puts(b, cd_go_float(f, tmp, sizeof tmp));
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const cd_kv *)a)->key, ((const cd_kv *)b)->key);
}

static void put_value(cd_buf *b, const val *v)
{
    switch (v->k) {
    case V_STR: cd_buf_puts(b, v->s); break;
    case V_INT: cd_buf_printf(b, "%" PRId64, v->i); break;
    case V_FLOAT: put_float(b, v->f); break;
    case V_BOOL: cd_buf_puts(b, v->b ? "true" : "false"); break;
    case V_MAP: {
        size_t n = v->map ? v->map->n : 0;
        cd_kv *sorted = n ? malloc(n * sizeof *sorted) : NULL;
        if (n && !sorted)
            abort();
        if (n)
            memcpy(sorted, v->map->items, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_kv);
        cd_buf_puts(b, "map[");
        for (size_t i = 0; i < n; i++)
            cd_buf_printf(b, "%s%s:%s", i ? " " : "", sorted[i].key, sorted[i].value);
        cd_buf_putc(b, ']');
        free(sorted);
        break;
    }
    default: cd_buf_puts(b, "<no value>"); break;
    }
}

/* ---- tokens ------------------------------------------------------------ */

typedef enum {
    T_IDENT, T_FIELD, T_DOT, T_VAR, T_STRING, T_RAW, T_CHAR, T_NUMBER, T_DECLARE,
    T_ASSIGN, T_PIPE, T_LPAREN, T_RPAREN, T_END
} ttype;

typedef struct tok {
    ttype t;
    const char *s;      /* points into the template */
    size_t n;
    bool adjacent;      /* starts where the previous token ended */
} tok;

typedef struct rvar { char *name; val v; } rvar;

typedef struct render {
    const char *src;
    const cd_template_model *m;
    cd_buf out;
    rvar *vars;
    size_t nvars, capvars;
    cd_err *err;
    bool failed;
    tok *toks;
    size_t ntoks, captoks, pos;
    int depth;
} render;

static void pos_of(const render *r, const char *p, int *line, int *col)
{
    int l = 1, c = 1;
    for (const char *q = r->src; q < p && *q; q++) {
        if (*q == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static void fail_at(render *r, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_at(render *r, int line, int col, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cd_errfmt(r->err, "template: tmpl:%d:%d: %s", line, col, msg);
}

static void fail_tok(render *r, const tok *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_tok(render *r, const tok *t, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;      /* computed on errors only: tokens carry no position */
    pos_of(r, t->s, &line, &col);
    fail_at(r, line, col, "%s", msg);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_alnum_(char c) { return isalnum((unsigned char)c) || c == '_'; }

static void push_tok(render *r, ttype t, const char *s, size_t n, const char *prev_end)
{
    CD_GROW(r->toks, r->captoks, r->ntoks + 1, 16);
    tok *k = &r->toks[r->ntoks++];
    k->t = t;
    k->s = s;
    k->n = n;
    k->adjacent = prev_end == s;
}

/* Scans a quoted literal starting at p (the quote); returns its end or NULL. */
static const char *scan_quoted(const char *p, char q)
{
    for (p++; *p; p++) {
        if (*p == '\\' && q != '`') {
            if (!p[1])
                return NULL;
            p++;
            continue;
        }
        if (*p == '\n' && q != '`')
            return NULL;
        if (*p == q)
            return p + 1;
    }
    return NULL;
}

/* Lexes one action starting after "{{" (and a left trim marker). Sets
 * *end to just past "}}" and *rtrim when it closed with " -}}". */
static bool lex_action(render *r, const char *p, const char **end, bool *rtrim)
{
    r->ntoks = 0;
    r->pos = 0;
    const char *prev_end = NULL;
    for (;;) {
        bool spaced = false;
        while (is_space(*p)) {
            p++;
            spaced = true;
        }
        if (!*p) {
            int l, c;
            pos_of(r, p, &l, &c);
            fail_at(r, l, c, "unclosed action");
            return false;
        }
        if (p[0] == '-' && p[1] == '}' && p[2] == '}' && spaced) {
            *rtrim = true;
            *end = p + 3;
            return true;
        }
        if (p[0] == '}' && p[1] == '}') {
            *rtrim = false;
            *end = p + 2;
            return true;
        }
        const char *s = p;
        char c = *p;
        if (c == '"' || c == '`' || c == '\'') {
            const char *e = scan_quoted(p, c);
            if (!e) {
                int l, cc;
                pos_of(r, p, &l, &cc);
                fail_at(r, l, cc, "unterminated %s", c == '\'' ? "character constant"
                                                                : "quoted string");
                return false;
            }
            push_tok(r, c == '"' ? T_STRING : c == '`' ? T_RAW : T_CHAR, s, (size_t)(e - s),
                     prev_end);
            p = e;
        } else if (c == '$') {
            p++;
            while (is_alnum_(*p))
                p++;
            push_tok(r, T_VAR, s, (size_t)(p - s), prev_end);
        } else if (c == '.' && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
            p++;
            while (is_alnum_(*p))
                p++;
            push_tok(r, T_FIELD, s, (size_t)(p - s), prev_end);
        } else if (c == '.' && !isdigit((unsigned char)p[1])) {
            p++;
            push_tok(r, T_DOT, s, 1, prev_end);
        } else if (isdigit((unsigned char)c) || c == '.' ||
                   ((c == '-' || c == '+') && (isdigit((unsigned char)p[1]) || p[1] == '.'))) {
            p++;
            while (isalnum((unsigned char)*p) || *p == '.' || *p == '_' ||
                   ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E' ||
                                                 p[-1] == 'p' || p[-1] == 'P')))
                p++;
            push_tok(r, T_NUMBER, s, (size_t)(p - s), prev_end);
        } else if (isalpha((unsigned char)c) || c == '_') {
            while (is_alnum_(*p))
                p++;
            push_tok(r, T_IDENT, s, (size_t)(p - s), prev_end);
        } else if (c == ':' && p[1] == '=') {
            p += 2;
            push_tok(r, T_DECLARE, s, 2, prev_end);
        } else if (c == '=') {
            p++;
            push_tok(r, T_ASSIGN, s, 1, prev_end);
        } else if (c == '|') {
            p++;
            push_tok(r, T_PIPE, s, 1, prev_end);
        } else if (c == '(') {
            p++;
            push_tok(r, T_LPAREN, s, 1, prev_end);
        } else if (c == ')') {
            p++;
            push_tok(r, T_RPAREN, s, 1, prev_end);
        } else {
            int l, cc;
            pos_of(r, p, &l, &cc);
            fail_at(r, l, cc, "unexpected \"%c\" in command", c);
            return false;
        }
        prev_end = p;
    }
}

/* ---- literals ---------------------------------------------------------- */

static bool append_utf8(cd_buf *b, uint32_t cp)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    cd_buf_append(b, o, n);
    return true;
}

static int hexdig(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Go's strconv.Unquote for "..." and '...' bodies. */
static bool unquote(const char *s, size_t n, cd_buf *out)
{
    cd_buf_puts(out, "");
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            cd_buf_putc(out, s[i]);
            continue;
        }
        if (++i >= n)
            return false;
        char c = s[i];
        int digits = 0;
        switch (c) {
        case 'n': cd_buf_putc(out, '\n'); break;
        case 't': cd_buf_putc(out, '\t'); break;
        case 'r': cd_buf_putc(out, '\r'); break;
        case 'a': cd_buf_putc(out, '\a'); break;
        case 'b': cd_buf_putc(out, '\b'); break;
        case 'f': cd_buf_putc(out, '\f'); break;
        case 'v': cd_buf_putc(out, '\v'); break;
        case '\\': cd_buf_putc(out, '\\'); break;
        case '"': cd_buf_putc(out, '"'); break;
        case '\'': cd_buf_putc(out, '\''); break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (c >= '0' && c <= '7') {
                int v = 0;
                for (int k = 0; k < 3; k++) {
                    if (i + (size_t)k >= n || s[i + k] < '0' || s[i + k] > '7')
                        return false;
                    v = v * 8 + (s[i + k] - '0');
                }
                if (v > 255)
                    return false;
                cd_buf_putc(out, (char)v);
                i += 2;
                break;
            }
            return false;
        }
        if (digits) {
            uint32_t v = 0;
            for (int k = 1; k <= digits; k++) {
                if (i + (size_t)k >= n)
                    return false;
                int h = hexdig(s[i + k]);
                if (h < 0)
                    return false;
                v = v * 16 + (uint32_t)h;
            }
            i += (size_t)digits;
            if (c == 'x')
                cd_buf_putc(out, (char)v);
            else if (!append_utf8(out, v))
                return false;
        }
    }
    return true;
}

static bool parse_number(const tok *t, val *v)
{
    char buf[80];
    if (t->n >= sizeof buf)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i] != '_')
            buf[o++] = t->s[i];
    buf[o] = '\0';
    char *end;
    bool fl = strpbrk(buf, ".eEpP") && !(strstr(buf, "0x") || strstr(buf, "0X"));
    if (strpbrk(buf, "pP"))
        fl = true;
    if (!fl) {
        errno = 0;
        long long x = strtoll(buf, &end, 0);
        if (*end == '\0' && errno == 0) {
            v->k = V_INT;
            v->i = x;
            return true;
        }
    }
    double d = strtod(buf, &end);
    if (*end != '\0' || o == 0)
        return false;
    v->k = V_FLOAT;
    v->f = d;
    return true;
}

/* ---- evaluation -------------------------------------------------------- */

static val eval_pipeline(render *r, bool in_paren);

static tok *peek(render *r) { return r->pos < r->ntoks ? &r->toks[r->pos] : NULL; }

static rvar *find_var(render *r, const char *name, size_t n)
{
    for (size_t i = r->nvars; i-- > 0;)
        if (strlen(r->vars[i].name) == n && !strncmp(r->vars[i].name, name, n))
            return &r->vars[i];
    return NULL;
}

static void set_var(render *r, const tok *t, val *v, bool declare)
{
    rvar *x = find_var(r, t->s, t->n);
    if (!declare && !x) {
        fail_tok(r, t, "undefined variable \"%.*s\"", (int)t->n, t->s);
        v_free(v);
        return;
    }
    if (declare) {
        CD_GROW(r->vars, r->capvars, r->nvars + 1, 4);
        x = &r->vars[r->nvars++];
        x->name = strndup(t->s, t->n);
        if (!x->name)
            abort();
        x->v = v_nil();
    }
    v_free(&x->v);
    x->v = *v;
    *v = v_nil();
}

static const char *model_field(const cd_template_model *m, const char *name, size_t n, bool *found)
{
    *found = true;
#define F(str, field) if (n == sizeof str - 1 && !strncmp(name, str, n)) return m->field ? m->field : "";
    F("name", name)
    F("namespace", namespace_)
    F("target", target)
    F("service", service)
    F("ingress", ingress)
    F("route", route)
    F("interval", interval)
    F("revision", revision)
#undef F
    *found = false;
    return NULL;
}

static bool is_builtin_func(const char *s, size_t n)
{
    static const char *const names[] = {"printf", "print", "println", "index", "len",
                                        "urlquery", "variables"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && !strncmp(names[i], s, n))
            return true;
    return false;
}

static bool is_go_builtin(const char *s, size_t n)
{
    static const char *const names[] = {"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge",
                                        "html", "js", "call", "slice"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && !strncmp(names[i], s, n))
            return true;
    return false;
}

static bool is_keyword(const char *s, size_t n)
{
    static const char *const kw[] = {"if", "else", "end", "range", "with", "define", "template",
                                     "block", "break", "continue"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && !strncmp(kw[i], s, n))
            return true;
    return false;
}

/* Go's fmt %v/%s/%d/... of one argument. */
static void fmt_arg(cd_buf *out, char verb, const char *spec, const val *a)
{
    char f[64];
    if (verb == 'v' || (verb == 's' && a->k != V_INT && a->k != V_FLOAT)) {
        cd_buf tmp = CD_BUF_INIT;
        put_value(&tmp, a);
        snprintf(f, sizeof f, "%%%ss", spec);
        cd_buf_printf(out, f, cd_buf_str(&tmp));
        cd_buf_free(&tmp);
        return;
    }
    if (verb == 'q' && a->k == V_STR) {
        cd_buf_putc(out, '"');
        for (const unsigned char *p = (const unsigned char *)a->s; *p; p++) {
            if (*p == '"' || *p == '\\')
                cd_buf_printf(out, "\\%c", *p);
            else if (*p == '\n')
                cd_buf_puts(out, "\\n");
            else if (*p == '\t')
                cd_buf_puts(out, "\\t");
            else if (*p < 0x20 || *p == 0x7f)
                cd_buf_printf(out, "\\x%02x", *p);
            else
                cd_buf_putc(out, (char)*p);
        }
        cd_buf_putc(out, '"');
        return;
    }
    if (a->k == V_INT && strchr("dxXob", verb) && verb != 'b') {
        snprintf(f, sizeof f, "%%%sll%c", spec, verb);
        cd_buf_printf(out, f, (long long)a->i);
        return;
    }
    if ((a->k == V_FLOAT || a->k == V_INT) && strchr("feEgG", verb)) {
        snprintf(f, sizeof f, "%%%s%c", spec, verb);
        cd_buf_printf(out, f, a->k == V_FLOAT ? a->f : (double)a->i);
        return;
    }
    /* wrong type for the verb: Go prints %!d(string=foo) */
    cd_buf tmp = CD_BUF_INIT;
    put_value(&tmp, a);
    cd_buf_printf(out, "%%!%c(%s=%s)", verb, kind_name(a->k), cd_buf_str(&tmp));
    cd_buf_free(&tmp);
}

static void go_sprintf(cd_buf *out, const char *fmt, const val *args, size_t nargs)
{
    size_t ai = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            cd_buf_putc(out, *p);
            continue;
        }
        if (p[1] == '%') {
            cd_buf_putc(out, '%');
            p++;
            continue;
        }
        char spec[40];
        size_t sn = 0;
        const char *q = p + 1;
        while (*q && strchr("+-# 0", *q) && sn < 8)
            spec[sn++] = *q++;
        int width = 0, prec = -1;
        while (isdigit((unsigned char)*q) && width < 10000)
            width = width * 10 + (*q++ - '0');
        if (*q == '.') {
            q++;
            prec = 0;
            while (isdigit((unsigned char)*q) && prec < 10000)
                prec = prec * 10 + (*q++ - '0');
        }
        while (isdigit((unsigned char)*q))
            q++;
        if (width > 1024)
            width = 1024;
        if (prec > 1024)
            prec = 1024;
        spec[sn] = '\0';
        if (width)
            snprintf(spec + sn, sizeof spec - sn, "%d", width);
        if (prec >= 0)
            snprintf(spec + strlen(spec), sizeof spec - strlen(spec), ".%d", prec);
        char verb = *q;
        if (!verb) {
            cd_buf_puts(out, "%!(NOVERB)");
            break;
        }
        p = q;
        if (ai >= nargs) {
            cd_buf_printf(out, "%%!%c(MISSING)", verb);
            continue;
        }
        fmt_arg(out, verb, spec, &args[ai++]);
    }
    if (ai < nargs) {
        cd_buf_puts(out, "%!(EXTRA ");
        for (size_t i = ai; i < nargs; i++) {
            cd_buf_printf(out, "%s%s=", i > ai ? ", " : "", kind_name(args[i].k));
            put_value(out, &args[i]);
        }
        cd_buf_putc(out, ')');
    }
}

/* Go's fmt.Sprint: a space between operands when neither is a string. */
static void go_sprint(cd_buf *out, const val *args, size_t n, bool ln)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (ln || (args[i].k != V_STR && args[i - 1].k != V_STR)))
            cd_buf_putc(out, ' ');
        put_value(out, &args[i]);
    }
    if (ln)
        cd_buf_putc(out, '\n');
}

static val call_func(render *r, const tok *fn, val *args, size_t nargs)
{
    const char *name = fn->s;
    size_t n = fn->n;
    bool is_model;
    const char *field = model_field(r->m, name, n, &is_model);
    if (is_model || (n == 9 && !strncmp(name, "variables", 9))) {
        if (nargs) {
            fail_tok(r, fn, "wrong number of args for %.*s: want 0 got %zu", (int)n, name, nargs);
            return v_nil();
        }
        if (is_model)
            return v_str(field);
        val v = v_nil();
        v.k = V_MAP;
        v.map = r->m->variables;
        return v;
    }
#define IS(s) (n == sizeof s - 1 && !strncmp(name, s, n))
    cd_buf b = CD_BUF_INIT;
    if (IS("printf")) {
        if (nargs < 1 || args[0].k != V_STR) {
            fail_tok(r, fn, "printf needs a format string");
            return v_nil();
        }
        go_sprintf(&b, args[0].s, args + 1, nargs - 1);
    } else if (IS("print") || IS("println")) {
        go_sprint(&b, args, nargs, IS("println"));
    } else if (IS("urlquery")) {
        cd_buf raw = CD_BUF_INIT;
        go_sprint(&raw, args, nargs, false);
        cd_url_query_escape(&b, cd_buf_str(&raw));
        cd_buf_free(&raw);
    } else if (IS("index")) {
        if (nargs != 2 || args[0].k != V_MAP || args[1].k != V_STR) {
            fail_tok(r, fn, "index supports one map and one string key");
            return v_nil();
        }
        const char *x = args[0].map ? cd_strmap_get(args[0].map, args[1].s) : NULL;
        return v_str(x ? x : "");
    } else if (IS("len")) {
        if (nargs != 1 || (args[0].k != V_STR && args[0].k != V_MAP)) {
            fail_tok(r, fn, "len of %s", nargs ? kind_name(args[0].k) : "nothing");
            return v_nil();
        }
        val v = v_nil();
        v.k = V_INT;
        v.i = args[0].k == V_STR ? (int64_t)strlen(args[0].s)
                                 : (int64_t)(args[0].map ? args[0].map->n : 0);
        return v;
    }
#undef IS
    val v = v_str(cd_buf_str(&b));
    cd_buf_free(&b);
    return v;
}

/* Applies .a.b field chains to v (maps only; anything else is an error). */
static val apply_fields(render *r, val v, const tok *start)
{
    for (tok *t = peek(r); t && t->t == T_FIELD && t->adjacent; t = peek(r)) {
        r->pos++;
        const char *key = t->s + 1;
        size_t kn = t->n - 1;
        if (v.k != V_MAP) {
            fail_tok(r, t, "executing \"tmpl\" at <%.*s>: can't evaluate field %.*s in type %s",
                     (int)(t->s + t->n - start->s), start->s, (int)kn, key, kind_name(v.k));
            v_free(&v);
            return v_nil();
        }
        const char *found = NULL;
        for (size_t i = 0; v.map && i < v.map->n; i++)
            if (strlen(v.map->items[i].key) == kn && !strncmp(v.map->items[i].key, key, kn))
                found = v.map->items[i].value;
        if (!found) {
            fail_tok(r, t, "executing \"tmpl\" at <%.*s>: map has no entry for key \"%.*s\"",
                     (int)(t->s + t->n - start->s), start->s, (int)kn, key);
            return v_nil();
        }
        v = v_str(found);
    }
    return v;
}

/* One operand: literal, variable, function name (called without args when
 * used as an argument), field on dot, or a parenthesized pipeline. */
static val eval_operand(render *r, bool *is_func, tok **fn_tok)
{
    tok *t = peek(r);
    *is_func = false;
    if (!t) {
        fail_at(r, 1, 1, "missing value for command");
        return v_nil();
    }
    r->pos++;
    val v = v_nil();
    cd_buf b = CD_BUF_INIT;
    switch (t->t) {
    case T_STRING:
    case T_CHAR:
        if (!unquote(t->s + 1, t->n - 2, &b)) {
            fail_tok(r, t, "invalid syntax in %.*s", (int)(t->n > 40 ? 40 : t->n), t->s);
            break;
        }
        if (t->t == T_CHAR) {
            /* a character constant is its code point, as an int */
            v.k = V_INT;
            const unsigned char *u = (const unsigned char *)cd_buf_str(&b);
            v.i = u[0];
        } else {
            v = v_strn(b.data ? b.data : "", b.len);
        }
        break;
    case T_RAW:
        v = v_strn(t->s + 1, t->n - 2);
        break;
    case T_NUMBER:
        if (!parse_number(t, &v))
            fail_tok(r, t, "bad number syntax: \"%.*s\"", (int)t->n, t->s);
        break;
    case T_VAR: {
        rvar *x = t->n == 1 ? NULL : find_var(r, t->s, t->n);
        if (t->n == 1) {
            v = v_nil();    /* $ is the data, and Flagger passes none */
        } else if (!x) {
            fail_tok(r, t, "undefined variable \"%.*s\"", (int)t->n, t->s);
            break;
        } else {
            v = v_copy(&x->v);
        }
        v = apply_fields(r, v, t);
        break;
    }
    case T_DOT:
        v = v_nil();
        break;
    case T_FIELD:
        fail_tok(r, t, "executing \"tmpl\" at <%.*s>: nil data; no entry for key \"%.*s\"",
                 (int)t->n, t->s, (int)t->n - 1, t->s + 1);
        break;
    case T_LPAREN:
        if (++r->depth > 64) {
            fail_tok(r, t, "parentheses nested too deeply");
            break;
        }
        v = eval_pipeline(r, true);
        r->depth--;
        if (r->failed)
            break;
        if (!peek(r) || peek(r)->t != T_RPAREN) {
            fail_tok(r, t, "unclosed left paren");
            v_free(&v);
            break;
        }
        r->pos++;
        v = apply_fields(r, v, t);
        break;
    case T_IDENT:
        if (t->n == 4 && !strncmp(t->s, "true", 4)) {
            v.k = V_BOOL;
            v.b = true;
        } else if (t->n == 5 && !strncmp(t->s, "false", 5)) {
            v.k = V_BOOL;
        } else if (t->n == 3 && !strncmp(t->s, "nil", 3)) {
            fail_tok(r, t, "nil is not a command");
        } else if (is_keyword(t->s, t->n)) {
            fail_tok(r, t, "unsupported template action \"%.*s\": canaryd renders queries "
                           "without control structures", (int)t->n, t->s);
        } else {
            bool model;
            model_field(r->m, t->s, t->n, &model);
            if (!model && !is_builtin_func(t->s, t->n)) {
                if (is_go_builtin(t->s, t->n))
                    fail_tok(r, t, "function \"%.*s\" is not supported by canaryd", (int)t->n,
                             t->s);
                else
                    fail_tok(r, t, "function \"%.*s\" not defined", (int)t->n, t->s);
                break;
            }
            *is_func = true;
            *fn_tok = t;
        }
        break;
    default:
        fail_tok(r, t, "unexpected \"%.*s\" in operand", (int)t->n, t->s);
        break;
    }
    cd_buf_free(&b);
    return v;
}

static bool ends_command(const tok *t)
{
    return !t || t->t == T_PIPE || t->t == T_RPAREN;
}

/* command := operand operand*  (the first may be a function); prev is the
 * result of the previous pipeline stage, passed as the last argument. */
static val eval_command_impl(render *r, val *prev)
{
    bool is_func = false;
    tok *fn = NULL;
    tok *first = peek(r);
    if (ends_command(first)) {
        fail_tok(r, first ? first : &r->toks[r->ntoks - 1], "missing command");
        return v_nil();
    }
    val head = eval_operand(r, &is_func, &fn);
    if (r->failed)
        return v_nil();
    if (is_func && peek(r) && peek(r)->t == T_FIELD && peek(r)->adjacent) {
        /* a chain like variables.x: the function is called without arguments */
        head = call_func(r, fn, NULL, 0);
        if (!r->failed)
            head = apply_fields(r, head, fn);
        if (r->failed)
            return v_nil();
        is_func = false;
    }
    if (!is_func) {
        if (!ends_command(peek(r)) || prev) {
            tok *t = peek(r) ? peek(r) : first;
            fail_tok(r, t, "can't give argument to non-function %.*s", (int)first->n, first->s);
            v_free(&head);
            return v_nil();
        }
        return head;
    }
    val args[32];
    size_t nargs = 0;
    while (!ends_command(peek(r)) && !r->failed) {
        if (nargs >= 31) {
            fail_tok(r, peek(r), "too many arguments");
            break;
        }
        bool af = false;
        tok *aft = NULL;
        val a = eval_operand(r, &af, &aft);
        if (af && !r->failed)
            a = call_func(r, aft, NULL, 0);   /* a function as an argument: called, no args */
        if (af && !r->failed)
            a = apply_fields(r, a, aft);
        args[nargs++] = a;
    }
    if (prev && !r->failed) {
        args[nargs++] = *prev;
        *prev = v_nil();
    }
    val out = v_nil();
    if (!r->failed)
        out = call_func(r, fn, args, nargs);
    for (size_t i = 0; i < nargs; i++)
        v_free(&args[i]);
    if (!r->failed)
        out = apply_fields(r, out, fn);
    return out;
}

/* Takes ownership of *prev whatever happens. */
static val eval_command(render *r, val *prev)
{
    val v = eval_command_impl(r, prev);
    if (prev)
        v_free(prev);
    return v;
}

static val eval_pipeline(render *r, bool in_paren)
{
    tok *t0 = peek(r);
    tok *var = NULL;
    bool declare = false;
    if (t0 && t0->t == T_VAR && r->pos + 1 < r->ntoks &&
        (r->toks[r->pos + 1].t == T_DECLARE || r->toks[r->pos + 1].t == T_ASSIGN)) {
        var = t0;
        declare = r->toks[r->pos + 1].t == T_DECLARE;
        r->pos += 2;
    }
    val v = eval_command(r, NULL);
    while (!r->failed && peek(r) && peek(r)->t == T_PIPE) {
        r->pos++;
        v = eval_command(r, &v);
    }
    if (!r->failed && !in_paren && peek(r))
        fail_tok(r, peek(r), "unexpected \"%.*s\" in command", (int)peek(r)->n, peek(r)->s);
    if (r->failed) {
        v_free(&v);
        return v_nil();
    }
    if (var) {
        set_var(r, var, &v, declare);
        val none = v_nil();
        none.k = V_NIL;
        none.b = true;   /* marks "declaration: print nothing" */
        return none;
    }
    return v;
}

/* Trims trailing whitespace of the text written since text_start. */
static void trim_left_of_action(render *r, size_t text_start)
{
    while (r->out.len > text_start && is_space(r->out.data[r->out.len - 1]))
        r->out.len--;
    if (r->out.data)
        r->out.data[r->out.len] = '\0';
}

static bool skip_comment(render *r, const char *p, const char **end, bool *rtrim)
{
    const char *close = strstr(p + 2, "*/");
    if (!close) {
        int l, c;
        pos_of(r, p, &l, &c);
        fail_at(r, l, c, "unclosed comment");
        return false;
    }
    const char *q = close + 2;
    if (q[0] == ' ' && q[1] == '-' && q[2] == '}' && q[3] == '}') {
        *rtrim = true;
        *end = q + 4;
        return true;
    }
    if (q[0] == '}' && q[1] == '}') {
        *rtrim = false;
        *end = q + 2;
        return true;
    }
    int l, c;
    pos_of(r, q, &l, &c);
    fail_at(r, l, c, "comment ends before closing delimiter");
    return false;
}

char *cd_template_render(const char *tmpl, const cd_template_model *m, cd_err *err)
{
    render r;
    memset(&r, 0, sizeof r);
    r.src = tmpl ? tmpl : "";
    r.m = m;
    r.err = err;
    cd_buf_puts(&r.out, "");
    const char *p = r.src;
    bool rtrim = false;
    while (*p && !r.failed) {
        const char *open = strstr(p, "{{");
        const char *text_end = open ? open : p + strlen(p);
        if (rtrim)
            while (p < text_end && is_space(*p))
                p++;
        size_t text_start = r.out.len;
        cd_buf_append(&r.out, p, (size_t)(text_end - p));
        if (!open)
            break;
        const char *a = open + 2;
        if (a[0] == '-' && is_space(a[1])) {
            trim_left_of_action(&r, text_start);
            a += 2;
        }
        const char *end = NULL;
        if (a[0] == '/' && a[1] == '*') {   /* Go: the comment must follow the delimiter */
            if (!skip_comment(&r, a, &end, &rtrim))
                break;
            p = end;
            continue;
        }
        if (!lex_action(&r, a, &end, &rtrim))
            break;
        if (r.ntoks == 0) {
            int l, cc;
            pos_of(&r, open, &l, &cc);
            fail_at(&r, l, cc, "missing value for command");
            break;
        }
        val v = eval_pipeline(&r, false);
        if (!r.failed && !(v.k == V_NIL && v.b))
            put_value(&r.out, &v);
        v_free(&v);
        if (r.out.len > CD_TEMPLATE_MAX_OUTPUT) {
            fail_tok(&r, &r.toks[0], "output is larger than %u bytes", CD_TEMPLATE_MAX_OUTPUT);
            break;
        }
        p = end;
    }
    for (size_t i = 0; i < r.nvars; i++) {
        free(r.vars[i].name);
        v_free(&r.vars[i].v);
    }
    free(r.vars);
    free(r.toks);
    if (r.failed) {
        cd_buf_free(&r.out);
        return NULL;
    }
    return cd_buf_steal(&r.out);
}

void cd_template_model_for_canary(cd_template_model *m, const cd_object_meta *meta,
                                  const cd_canary_spec *spec, const char *interval,
                                  const cd_strmap *variables)
{
    memset(m, 0, sizeof *m);
    const char *target = spec->target_ref.name ? spec->target_ref.name : "";
    m->name = meta->name ? meta->name : "";
    m->namespace_ = meta->namespace_ ? meta->namespace_ : "";
    m->target = target;
    m->service = cd_canary_service_name(spec);
    if (!m->service)
        m->service = target;
    m->ingress = spec->has_ingress_ref && spec->ingress_ref.name && *spec->ingress_ref.name
                     ? spec->ingress_ref.name
                     : target;
    m->route = spec->has_route_ref && spec->route_ref.name && *spec->route_ref.name
                   ? spec->route_ref.name
                   : target;
    m->interval = interval ? interval : "";
    m->variables = variables;
}
