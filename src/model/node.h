/* node.h - a document tree with positions: what YAML and JSON manifests
 * parse into before validation and decoding. Built from libfyaml events
 * (YAML 1.2 core schema, anchors, aliases, merge keys, multi-document
 * streams) or from a jansson value (API input, no positions). All memory
 * lives in the stream's arena. Aliases share nodes (the tree is a DAG);
 * every node carries its expanded size so alias bombs are refused. */
#ifndef CD_NODE_H
#define CD_NODE_H
#include "model/diag.h"
#include "util/arena.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CD_N_NULL, CD_N_BOOL, CD_N_INT, CD_N_FLOAT, CD_N_STR, CD_N_MAP, CD_N_SEQ
} cd_node_type;

typedef struct cd_node cd_node;
typedef struct cd_pair { cd_node *key, *value; } cd_pair;

struct cd_node {
    cd_node_type type;
    int line, col;            /* 1-based, 0 when unknown */
    const char *str;          /* scalar text (also for keys); NUL-terminated */
    size_t len;
    union { bool b; int64_t i; double f; } v;
    cd_pair *pairs;           /* CD_N_MAP */
    size_t npairs;
    cd_node **items;          /* CD_N_SEQ */
    size_t nitems;
    uint64_t weight;          /* nodes in the expanded subtree */
    void *aux;                /* free for users (the schema caches regexes) */
};

typedef struct cd_doc {
    cd_node *root;            /* NULL for an empty document */
    int index;                /* 0-based position in the stream */
    int line;                 /* line where the document starts */
} cd_doc;

typedef struct cd_stream {
    cd_arena arena;
    char *file;               /* display name */
    cd_doc *docs;
    size_t ndocs;
} cd_stream;

#define CD_NODE_MAX_WEIGHT 2000000u
#define CD_NODE_MAX_DEPTH  200

/* Parses YAML (or JSON when json is true; JSON is also valid YAML 1.2).
 * Syntax errors are added to diags with their position; documents parsed
 * before the error are kept. Returns NULL only on allocation failure. */
cd_stream *cd_stream_parse(const char *file, const char *data, size_t len, bool json,
                           cd_diags *diags);
void cd_stream_free(cd_stream *s);

/* Wraps a jansson value as a one-document stream (no positions). */
cd_stream *cd_stream_from_json(const char *name, json_t *value);

/* Lookup helpers. */
cd_node *cd_map_get(const cd_node *map, const char *key);
const char *cd_node_str(const cd_node *n);      /* string scalars only, else NULL */
bool cd_node_is_scalar(const cd_node *n);
const char *cd_node_type_name(cd_node_type t);

/* Converts a subtree to jansson (keys in document order). */
json_t *cd_node_to_json(const cd_node *n);

/* Appends a path segment: "a" + "b" -> "a.b", "a" + [3] -> "a[3]". */
char *cd_path_key(cd_arena *a, const char *base, const char *key);
char *cd_path_index(cd_arena *a, const char *base, size_t index);

#endif
