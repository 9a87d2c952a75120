/* node.c - YAML/JSON text -> cd_node tree with positions, via libfyaml's
 * event parser. Resolves plain scalars with the YAML 1.2 core schema,
 * anchors/aliases (shared nodes) and "<<" merge keys. Must not keep any
 * pointer into the input buffer: scalars are copied into the arena. */
#include "model/node.h"
#include "util/grow.h"
#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small growable arrays backed by malloc while building ------------ */

typedef struct {
    cd_node *node;
    /* children collected so far */
    cd_pair *pairs;
    size_t npairs, cap_pairs;
    cd_node **items;
    size_t nitems, cap_items;
    cd_node *pending_key;   /* mapping: key waiting for its value */
    const char *anchor;
} frame;

typedef struct {
    const char *name;
    cd_node *node;
} anchor_def;

typedef struct {
    cd_stream *s;
    cd_diags *diags;
    frame *stack;
    size_t depth, cap;
    anchor_def *anchors;
    size_t nanchors, cap_anchors;
    bool failed;
    bool stop;              /* nesting beyond CD_NODE_MAX_DEPTH: the rest is not read */
    const char *input;      /* the text being parsed (marks are offsets into it) */
    size_t input_len;
} builder;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    return cd_grow(p, cap, need, elem, 8);
}

#define CD_STR_(x) #x
#define CD_STR(x) CD_STR_(x)

static void error_at(builder *b, int line, int col, const char *fmt, const char *arg)
{
    cd_diags_add(b->diags, CD_DIAG_ERROR, b->s->file, line, col, "", fmt, arg);
    b->failed = true;
}

/* ---- scalar resolution (YAML 1.2 core schema) ------------------------- */

static bool is_null(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static int is_bool(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return 0;
    return -1;
}

static bool parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    int base = 10;
    bool neg = false;
    if (p[0] == '0' && p[1] == 'o') {
        base = 8;
        p += 2;
    } else if (p[0] == '0' && p[1] == 'x') {
        base = 16;
        p += 2;
    } else if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (!*p)
        return false;
    uint64_t v = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return false;
        if (d >= base)
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

static bool parse_float(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        *out = NAN;
        return true;
    }
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    bool digits = false;
    while (*p >= '0' && *p <= '9')
        p++, digits = true;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits = true;
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    *out = strtod(s, NULL);
    return true;
}

static void resolve_plain(cd_node *n)
{
    const char *s = n->str;
    int b;
    if (is_null(s)) {
        n->type = CD_N_NULL;
    } else if ((b = is_bool(s)) >= 0) {
        n->type = CD_N_BOOL;
        n->v.b = b;
    } else if (parse_int(s, &n->v.i)) {
        n->type = CD_N_INT;
    } else if (parse_float(s, &n->v.f)) {
        n->type = CD_N_FLOAT;
    } else {
        n->type = CD_N_STR;
    }
}

static void apply_tag(builder *b, cd_node *n, const char *tag)
{
    if (!tag)
        return;
    if (!strcmp(tag, "tag:yaml.org,2002:str") || !strcmp(tag, "!!str")) {
        n->type = CD_N_STR;
    } else if (!strcmp(tag, "tag:yaml.org,2002:int") || !strcmp(tag, "!!int")) {
        if (!parse_int(n->str, &n->v.i))
            error_at(b, n->line, n->col, "invalid !!int value \"%s\"", n->str);
        n->type = CD_N_INT;
    } else if (!strcmp(tag, "tag:yaml.org,2002:float") || !strcmp(tag, "!!float")) {
        int64_t i;
        if (parse_int(n->str, &i))
            n->v.f = (double)i;
        else if (!parse_float(n->str, &n->v.f))
            error_at(b, n->line, n->col, "invalid !!float value \"%s\"", n->str);
        n->type = CD_N_FLOAT;
    } else if (!strcmp(tag, "tag:yaml.org,2002:bool") || !strcmp(tag, "!!bool")) {
        int v = is_bool(n->str);
        if (v < 0)
            error_at(b, n->line, n->col, "invalid !!bool value \"%s\"", n->str);
        n->type = CD_N_BOOL;
        n->v.b = v > 0;
    } else if (!strcmp(tag, "tag:yaml.org,2002:null") || !strcmp(tag, "!!null")) {
        n->type = CD_N_NULL;
    }
}

/* ---- tree building ---------------------------------------------------- */

static cd_node *new_node(builder *b, cd_node_type t, const struct fy_mark *m)
{
    cd_node *n = cd_arena_alloc(&b->s->arena, sizeof *n);
    n->type = t;
    n->line = m ? m->line + 1 : 0;
    n->col = m ? m->column + 1 : 0;
    n->str = "";
    n->weight = 1;
    return n;
}

static void define_anchor(builder *b, const char *name, cd_node *n)
{
    if (!name)
        return;
    /* a later definition of the same name shadows the earlier one */
    b->anchors = grow(b->anchors, &b->cap_anchors, b->nanchors + 1, sizeof *b->anchors);
    b->anchors[b->nanchors++] = (anchor_def){name, n};
}

static cd_node *find_anchor(builder *b, const char *name)
{
    for (size_t i = b->nanchors; i > 0; i--)
        if (!strcmp(b->anchors[i - 1].name, name))
            return b->anchors[i - 1].node;
    return NULL;
}

static const char *token_text(builder *b, struct fy_token *t)
{
    if (!t)
        return NULL;
    size_t len = 0;
    const char *s = fy_token_get_text(t, &len);
    return s ? cd_arena_strndup(&b->s->arena, s, len) : NULL;
}

static bool is_flow_ws(char c) { return c == ' ' || c == '\t'; }

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* n hex digits at p as a number; -1 when they are not */
static long hex_value(const char *p, size_t avail, size_t n)
{
    if (avail < n)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The escape at p[i] ('\\' already seen, p[i+1] the letter) as a code
 * point; *used is its length in bytes. -1 when it is not one that
 * YAML 1.2 §5.7 (or JSON, for surrogate pairs) defines. */
static long escape_at(const char *p, size_t n, size_t i, size_t *used)
{
    static const char simple[] = "0\0a\ab\bt\t\t\tn\nv\vf\fr\re\x1b  \"\"//\\\\";
    char e = p[i + 1];
    for (size_t k = 0; k + 1 < sizeof simple; k += 2)
        if (simple[k] == e) {
            *used = 2;
            return (unsigned char)simple[k + 1];
        }
    switch (e) {
    case 'N': *used = 2; return 0x85;
    case '_': *used = 2; return 0xA0;
    case 'L': *used = 2; return 0x2028;
    case 'P': *used = 2; return 0x2029;
    case 'x': *used = 4; return hex_value(p + i + 2, n - i - 2, 2);
    case 'U': *used = 10; {
        long v = hex_value(p + i + 2, n - i - 2, 8);
        return v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ? -1 : v;
    }
    case 'u': {
        *used = 6;
        long v = hex_value(p + i + 2, n - i - 2, 4);
        if (v < 0xD800 || v > 0xDFFF)
            return v;
        if (v > 0xDBFF || n - i < 12 || p[i + 6] != '\\' || p[i + 7] != 'u')
            return -1;   /* a lone surrogate */
        long lo = hex_value(p + i + 8, n - i - 8, 4);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        *used = 12;
        return 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
    }
    default:
        return -1;
    }
}

/* Line folding inside a quoted scalar at the break p[*i] (YAML 1.2 §7.3):
 * the line's trailing white space (not escaped, so after line_start) goes,
 * the next lines' leading white space goes, one break becomes a space and
 * n+1 breaks n newlines. escaped: the break followed a '\', so it makes
 * nothing (not even a space; the empty lines after it still make newlines)
 * and the white space before it stays. Returns the new output length. */
static size_t fold_break(const char *p, size_t n, size_t *i, char *out, size_t o,
                         size_t line_start, bool escaped)
{
    if (!escaped)
        while (o > line_start && is_flow_ws(out[o - 1]))
            o--;
    size_t breaks = 0;
    while (*i < n && (p[*i] == '\n' || p[*i] == '\r')) {
        *i += (p[*i] == '\r' && *i + 1 < n && p[*i + 1] == '\n') ? 2 : 1;
        breaks++;
        while (*i < n && is_flow_ws(p[*i]))
            (*i)++;
    }
    if (breaks == 1 && !escaped)
        out[o++] = ' ';
    for (size_t k = 1; k < breaks; k++)
        out[o++] = '\n';
    return o;
}

/* Decodes the body of a double-quoted scalar (between its quotes, as the
 * scanner accepted it) per YAML 1.2 §7.3.1: escapes (§5.7; a JSON
 * surrogate pair is one character), folding as for single quotes, and an
 * escaped line break that joins its lines. libfyaml 0.7.12 gets escaped
 * white space and escaped breaks wrong ("a\ " then a break lost its
 * spaces; some such scalars gained a NUL). NULL (and libfyaml's text is
 * used) for an escape it does not know. */
static char *decode_double_quoted(cd_arena *a, const char *p, size_t n, size_t *outlen)
{
    char *out = cd_arena_alloc(a, 2 * n + 1);   /* \L: 2 bytes in, 3 out */
    size_t o = 0, line_start = 0, i = 0;
    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n && (p[i + 1] == '\n' || p[i + 1] == '\r')) {
            i++;
            o = fold_break(p, n, &i, out, o, line_start, true);
            line_start = o;
        } else if (c == '\\') {
            size_t used = 0;
            long cp = i + 1 < n ? escape_at(p, n, i, &used) : -1;
            if (cp < 0)
                return NULL;
            o += put_utf8(out + o, (uint32_t)cp);
            i += used;
            line_start = o;   /* escaped white space is content */
        } else if (c == '\n' || c == '\r') {
            o = fold_break(p, n, &i, out, o, line_start, false);
            line_start = o;
        } else {
            out[o++] = c;
            i++;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* Decodes the body of a single-quoted scalar (the bytes between its quotes,
 * as the scanner accepted them) per YAML 1.2 §7.3.2: "''" is one quote;
 * line breaks fold (fold_break). libfyaml 0.7.12's own decoding of this
 * style is wrong ('a''''b' gives "a'''") and leaks its chunk buffer when
 * five or more "''" follow each other, so it is not used for it. */
static char *decode_single_quoted(cd_arena *a, const char *p, size_t n, size_t *outlen)
{
    char *out = cd_arena_alloc(a, n + 1);
    size_t o = 0, line_start = 0, i = 0;
    while (i < n) {
        char c = p[i];
        if (c == '\'') {
            out[o++] = '\'';
            i += (i + 1 < n && p[i + 1] == '\'') ? 2 : 1;
        } else if (c == '\n' || c == '\r') {
            o = fold_break(p, n, &i, out, o, line_start, false);
            line_start = o;
        } else {
            out[o++] = c;
            i++;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* A quoted scalar's text decoded by canaryd from the input itself (its
 * marks are byte offsets into it, just inside the quotes); NULL when they
 * do not frame one, and libfyaml's text is used. */
static const char *quoted_text(builder *b, struct fy_token *t, char quote, size_t *len)
{
    const struct fy_mark *s = fy_token_start_mark(t), *e = fy_token_end_mark(t);
    if (!s || !e || !b->input || s->input_pos == 0 || e->input_pos < s->input_pos ||
        e->input_pos >= b->input_len || b->input[s->input_pos - 1] != quote ||
        b->input[e->input_pos] != quote)
        return NULL;
    const char *body = b->input + s->input_pos;
    size_t n = e->input_pos - s->input_pos;
    return quote == '\'' ? decode_single_quoted(&b->s->arena, body, n, len)
                         : decode_double_quoted(&b->s->arena, body, n, len);
}

static bool key_equal(const cd_node *a, const cd_node *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

static bool is_merge_key(const cd_node *k) { return k->type == CD_N_STR && !strcmp(k->str, "<<") && k->aux; }

/* Adds n as a child of the frame on top of the stack (or as the root). */
static void attach(builder *b, cd_node *n, cd_node **root)
{
    if (b->depth == 0) {
        *root = n;
        return;
    }
    frame *f = &b->stack[b->depth - 1];
    if (f->node->type == CD_N_SEQ) {
        f->items = grow(f->items, &f->cap_items, f->nitems + 1, sizeof *f->items);
        f->items[f->nitems++] = n;
        f->node->weight += n->weight;
        return;
    }
    if (!f->pending_key) {
        if (n->type == CD_N_MAP || n->type == CD_N_SEQ) {
            error_at(b, n->line, n->col, "%s", "mapping keys must be scalars");
            /* keep going with a placeholder key so the structure stays sane */
        }
        f->pending_key = n;
        return;
    }
    cd_node *key = f->pending_key;
    f->pending_key = NULL;
    if (n->line == 0) {   /* an empty value has no mark of its own: use its key's */
        n->line = key->line;
        n->col = key->col;
    }
    if (!is_merge_key(key)) {
        for (size_t i = 0; i < f->npairs; i++) {
            if (!is_merge_key(f->pairs[i].key) && key_equal(f->pairs[i].key, key)) {
                error_at(b, key->line, key->col, "duplicate mapping key \"%s\"", key->str);
                return;
            }
        }
    }
    f->pairs = grow(f->pairs, &f->cap_pairs, f->npairs + 1, sizeof *f->pairs);
    f->pairs[f->npairs++] = (cd_pair){key, n};
    f->node->weight += n->weight + 1;
}

static bool map_has_key(cd_pair *pairs, size_t n, const cd_node *key)
{
    for (size_t i = 0; i < n; i++)
        if (!is_merge_key(pairs[i].key) && key_equal(pairs[i].key, key))
            return true;
    return false;
}

/* Resolves "<<" entries: explicit keys win, then earlier merge sources. */
static void finish_mapping(builder *b, frame *f)
{
    cd_pair *out = NULL;
    size_t nout = 0, cap = 0;
    /* explicit pairs first, in document order */
    for (size_t i = 0; i < f->npairs; i++) {
        if (is_merge_key(f->pairs[i].key))
            continue;
        out = grow(out, &cap, nout + 1, sizeof *out);
        out[nout++] = f->pairs[i];
    }
    for (size_t i = 0; i < f->npairs; i++) {
        if (!is_merge_key(f->pairs[i].key))
            continue;
        cd_node *v = f->pairs[i].value;
        cd_node **sources = &v;
        size_t nsrc = 1;
        if (v->type == CD_N_SEQ) {
            sources = v->items;
            nsrc = v->nitems;
        }
        for (size_t s = 0; s < nsrc; s++) {
            cd_node *src = sources[s];
            if (src->type != CD_N_MAP) {
                error_at(b, src->line, src->col, "%s", "merge key \"<<\" needs a mapping or a list of mappings");
                continue;
            }
            for (size_t k = 0; k < src->npairs; k++) {
                if (map_has_key(out, nout, src->pairs[k].key))
                    continue;
                out = grow(out, &cap, nout + 1, sizeof *out);
                out[nout++] = src->pairs[k];
            }
        }
    }
    cd_node *n = f->node;
    n->npairs = nout;
    n->pairs = nout ? cd_arena_alloc(&b->s->arena, nout * sizeof *out) : NULL;
    if (nout)
        memcpy(n->pairs, out, nout * sizeof *out);
    free(out);
    /* recompute the weight after merging */
    n->weight = 1;
    for (size_t i = 0; i < nout; i++)
        n->weight += 1 + n->pairs[i].value->weight;
}

static void finish_sequence(builder *b, frame *f)
{
    cd_node *n = f->node;
    n->nitems = f->nitems;
    n->items = f->nitems ? cd_arena_alloc(&b->s->arena, f->nitems * sizeof *f->items) : NULL;
    if (f->nitems)
        memcpy(n->items, f->items, f->nitems * sizeof *f->items);
}

static void push(builder *b, cd_node *n, const char *anchor)
{
    b->stack = grow(b->stack, &b->cap, b->depth + 1, sizeof *b->stack);
    frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
    f->anchor = anchor;
}

static cd_node *pop(builder *b)
{
    frame *f = &b->stack[--b->depth];
    if (f->node->type == CD_N_MAP)
        finish_mapping(b, f);
    else
        finish_sequence(b, f);
    free(f->pairs);
    free(f->items);
    define_anchor(b, f->anchor, f->node);
    return f->node;
}

static void reset_stack(builder *b)
{
    while (b->depth > 0) {
        frame *f = &b->stack[--b->depth];
        free(f->pairs);
        free(f->items);
    }
}

static void add_doc(builder *b, cd_node *root, int line)
{
    cd_stream *s = b->s;
    cd_doc *docs = realloc(s->docs, (s->ndocs + 1) * sizeof *docs);
    if (!docs)
        abort();
    s->docs = docs;
    s->docs[s->ndocs] = (cd_doc){root, (int)s->ndocs, line};
    s->ndocs++;
}

static void handle_event(builder *b, struct fy_event *e, cd_node **root, int *doc_line)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    switch (e->type) {
    case FYET_DOCUMENT_START:
        *root = NULL;
        *doc_line = m ? m->line + 1 : 1;
        b->nanchors = 0;
        break;
    case FYET_DOCUMENT_END:
        if (b->depth == 0)
            add_doc(b, *root, *doc_line);
        *root = NULL;
        break;
    case FYET_MAPPING_START:
    case FYET_SEQUENCE_START: {
        bool map = e->type == FYET_MAPPING_START;
        if (b->depth >= CD_NODE_MAX_DEPTH) {
            error_at(b, m ? m->line + 1 : 0, m ? m->column + 1 : 0, "%s",
                     "document nests more than " CD_STR(CD_NODE_MAX_DEPTH)
                     " levels deep; the rest is not read");
            b->stop = true;
            break;
        }
        cd_node *n = new_node(b, map ? CD_N_MAP : CD_N_SEQ, m);
        struct fy_token *anchor = map ? e->mapping_start.anchor : e->sequence_start.anchor;
        push(b, n, token_text(b, anchor));
        break;
    }
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END: {
        if (b->depth == 0)
            break;
        cd_node *n = pop(b);
        attach(b, n, root);
        break;
    }
    case FYET_SCALAR: {
        cd_node *n = new_node(b, CD_N_STR, m);
        size_t len = 0;
        enum fy_scalar_style style = fy_token_scalar_style(e->scalar.value);
        const char *sq = style == FYSS_SINGLE_QUOTED   ? quoted_text(b, e->scalar.value, '\'', &len)
                         : style == FYSS_DOUBLE_QUOTED ? quoted_text(b, e->scalar.value, '"', &len)
                                                       : NULL;
        if (sq) {
            n->str = sq;
            n->len = len;
        } else {
            const char *text = fy_token_get_text(e->scalar.value, &len);
            n->str = cd_arena_strndup(&b->s->arena, text ? text : "", text ? len : 0);
            n->len = text ? len : 0;
        }
        if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) && n->col > 1)
            n->col--;   /* libfyaml marks the first character inside the quotes */
        if (style == FYSS_PLAIN) {
            resolve_plain(n);
            if (!strcmp(n->str, "<<"))
                n->aux = n;   /* marks a real (plain) merge key */
        }
        const char *tag = token_text(b, e->scalar.tag);
        apply_tag(b, n, tag);
        define_anchor(b, token_text(b, e->scalar.anchor), n);
        attach(b, n, root);
        break;
    }
    case FYET_ALIAS: {
        const char *name = token_text(b, e->alias.anchor);
        cd_node *target = name ? find_anchor(b, name) : NULL;
        if (!target) {
            /* libfyaml marks the name; point at the '*' */
            error_at(b, m ? m->line + 1 : 0, m ? (m->column > 0 ? m->column : 1) : 0,
                     "unknown alias \"*%s\"", name ? name : "");
            target = new_node(b, CD_N_NULL, m);
        }
        attach(b, target, root);
        break;
    }
    default:
        break;
    }
}

static void collect_syntax_errors(builder *b, struct fy_diag *diag)
{
    void *it = NULL;
    struct fy_diag_error *err;
    bool any = false;
    while ((err = fy_diag_errors_iterate(diag, &it))) {
        cd_diags_add(b->diags, CD_DIAG_ERROR, b->s->file, err->line, err->column, "",
                     "YAML syntax error: %s", err->msg);
        any = true;
    }
    if (!any)
        cd_diags_add(b->diags, CD_DIAG_ERROR, b->s->file, 0, 0, "", "YAML syntax error");
}

static void silent_output(struct fy_diag *d, void *user, const char *buf, size_t len)
{
}

/* Returns why the text is not YAML's printable UTF-8 (and where), or NULL. */
static const char *find_unprintable(const char *data, size_t len, int *line, int *col)
{
    const unsigned char *p = (const unsigned char *)data, *end = p + len;
    *line = 1;
    *col = 1;
    while (p < end) {
        unsigned c = *p;
        size_t n = 1;
        uint32_t cp = c;
        if (c >= 0x80) {
            if ((c & 0xE0) == 0xC0)
                n = 2, cp = c & 0x1F;
            else if ((c & 0xF0) == 0xE0)
                n = 3, cp = c & 0x0F;
            else if ((c & 0xF8) == 0xF0)
                n = 4, cp = c & 0x07;
            else
                return "invalid UTF-8";
            if ((size_t)(end - p) < n)
                return "invalid UTF-8";
            for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xC0) != 0x80)
                    return "invalid UTF-8";
                cp = (cp << 6) | (p[i] & 0x3F);
            }
            if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return "invalid UTF-8";
        }
        if (cp == 0)
            return "NUL character (0x00) is not allowed";
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F ||
            (cp >= 0x80 && cp < 0xA0 && cp != 0x85) || cp == 0xFFFE || cp == 0xFFFF)
            return "control character is not allowed";
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
        p += n;
    }
    return NULL;
}

/* libfyaml's scanner reads ahead across every open flow collection before
 * it hands out the first event (each "[" may start a key), so "[[[[..."
 * costs memory in proportion to its length, whatever the depth limit of
 * the tree. Counting brackets bounds it first: an over-estimate (brackets
 * inside strings count too), so only inputs with hundreds of unbalanced
 * brackets are refused. Returns the offset where the depth is exceeded,
 * or len. */
static size_t flow_depth_exceeded(const char *data, size_t len, int max, int *line, int *col)
{
    int depth = 0;
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '[' || c == '{') {
            if (++depth > max)
                return i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
    return len;
}

cd_stream *cd_stream_parse(const char *file, const char *data, size_t len, bool json,
                           cd_diags *diags)
{
    cd_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    cd_arena_init(&s->arena, 16384);
    s->file = strdup(file ? file : "<input>");

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = silent_output;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag) {
        cd_stream_free(s);
        return NULL;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    /* sloppy indentation: a multi-line quoted scalar may continue at the
     * column of its key (Kubernetes' CRDs, Flagger's own among them, are
     * written so; kubectl's and PyYAML's readers accept it) */
    cfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | (json ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE) |
                FYPCF_DEFAULT_VERSION_1_2 | FYPCF_SLOPPY_FLOW_INDENTATION;
    cfg.diag = diag;
    struct fy_parser *fyp = fy_parser_create(&cfg);
    if (!fyp) {
        fy_diag_destroy(diag);
        cd_stream_free(s);
        return NULL;
    }

    builder b;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.diags = diags;
    b.input = data;
    b.input_len = len;
    int bad_line, bad_col;
    const char *why = find_unprintable(data, len, &bad_line, &bad_col);
    if (why) {
        /* YAML allows only printable Unicode (YAML 1.2 §5.1); libfyaml
         * 0.7.12 can also loop forever on such bytes in a directive */
        cd_diags_add(diags, CD_DIAG_ERROR, s->file, bad_line, bad_col, "", "YAML syntax error: %s",
                     why);
        len = 0;
    }
    if (len && flow_depth_exceeded(data, len, CD_NODE_MAX_DEPTH, &bad_line, &bad_col) < len) {
        cd_diags_add(diags, CD_DIAG_ERROR, s->file, bad_line, bad_col, "",
                     "more than %d nested [ or { (a document nests at most %d levels); not read",
                     CD_NODE_MAX_DEPTH, CD_NODE_MAX_DEPTH);
        len = 0;
    }
    cd_node *root = NULL;
    int doc_line = 1;

    if (len == 0 || fy_parser_set_string(fyp, data, len) == 0) {
        struct fy_event *e;
        while (len > 0 && !b.stop && (e = fy_parser_parse(fyp))) {
            handle_event(&b, e, &root, &doc_line);
            fy_parser_event_free(fyp, e);
        }
        if (!b.stop && fy_parser_get_stream_error(fyp))
            collect_syntax_errors(&b, diag);
    } else {
        cd_diags_add(diags, CD_DIAG_ERROR, s->file, 0, 0, "", "cannot read input");
    }
    reset_stack(&b);
    free(b.stack);
    free(b.anchors);
    fy_parser_destroy(fyp);
    fy_diag_destroy(diag);

    for (size_t i = 0; i < s->ndocs; i++) {
        if (s->docs[i].root && s->docs[i].root->weight > CD_NODE_MAX_WEIGHT) {
            cd_diags_add(diags, CD_DIAG_ERROR, s->file, s->docs[i].line, 1, "",
                         "document expands to more than %u nodes (aliases)", CD_NODE_MAX_WEIGHT);
            s->docs[i].root = NULL;
        }
    }
    return s;
}

void cd_stream_free(cd_stream *s)
{
    if (!s)
        return;
    cd_arena_free(&s->arena);
    free(s->docs);
    free(s->file);
    free(s);
}

/* ---- from jansson ----------------------------------------------------- */

static cd_node *from_json(cd_arena *a, json_t *v, unsigned depth)
{
    cd_node *n = cd_arena_alloc(a, sizeof *n);
    n->str = "";
    n->weight = 1;
    if (depth > CD_NODE_MAX_DEPTH) {
        n->type = CD_N_NULL;
        return n;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        n->type = CD_N_MAP;
        n->npairs = json_object_size(v);
        n->pairs = n->npairs ? cd_arena_alloc(a, n->npairs * sizeof *n->pairs) : NULL;
        size_t i = 0;
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            cd_node *key = cd_arena_alloc(a, sizeof *key);
            key->type = CD_N_STR;
            key->str = cd_arena_strdup(a, k);
            key->len = strlen(k);
            key->weight = 1;
            n->pairs[i].key = key;
            n->pairs[i].value = from_json(a, x, depth + 1);
            n->weight += 1 + n->pairs[i].value->weight;
            i++;
        }
        break;
    }
    case JSON_ARRAY: {
        n->type = CD_N_SEQ;
        n->nitems = json_array_size(v);
        n->items = n->nitems ? cd_arena_alloc(a, n->nitems * sizeof *n->items) : NULL;
        for (size_t i = 0; i < n->nitems; i++) {
            n->items[i] = from_json(a, json_array_get(v, i), depth + 1);
            n->weight += n->items[i]->weight;
        }
        break;
    }
    case JSON_STRING:
        n->type = CD_N_STR;
        n->len = json_string_length(v);
        n->str = cd_arena_strndup(a, json_string_value(v), n->len);
        break;
    case JSON_INTEGER:
        n->type = CD_N_INT;
        n->v.i = json_integer_value(v);
        n->str = cd_arena_printf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        n->len = strlen(n->str);
        break;
    case JSON_REAL:
        n->type = CD_N_FLOAT;
        n->v.f = json_real_value(v);
        n->str = cd_arena_printf(a, "%.17g", n->v.f);
        n->len = strlen(n->str);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        n->type = CD_N_BOOL;
        n->v.b = json_is_true(v);
        n->str = n->v.b ? "true" : "false";
        n->len = strlen(n->str);
        break;
    default:
        n->type = CD_N_NULL;
        n->str = "null";
        n->len = 4;
    }
    return n;
}

cd_stream *cd_stream_from_json(const char *name, json_t *value)
{
    cd_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    cd_arena_init(&s->arena, 16384);
    s->file = strdup(name ? name : "<api>");
    s->docs = calloc(1, sizeof *s->docs);
    if (!s->docs || !s->file) {
        cd_stream_free(s);
        return NULL;
    }
    s->ndocs = 1;
    s->docs[0].root = value ? from_json(&s->arena, value, 0) : NULL;
    return s;
}

/* ---- helpers ---------------------------------------------------------- */

cd_node *cd_map_get(const cd_node *map, const char *key)
{
    if (!map || map->type != CD_N_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->npairs; i++) {
        const cd_node *k = map->pairs[i].key;
        if (k->len == klen && memcmp(k->str, key, klen) == 0)
            return map->pairs[i].value;
    }
    return NULL;
}

const char *cd_node_str(const cd_node *n) { return n && n->type == CD_N_STR ? n->str : NULL; }

bool cd_node_is_scalar(const cd_node *n) { return n && n->type != CD_N_MAP && n->type != CD_N_SEQ; }

const char *cd_node_type_name(cd_node_type t)
{
    switch (t) {
    case CD_N_NULL: return "null";
    case CD_N_BOOL: return "boolean";
    case CD_N_INT: return "integer";
    case CD_N_FLOAT: return "number";
    case CD_N_STR: return "string";
    case CD_N_MAP: return "object";
    case CD_N_SEQ: return "array";
    }
    return "?";
}

json_t *cd_node_to_json(const cd_node *n)
{
    if (!n)
        return json_null();
    switch (n->type) {
    case CD_N_NULL: return json_null();
    case CD_N_BOOL: return json_boolean(n->v.b);
    case CD_N_INT: return json_integer(n->v.i);
    case CD_N_FLOAT: return isfinite(n->v.f) ? json_real(n->v.f) : json_null();
    case CD_N_STR: return json_stringn(n->str, n->len);
    case CD_N_MAP: {
        json_t *o = json_object();
        for (size_t i = 0; i < n->npairs; i++)
            json_object_setn_new_nocheck(o, n->pairs[i].key->str, n->pairs[i].key->len,
                                         cd_node_to_json(n->pairs[i].value));
        return o;
    }
    case CD_N_SEQ: {
        json_t *a = json_array();
        for (size_t i = 0; i < n->nitems; i++)
            json_array_append_new(a, cd_node_to_json(n->items[i]));
        return a;
    }
    }
    return json_null();
}

static bool plain_key(const char *k)
{
    if (!*k)
        return false;
    for (const char *p = k; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

char *cd_path_key(cd_arena *a, const char *base, const char *key)
{
    if (plain_key(key))
        return base && *base ? cd_arena_printf(a, "%s.%s", base, key) : cd_arena_strdup(a, key);
    return cd_arena_printf(a, "%s[\"%s\"]", base ? base : "", key);
}

char *cd_path_index(cd_arena *a, const char *base, size_t index)
{
    return cd_arena_printf(a, "%s[%zu]", base ? base : "", index);
}
