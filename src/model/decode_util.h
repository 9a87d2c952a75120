/* decode_util.h - small helpers shared by the kind decoders: copy typed
 * values out of a validated cd_node tree into an object's arena, reporting
 * the few errors the schema cannot express (whole numbers). Internal to
 * src/model. */
#ifndef CD_DECODE_UTIL_H
#define CD_DECODE_UTIL_H
#include "model/canary.h"
#include "model/diag.h"
#include "model/node.h"
#include "util/arena.h"

typedef struct cd_dec {
    cd_arena *a;        /* the object's arena: results live here */
    cd_arena tmp;       /* paths and scratch */
    const char *file;
    cd_diags *diags;
    const char *ns;     /* the object's namespace, for default refs */
} cd_dec;

void cd_dec_init(cd_dec *d, cd_arena *a, const char *file, cd_diags *diags);
void cd_dec_done(cd_dec *d);

void cd_dec_error(cd_dec *d, const cd_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cd_dec_warn(cd_dec *d, const cd_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

const char *cd_dec_path(cd_dec *d, const char *base, const char *key);

/* NULL when absent, null or not a string. */
const char *cd_dec_str(cd_dec *d, const cd_node *map, const char *key);
bool cd_dec_bool(const cd_node *map, const char *key);
/* true when present and numeric; *out set. */
bool cd_dec_num(const cd_node *map, const char *key, double *out);
/* true when present; reports "must be a whole number" for fractions. */
bool cd_dec_int(cd_dec *d, const cd_node *map, const char *key, const char *path,
                int64_t *out);
int cd_dec_int_or(cd_dec *d, const cd_node *map, const char *key, const char *path, int def);

void cd_dec_strmap(cd_dec *d, const cd_node *n, cd_strmap *out);
void cd_dec_strlist(cd_dec *d, const cd_node *n, cd_strlist *out);
void cd_dec_string_match(cd_dec *d, const cd_node *n, cd_string_match *out);
void cd_dec_named_matches(cd_dec *d, const cd_node *n, cd_named_matches *out);
void cd_dec_meta(cd_dec *d, const cd_node *root, const char *default_ns, cd_object_meta *out);
/* Deep copy into d->a (for pass-through subtrees). */
const cd_node *cd_dec_copy_node(cd_dec *d, const cd_node *n);

/* JSON helpers for encoders. */
json_t *cd_strmap_json(const cd_strmap *m);
json_t *cd_strlist_json(const cd_strlist *l);
json_t *cd_string_match_json(const cd_string_match *m);
json_t *cd_named_matches_json(const cd_named_matches *m);
void cd_json_set_str(json_t *o, const char *key, const char *v);   /* skips NULL */
json_t *cd_meta_json(const cd_object_meta *m);

#endif
