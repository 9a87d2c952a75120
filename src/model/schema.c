/* schema.c - structural openAPIV3Schema validation over cd_node trees, and
 * the registry of CRDs compiled into the binary (each checked by
 * schema_check.c when loaded: a CRD an API server would refuse is never
 * registered). Must not change the value it validates; defaults are
 * applied by the decoders, not here. */
#include "model/schema.h"
#include "model/schema_check.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/suggest.h"
#include "util/timeutil.h"
#include "util/grow.h"
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

struct cd_embedded_file { const char *name; const char *data; size_t len; };
extern const struct cd_embedded_file cd_embedded_crds[];

/* ---- registry ---------------------------------------------------------- */

static struct {
    cd_crd_version *items;
    size_t n, cap;
    cd_stream **streams;
    size_t nstreams;
} g_reg;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* A CRD pattern (Go's RE2 syntax) as POSIX ERE: the Perl classes \d, \D,
 * \w, \W, \s, \S, which regcomp would take for the letters, become
 * bracket expressions (inside a bracket, their contents). malloc'd; NULL
 * on allocation failure. */
static char *posix_pattern(const char *re)
{
    size_t n = strlen(re);
    char *out = malloc(n * 14 + 1);   /* "[^[:alnum:]_]" is the longest (13) for 2 bytes */
    if (!out)
        return NULL;
    size_t o = 0;
    bool in_bracket = false;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char e = re[i + 1];
            const char *in = NULL, *outside = NULL;
            switch (e) {
            case 'd': in = "0-9"; outside = "[0-9]"; break;
            case 'D': outside = "[^0-9]"; break;
            case 'w': in = "[:alnum:]_"; outside = "[[:alnum:]_]"; break;
            case 'W': outside = "[^[:alnum:]_]"; break;
            case 's': in = "[:space:]"; outside = "[[:space:]]"; break;
            case 'S': outside = "[^[:space:]]"; break;
            default: break;
            }
            const char *rep = in_bracket ? in : outside;
            if (rep) {
                memcpy(out + o, rep, strlen(rep));
                o += strlen(rep);
            } else {
                out[o++] = c;
                out[o++] = e;
            }
            i++;
            continue;
        }
        if (!in_bracket && c == '[') {
            in_bracket = true;
            out[o++] = c;
            if (i + 1 < n && re[i + 1] == '^')
                out[o++] = re[++i];
            if (i + 1 < n && re[i + 1] == ']')   /* a leading ] is a member */
                out[o++] = re[++i];
            continue;
        }
        if (in_bracket && c == ']')
            in_bracket = false;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

static void compile_patterns(cd_node *schema, unsigned depth)
{
    if (!schema || depth > 100)
        return;
    if (schema->type == CD_N_MAP) {
        for (size_t i = 0; i < schema->npairs; i++) {
            cd_node *k = schema->pairs[i].key, *v = schema->pairs[i].value;
            if (!strcmp(k->str, "pattern") && v->type == CD_N_STR && !v->aux) {
                regex_t *re = malloc(sizeof *re);
                char *posix = posix_pattern(v->str);
                if (re && posix && regcomp(re, posix, REG_EXTENDED | REG_NOSUB) == 0)
                    v->aux = re;
                else
                    free(re);
                free(posix);
            }
            compile_patterns(v, depth + 1);
        }
    } else if (schema->type == CD_N_SEQ) {
        for (size_t i = 0; i < schema->nitems; i++)
            compile_patterns(schema->items[i], depth + 1);
    }
}

static const char *str_at(const cd_node *n, const char *key) { return cd_node_str(cd_map_get(n, key)); }

int cd_schema_load_text(const char *name, const char *text, size_t len, cd_diags *diags)
{
    size_t errors_before = diags->errors;
    cd_stream *s = cd_stream_parse(name, text, len, false, diags);
    if (!s)
        return -1;
    /* a schema the API server would refuse is refused whole: nothing of the
     * file is registered */
    if (diags->errors > errors_before || cd_schema_check_stream(s, diags) > 0) {
        cd_stream_free(s);
        return -1;
    }
    int added = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t d = 0; d < s->ndocs; d++) {
        const cd_node *root = s->docs[d].root;
        if (!root || strcmp(str_at(root, "kind") ?: "", "CustomResourceDefinition"))
            continue;
        const cd_node *spec = cd_map_get(root, "spec");
        const cd_node *names = cd_map_get(spec, "names");
        const cd_node *versions = cd_map_get(spec, "versions");
        if (!versions || versions->type != CD_N_SEQ)
            continue;
        for (size_t i = 0; i < versions->nitems; i++) {
            const cd_node *v = versions->items[i];
            const cd_node *schema = cd_map_get(cd_map_get(v, "schema"), "openAPIV3Schema");
            const cd_node *served = cd_map_get(v, "served");
            CD_GROW(g_reg.items, g_reg.cap, g_reg.n + 1, 16);
            compile_patterns((cd_node *)schema, 0);
            g_reg.items[g_reg.n++] = (cd_crd_version){
                .group = str_at(spec, "group") ?: "",
                .version = str_at(v, "name") ?: "",
                .kind = str_at(names, "kind") ?: "",
                .plural = str_at(names, "plural") ?: "",
                .served = !served || (served->type == CD_N_BOOL && served->v.b),
                .schema = schema,
            };
            added++;
        }
    }
    cd_stream **ps = realloc(g_reg.streams, (g_reg.nstreams + 1) * sizeof *ps);
    if (!ps)
        abort();
    g_reg.streams = ps;
    g_reg.streams[g_reg.nstreams++] = s;
    pthread_mutex_unlock(&g_lock);
    return added;
}

static void load_embedded(void)
{
    cd_diags d;
    cd_diags_init(&d);
    for (const struct cd_embedded_file *f = cd_embedded_crds; f->name; f++)
        cd_schema_load_text(f->name, f->data, f->len, &d);
    if (d.errors)
        cd_diags_print(&d, stderr);   /* a broken embedded CRD is a build bug */
    cd_diags_free(&d);
}

const cd_crd_version *cd_schema_at(size_t i)
{
    pthread_once(&g_once, load_embedded);
    return i < g_reg.n ? &g_reg.items[i] : NULL;
}

const cd_crd_version *cd_schema_find(const char *group, const char *version, const char *kind)
{
    const cd_crd_version *v;
    for (size_t i = 0; (v = cd_schema_at(i)); i++)
        if (!strcmp(v->group, group) && !strcmp(v->version, version) && !strcmp(v->kind, kind))
            return v;
    return NULL;
}

const cd_crd_version *cd_schema_find_kind(const char *group, const char *kind)
{
    const cd_crd_version *v;
    for (size_t i = 0; (v = cd_schema_at(i)); i++)
        if (!strcmp(v->group, group) && !strcmp(v->kind, kind))
            return v;
    return NULL;
}

/* ---- validation -------------------------------------------------------- */

typedef struct vctx {
    cd_arena *tmp;
    const char *file;
    cd_diags *diags;     /* NULL: count errors only (oneOf/anyOf/not branches) */
    size_t errors;
} vctx;

static void verr(vctx *c, const cd_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void verr(vctx *c, const cd_node *at, const char *path, const char *fmt, ...)
{
    c->errors++;
    if (!c->diags)
        return;
    va_list ap;
    va_start(ap, fmt);
    cd_diags_vadd(c->diags, CD_DIAG_ERROR, c->file, at ? at->line : 0, at ? at->col : 0, path,
                  fmt, ap);
    va_end(ap);
}

static void vwarn(vctx *c, const cd_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void vwarn(vctx *c, const cd_node *at, const char *path, const char *fmt, ...)
{
    if (!c->diags)
        return;
    va_list ap;
    va_start(ap, fmt);
    cd_diags_vadd(c->diags, CD_DIAG_WARNING, c->file, at ? at->line : 0, at ? at->col : 0,
                  path, fmt, ap);
    va_end(ap);
}

static bool flag(const cd_node *schema, const char *key)
{
    const cd_node *n = cd_map_get(schema, key);
    return n && n->type == CD_N_BOOL && n->v.b;
}

static bool num_of(const cd_node *n, double *out)
{
    if (!n)
        return false;
    if (n->type == CD_N_INT) {
        *out = (double)n->v.i;
        return true;
    }
    if (n->type == CD_N_FLOAT) {
        *out = n->v.f;
        return true;
    }
    return false;
}

/* A short rendering of a value for messages. */
static const char *show(vctx *c, const cd_node *v)
{
    switch (v->type) {
    case CD_N_STR: {
        if (v->len > 60)
            return cd_arena_printf(c->tmp, "\"%.57s...\"", v->str);
        return cd_arena_printf(c->tmp, "\"%s\"", v->str);
    }
    case CD_N_MAP: return "an object";
    case CD_N_SEQ: return "a list";
    case CD_N_NULL: return "null";
    default: return v->str;
    }
}

static bool type_ok(const char *type, const cd_node *v)
{
    if (!strcmp(type, "object"))
        return v->type == CD_N_MAP;
    if (!strcmp(type, "array"))
        return v->type == CD_N_SEQ;
    if (!strcmp(type, "string"))
        return v->type == CD_N_STR;
    if (!strcmp(type, "boolean"))
        return v->type == CD_N_BOOL;
    if (!strcmp(type, "integer"))
        return v->type == CD_N_INT || (v->type == CD_N_FLOAT && isfinite(v->v.f) &&
                                       v->v.f == floor(v->v.f));
    if (!strcmp(type, "number"))
        return v->type == CD_N_INT || (v->type == CD_N_FLOAT && isfinite(v->v.f));
    return true;
}

static const char *article(const char *type)
{
    if (!strcmp(type, "object"))
        return "an object";
    if (!strcmp(type, "array"))
        return "a list";
    if (!strcmp(type, "integer"))
        return "an integer";
    if (!strcmp(type, "number"))
        return "a number";
    if (!strcmp(type, "boolean"))
        return "a boolean (true or false)";
    if (!strcmp(type, "string"))
        return "a string";
    return type;
}

static size_t utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

static void validate(vctx *c, const cd_node *schema, const cd_node *v, const char *path,
                     unsigned depth);

static size_t count_errors(vctx *c, const cd_node *schema, const cd_node *v, const char *path,
                           unsigned depth)
{
    vctx sub = {c->tmp, c->file, NULL, 0};
    validate(&sub, schema, v, path, depth + 1);
    return sub.errors;
}

static void check_enum(vctx *c, const cd_node *schema, const cd_node *v, const char *path)
{
    const cd_node *e = cd_map_get(schema, "enum");
    if (!e || e->type != CD_N_SEQ)
        return;
    for (size_t i = 0; i < e->nitems; i++) {
        const cd_node *x = e->items[i];
        if (x->type == CD_N_NULL && v->type == CD_N_NULL)
            return;
        if (v->type == CD_N_STR && (x->type == CD_N_STR) && x->len == v->len &&
            !memcmp(x->str, v->str, v->len))
            return;
        double a, b;
        if (num_of(x, &a) && num_of(v, &b) && a == b)
            return;
        if (x->type == CD_N_BOOL && v->type == CD_N_BOOL && x->v.b == v->v.b)
            return;
    }
    if (!c->diags) {
        c->errors++;
        return;
    }
    cd_buf list = CD_BUF_INIT;
    for (size_t i = 0; i < e->nitems; i++)
        cd_buf_printf(&list, "%s\"%s\"", i ? ", " : "", e->items[i]->str);
    verr(c, v, path, "unsupported value %s: must be one of %s", show(c, v), cd_buf_str(&list));
    cd_buf_free(&list);
}

#define DNS_LABEL "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define LABEL_WORDS "lower-case letters, digits and '-', starting and ending with a letter or digit"

/* The schemas' patterns in words: a user reads "must be a duration such
 * as 30s", not a regular expression. */
static const struct { const char *pattern, *words; } pattern_words[] = {
    {"^[0-9]+(m|s)", "must be a whole number of seconds or minutes, such as 30s or 1m"},
    {"^[0-9]+(\\.[0-9]+)?(ms|s|m|h)", "must be a duration such as 500ms, 15s, 1m or 1.5h"},
    {"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", "must be a duration such as 500ms, 1m30s or 2h"},
    {"^" DNS_LABEL "$", "must be a DNS label: " LABEL_WORDS},
    {"^" DNS_LABEL "(\\." DNS_LABEL ")*$",
     "must be a DNS name: labels of " LABEL_WORDS ", joined by '.'"},
    {"^$|^" DNS_LABEL "(\\." DNS_LABEL ")*$",
     "must be empty or a DNS name: labels of " LABEL_WORDS ", joined by '.'"},
    {"^(" DNS_LABEL ")?$", "must be empty or a DNS label: " LABEL_WORDS},
    {"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
     "must be a kind: letters, digits and '-', starting with a letter"},
    {"^/", "must be a path starting with /"},
    {"^[A-Za-z_][A-Za-z0-9_]*$", "must be a name of letters, digits and '_', not starting with a digit"},
    {"^-", "must be a flag starting with -"},
    {"^[^\\s]*$", "must not contain white space"},
    {"^(|https?://[^\\s]+)$", "must be empty or an http:// or https:// URL without white space"},
    {"^([1-9][0-9]*)?$", "must be empty or a whole number greater than 0"},
};

static void pattern_error(vctx *c, const cd_node *v, const char *path, const char *pattern)
{
    for (size_t i = 0; i < sizeof pattern_words / sizeof pattern_words[0]; i++)
        if (!strcmp(pattern, pattern_words[i].pattern)) {
            verr(c, v, path, "%s: %s", pattern_words[i].words, show(c, v));
            return;
        }
    verr(c, v, path, "%s is not in the expected form (the schema's pattern %s)", show(c, v),
         pattern);
}

static void check_string(vctx *c, const cd_node *schema, const cd_node *v, const char *path)
{
    const cd_node *pat = cd_map_get(schema, "pattern");
    if (pat && pat->aux && regexec((regex_t *)pat->aux, v->str, 0, NULL, 0) != 0)
        pattern_error(c, v, path, pat->str);
    double lim;
    size_t n = utf8_len(v->str, v->len);
    if (num_of(cd_map_get(schema, "minLength"), &lim) && (double)n < lim)
        verr(c, v, path, "must be at least %.0f characters long, got %zu", lim, n);
    if (num_of(cd_map_get(schema, "maxLength"), &lim) && (double)n > lim)
        verr(c, v, path, "must be at most %.0f characters long, got %zu", lim, n);
    const char *fmt = str_at(schema, "format");
    int64_t ms;
    if (fmt && !strcmp(fmt, "date-time") && !cd_parse_rfc3339(v->str, &ms))
        verr(c, v, path, "%s is not an RFC 3339 date-time", show(c, v));
}

static void check_number(vctx *c, const cd_node *schema, const cd_node *v, const char *path)
{
    double x, lo = 0, hi = 0;
    num_of(v, &x);
    bool has_lo = num_of(cd_map_get(schema, "minimum"), &lo);
    bool has_hi = num_of(cd_map_get(schema, "maximum"), &hi);
    bool ex_lo = flag(schema, "exclusiveMinimum"), ex_hi = flag(schema, "exclusiveMaximum");
    bool bad = (has_lo && (ex_lo ? x <= lo : x < lo)) || (has_hi && (ex_hi ? x >= hi : x > hi));
    if (bad) {
        if (has_lo && has_hi && !ex_lo && !ex_hi)
            verr(c, v, path, "must be between %g and %g, got %s", lo, hi, v->str);
        else if (has_lo && (ex_lo ? x <= lo : x < lo))
            verr(c, v, path, "must be %s %g, got %s", ex_lo ? "greater than" : "at least", lo,
                 v->str);
        else
            verr(c, v, path, "must be %s %g, got %s", ex_hi ? "less than" : "at most", hi, v->str);
    }
    const char *fmt = str_at(schema, "format");
    if (fmt && !strcmp(fmt, "int32") && (x < -2147483648.0 || x > 2147483647.0))
        verr(c, v, path, "%s does not fit in a 32-bit integer", v->str);
}

static void check_array(vctx *c, const cd_node *schema, const cd_node *v, const char *path,
                        unsigned depth)
{
    double lim;
    if (num_of(cd_map_get(schema, "minItems"), &lim) && (double)v->nitems < lim)
        verr(c, v, path, "must have at least %.0f items, got %zu", lim, v->nitems);
    if (num_of(cd_map_get(schema, "maxItems"), &lim) && (double)v->nitems > lim)
        verr(c, v, path, "must have at most %.0f items, got %zu", lim, v->nitems);
    const cd_node *items = cd_map_get(schema, "items");
    if (!items)
        return;
    for (size_t i = 0; i < v->nitems; i++)
        validate(c, items, v->items[i], cd_path_index(c->tmp, path, i), depth + 1);
}

static bool nullable(const cd_node *schema) { return flag(schema, "nullable"); }

/* "unknown field (ignored); did you mean maxWeight?" */
static void unknown_field(vctx *c, const cd_node *k, const char *path, const cd_node *props)
{
    cd_suggest sg;
    cd_suggest_init(&sg, k->str);
    for (size_t i = 0; props && props->type == CD_N_MAP && i < props->npairs; i++)
        cd_suggest_offer(&sg, props->pairs[i].key->str);
    if (sg.best)
        vwarn(c, k, path, "unknown field (ignored); did you mean %s?", sg.best);
    else
        vwarn(c, k, path, "unknown field (ignored)");
}

static void check_object(vctx *c, const cd_node *schema, const cd_node *v, const char *path,
                         unsigned depth)
{
    const cd_node *props = cd_map_get(schema, "properties");
    const cd_node *addl = cd_map_get(schema, "additionalProperties");
    bool preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    for (size_t i = 0; i < v->npairs; i++) {
        const cd_node *k = v->pairs[i].key, *val = v->pairs[i].value;
        if (!*path && !strcmp(k->str, "metadata"))
            continue;   /* ObjectMeta has its own rules (cd_dec_meta), as in the API server */
        const char *kpath = cd_path_key(c->tmp, path, k->str);
        const cd_node *ps = cd_map_get(props, k->str);
        if (!ps && addl && addl->type == CD_N_MAP)
            ps = addl;
        if (!ps) {
            if (!preserve && !(addl && addl->type == CD_N_BOOL && addl->v.b))
                unknown_field(c, k, kpath, props);
            continue;
        }
        if (val->type == CD_N_NULL && !nullable(ps))
            continue;   /* pruned, as the API server does */
        validate(c, ps, val, kpath, depth + 1);
    }
    const cd_node *req = cd_map_get(schema, "required");
    if (req && req->type == CD_N_SEQ) {
        for (size_t i = 0; i < req->nitems; i++) {
            const char *name = req->items[i]->str;
            const cd_node *val = cd_map_get(v, name);
            const char *kpath = cd_path_key(c->tmp, path, name);
            if (!val)
                verr(c, v, kpath, "required field is missing");
            else if (val->type == CD_N_NULL && !nullable(cd_map_get(props, name)))
                verr(c, val, kpath, "required field must not be null");
        }
    }
    double lim;
    if (num_of(cd_map_get(schema, "minProperties"), &lim) && (double)v->npairs < lim)
        verr(c, v, path, "must have at least %.0f fields", lim);
    if (num_of(cd_map_get(schema, "maxProperties"), &lim) && (double)v->npairs > lim)
        verr(c, v, path, "must have at most %.0f fields", lim);
}

/* The single field a branch requires, when the branch is exactly
 * {required: [field]} (Istio StringMatch style), else NULL. */
static const cd_node *branch_required(const cd_node *branch)
{
    if (!branch || branch->type != CD_N_MAP)
        return NULL;
    const cd_node *req = cd_map_get(branch, "required");
    return req && req->type == CD_N_SEQ ? req : NULL;
}

static bool in_all_branches(const cd_node *branches, const char *field)
{
    for (size_t i = 0; i < branches->nitems; i++) {
        const cd_node *req = branch_required(branches->items[i]);
        if (!req)
            return false;
        bool found = false;
        for (size_t j = 0; j < req->nitems; j++)
            if (!strcmp(req->items[j]->str, field))
                found = true;
        if (!found)
            return false;
    }
    return true;
}

/* Words for a oneOf made of "required" branches: the fields every branch
 * needs and the alternatives, e.g. "interval, threshold" + "iterations,
 * stepWeight or stepWeights". */
static void describe_one_of(vctx *c, const cd_node *branches, const cd_node *v, const char *path,
                            size_t matched, const bool *match)
{
    cd_buf common = CD_BUF_INIT, alts = CD_BUF_INIT, got = CD_BUF_INIT;
    bool has_none_branch = false;
    size_t nalts = 0, ngot = 0;
    const cd_node *first = NULL;
    for (size_t i = 0; i < branches->nitems; i++)
        if ((first = branch_required(branches->items[i])))
            break;
    if (first)
        for (size_t j = 0; j < first->nitems; j++)
            if (in_all_branches(branches, first->items[j]->str))
                cd_buf_printf(&common, "%s%s", common.len ? ", " : "", first->items[j]->str);
    size_t count_alts = 0;
    for (size_t i = 0; i < branches->nitems; i++)
        if (branch_required(branches->items[i]))
            count_alts++;
    for (size_t i = 0; i < branches->nitems; i++) {
        const cd_node *req = branch_required(branches->items[i]);
        if (!req) {
            has_none_branch = true;
            continue;
        }
        for (size_t j = 0; j < req->nitems; j++) {
            const char *f = req->items[j]->str;
            if (in_all_branches(branches, f))
                continue;
            nalts++;
            const char *sep = nalts == 1 ? "" : (nalts == count_alts ? " or " : ", ");
            cd_buf_printf(&alts, "%s%s", sep, f);
            if (match[i] || cd_map_get(v, f)) {
                if (cd_map_get(v, f))
                    cd_buf_printf(&got, "%s%s", ngot++ ? " and " : "", f);
            }
        }
    }
    if (nalts == 0) {
        verr(c, v, path, "must match exactly one of %zu alternatives, matched %zu",
             branches->nitems, matched);
    } else if (matched == 0 && !has_none_branch) {
        if (common.len)
            verr(c, v, path, "must set %s and exactly one of %s", cd_buf_str(&common),
                 cd_buf_str(&alts));
        else
            verr(c, v, path, "must set exactly one of %s", cd_buf_str(&alts));
    } else {
        verr(c, v, path, "must set %s one of %s, got %s", has_none_branch ? "at most" : "only",
             cd_buf_str(&alts), ngot ? cd_buf_str(&got) : "none");
    }
    cd_buf_free(&common);
    cd_buf_free(&alts);
    cd_buf_free(&got);
}

static void check_combinators(vctx *c, const cd_node *schema, const cd_node *v, const char *path,
                              unsigned depth)
{
    const cd_node *all = cd_map_get(schema, "allOf");
    if (all && all->type == CD_N_SEQ)
        for (size_t i = 0; i < all->nitems; i++)
            validate(c, all->items[i], v, path, depth + 1);

    const cd_node *any = cd_map_get(schema, "anyOf");
    if (any && any->type == CD_N_SEQ && any->nitems) {
        bool ok = false;
        for (size_t i = 0; i < any->nitems && !ok; i++)
            ok = count_errors(c, any->items[i], v, path, depth) == 0;
        if (!ok)
            verr(c, v, path, "does not match any of the allowed forms");
    }

    const cd_node *one = cd_map_get(schema, "oneOf");
    if (one && one->type == CD_N_SEQ && one->nitems) {
        size_t matched = 0;
        bool match[64] = {false};
        for (size_t i = 0; i < one->nitems && i < 64; i++) {
            match[i] = count_errors(c, one->items[i], v, path, depth) == 0;
            matched += match[i];
        }
        if (matched != 1) {
            if (c->diags)
                describe_one_of(c, one, v, path, matched, match);
            else
                c->errors++;
        }
    }

    const cd_node *not = cd_map_get(schema, "not");
    if (not && not->type == CD_N_MAP && count_errors(c, not, v, path, depth) == 0)
        verr(c, v, path, "matches a form that is not allowed");
}

static void validate(vctx *c, const cd_node *schema, const cd_node *v, const char *path,
                     unsigned depth)
{
    if (!schema || schema->type != CD_N_MAP || !v)
        return;
    if (depth > CD_NODE_MAX_DEPTH) {
        verr(c, v, path, "value nests too deeply");
        return;
    }
    if (v->type == CD_N_NULL && nullable(schema))
        return;
    if (flag(schema, "x-kubernetes-int-or-string")) {
        if (v->type != CD_N_INT && v->type != CD_N_STR) {
            verr(c, v, path, "must be an integer or a string, got %s", show(c, v));
            return;
        }
    }
    const char *type = str_at(schema, "type");
    if (type && !type_ok(type, v)) {
        verr(c, v, path, "must be %s, got %s", article(type), show(c, v));
        return;
    }
    check_enum(c, schema, v, path);
    switch (v->type) {
    case CD_N_STR: check_string(c, schema, v, path); break;
    case CD_N_INT:
    case CD_N_FLOAT: check_number(c, schema, v, path); break;
    case CD_N_SEQ: check_array(c, schema, v, path, depth); break;
    case CD_N_MAP: check_object(c, schema, v, path, depth); break;
    default: break;
    }
    check_combinators(c, schema, v, path, depth);
}

size_t cd_schema_validate(const cd_node *schema, const cd_node *value, const char *file,
                          const char *path, cd_diags *diags)
{
    cd_arena tmp;
    cd_arena_init(&tmp, 4096);
    vctx c = {&tmp, file, diags, 0};
    validate(&c, schema, value, path ? path : "", 0);
    cd_arena_free(&tmp);
    return c.errors;
}
