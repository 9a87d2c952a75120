/* configs.c - config tracking as pure functions (reference §2.3): which
 * ConfigMaps and Secrets a pod spec uses, which of them are tracked, their
 * checksums (byte-identical to Go Flagger's), their -primary copies and
 * the renames in the primary's pod spec. No I/O: fetching the objects is
 * the workload port's job. */
#include "kube/kjson.h"
#include "kube/kobj.h"
#include "kube/workload/builders.h"
#include "util/buf.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cdk_config_ref *find_ref(const cdk_config_refs *r, cdk_config_kind kind, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].kind == kind && !strcmp(r->items[i].name, name))
            return &r->items[i];
    return NULL;
}

bool cdk_config_refs_has(const cdk_config_refs *r, cdk_config_kind kind, const char *name)
{
    return r && name && find_ref(r, kind, name) != NULL;
}

void cdk_config_refs_add(cdk_config_refs *r, cdk_config_kind kind, const char *name, bool optional)
{
    if (!name || !*name)
        return;
    cdk_config_ref *have = find_ref(r, kind, name);
    if (have) {
        have->optional = have->optional && optional;   /* one mandatory use makes it mandatory */
        return;
    }
    cdk_config_ref *items = realloc(r->items, (r->n + 1) * sizeof *items);
    if (!items)
        abort();
    r->items = items;
    r->items[r->n++] = (cdk_config_ref){kind, strdup(name), optional};
}

static bool opt(const json_t *o) { return json_is_true(json_object_get(o, "optional")); }

static void scan_volumes(const json_t *spec, cdk_config_refs *out)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "volumes"), i, v) {
        json_t *cm = json_object_get(v, "configMap"), *sec = json_object_get(v, "secret");
        if (json_is_object(cm))
            cdk_config_refs_add(out, CDK_CONFIGMAP, kj_str(cm, "name"), opt(cm));
        if (json_is_object(sec))
            cdk_config_refs_add(out, CDK_SECRET, kj_str(sec, "secretName"), opt(sec));
        size_t j;
        json_t *s;
        json_array_foreach(kj_at(v, "projected.sources"), j, s) {
            json_t *pcm = json_object_get(s, "configMap"), *psec = json_object_get(s, "secret");
            if (json_is_object(pcm))
                cdk_config_refs_add(out, CDK_CONFIGMAP, kj_str(pcm, "name"), opt(pcm));
            if (json_is_object(psec))
                cdk_config_refs_add(out, CDK_SECRET, kj_str(psec, "name"), opt(psec));
        }
    }
}

static void scan_containers(const json_t *list, cdk_config_refs *out)
{
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(c, "env"), j, e) {
            json_t *cm = kj_at(e, "valueFrom.configMapKeyRef");
            json_t *sec = kj_at(e, "valueFrom.secretKeyRef");
            if (json_is_object(cm))
                cdk_config_refs_add(out, CDK_CONFIGMAP, kj_str(cm, "name"), opt(cm));
            if (json_is_object(sec))
                cdk_config_refs_add(out, CDK_SECRET, kj_str(sec, "name"), opt(sec));
        }
        json_array_foreach(json_object_get(c, "envFrom"), j, e) {
            json_t *cm = json_object_get(e, "configMapRef"), *sec = json_object_get(e, "secretRef");
            if (json_is_object(cm))
                cdk_config_refs_add(out, CDK_CONFIGMAP, kj_str(cm, "name"), opt(cm));
            if (json_is_object(sec))
                cdk_config_refs_add(out, CDK_SECRET, kj_str(sec, "name"), opt(sec));
        }
    }
}

void cdk_scan_config_refs(const json_t *pod_spec, cdk_config_refs *out)
{
    scan_volumes(pod_spec, out);
    scan_containers(json_object_get(pod_spec, "containers"), out);
    scan_containers(json_object_get(pod_spec, "initContainers"), out);
}

bool cdk_config_trackable(const json_t *obj, cdk_config_kind kind)
{
    const char *a = cd_kobj_annotation(obj, CDK_CONFIG_TRACKING_ANNOTATION);
    if (a && kj_prefix(a, "disable"))
        return false;
    if (kind == CDK_CONFIGMAP)
        return true;
    const char *type = kj_str(obj, "type");
    return !type || !*type || !strcmp(type, "Opaque") || !strcmp(type, "kubernetes.io/basic-auth") ||
           !strcmp(type, "kubernetes.io/ssh-auth") || !strcmp(type, "kubernetes.io/tls");
}

/* ---- Go's encoding/json for a map[string]string --------------------------- */

static void go_string(cd_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    cd_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            cd_buf_putc(b, '\\');
            cd_buf_putc(b, (char)c);
        } else if (c == '\n') {
            cd_buf_puts(b, "\\n");
        } else if (c == '\r') {
            cd_buf_puts(b, "\\r");
        } else if (c == '\t') {
            cd_buf_puts(b, "\\t");
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            cd_buf_puts(b, u);
        } else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            cd_buf_puts(b, p[2] == 0xa8 ? "\\u2028" : "\\u2029");
            p += 2;
        } else {
            cd_buf_putc(b, (char)c);
        }
    }
    cd_buf_putc(b, '"');
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cdk_config_checksum(const json_t *data, char out[17])
{
    cd_buf b = CD_BUF_INIT;
    if (!json_is_object(data)) {
        cd_buf_puts(&b, "null");
    } else {
        size_t n = json_object_size(data), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof *keys);
        if (!keys)
            abort();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)data, k, v) keys[i++] = k;
        qsort(keys, n, sizeof *keys, key_cmp);
        cd_buf_putc(&b, '{');
        for (i = 0; i < n; i++) {
            if (i)
                cd_buf_putc(&b, ',');
            go_string(&b, keys[i]);
            cd_buf_putc(&b, ':');
            go_string(&b, json_string_value(json_object_get(data, keys[i])) ?: "");
        }
        cd_buf_putc(&b, '}');
        free(keys);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(cd_buf_str(&b), b.len, md, &mdlen, EVP_sha256(), NULL);
    cd_buf_free(&b);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

const char *cdk_config_key(cdk_config_kind kind, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", kind == CDK_SECRET ? "secret" : "configmap", name ? name : "");
    return out;
}

json_t *cdk_primary_config(const json_t *config, cdk_config_kind kind, const cd_strlist *prefixes,
                           const json_t *owner_ref)
{
    char name[512];
    snprintf(name, sizeof name, "%s-primary", kj_str(config, "metadata.name") ?: "");
    json_t *o = json_object();
    json_object_set_new(o, "apiVersion", json_string("v1"));
    json_object_set_new(o, "kind", json_string(kind == CDK_SECRET ? "Secret" : "ConfigMap"));
    json_t *md = kj_obj(o, "metadata");
    json_object_set_new(md, "name", json_string(name));
    kj_set_str(md, "namespace", kj_str(config, "metadata.namespace"));
    json_t *labels = cdk_filter_by_prefix(kj_at(config, "metadata.labels"), prefixes);
    if (json_object_size(labels))
        json_object_set_new(md, "labels", labels);
    else
        json_decref(labels);
    json_t *refs = json_array();
    if (owner_ref)
        json_array_append(refs, (json_t *)owner_ref);
    size_t i;
    json_t *r;
    json_array_foreach(kj_at(config, "metadata.ownerReferences"), i, r) {
        const char *uid = kj_str(r, "uid");
        if (owner_ref && uid && kj_str(owner_ref, "uid") && !strcmp(uid, kj_str(owner_ref, "uid")))
            continue;
        json_t *copy = json_deep_copy(r);
        json_object_set_new(copy, "controller", json_false());
        json_array_append_new(refs, copy);
    }
    if (json_array_size(refs))
        json_object_set_new(md, "ownerReferences", refs);
    else
        json_decref(refs);
    kj_set_copy(o, "data", json_object_get(config, "data"));
    if (kind == CDK_SECRET)
        kj_set_copy(o, "type", json_object_get(config, "type"));
    else
        kj_set_copy(o, "binaryData", json_object_get(config, "binaryData"));
    return o;
}

/* ---- renames --------------------------------------------------------------- */

static void rename_field(json_t *o, const char *field, const cdk_config_refs *tracked,
                         cdk_config_kind kind)
{
    const char *name = json_string_value(json_object_get(o, field));
    if (!name || !cdk_config_refs_has(tracked, kind, name))
        return;
    char buf[512];
    snprintf(buf, sizeof buf, "%s-primary", name);
    json_object_set_new(o, field, json_string(buf));
}

static void rename_containers(json_t *list, const cdk_config_refs *tracked)
{
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(c, "env"), j, e) {
            rename_field(kj_at(e, "valueFrom.configMapKeyRef"), "name", tracked, CDK_CONFIGMAP);
            rename_field(kj_at(e, "valueFrom.secretKeyRef"), "name", tracked, CDK_SECRET);
        }
        json_array_foreach(json_object_get(c, "envFrom"), j, e) {
            rename_field(json_object_get(e, "configMapRef"), "name", tracked, CDK_CONFIGMAP);
            rename_field(json_object_get(e, "secretRef"), "name", tracked, CDK_SECRET);
        }
    }
}

void cdk_rename_config_refs(json_t *pod_spec, const cdk_config_refs *tracked)
{
    if (!tracked || !tracked->n)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(pod_spec, "volumes"), i, v) {
        rename_field(json_object_get(v, "configMap"), "name", tracked, CDK_CONFIGMAP);
        rename_field(json_object_get(v, "secret"), "secretName", tracked, CDK_SECRET);
        size_t j;
        json_t *s;
        json_array_foreach(kj_at(v, "projected.sources"), j, s) {
            rename_field(json_object_get(s, "configMap"), "name", tracked, CDK_CONFIGMAP);
            rename_field(json_object_get(s, "secret"), "name", tracked, CDK_SECRET);
        }
    }
    rename_containers(json_object_get(pod_spec, "containers"), tracked);
    rename_containers(json_object_get(pod_spec, "initContainers"), tracked);
}
