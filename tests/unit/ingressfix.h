/* ingressfix.h - the networking.k8s.io/v1 Ingress schema for the unit
 * tests of the Ingress routers (nginx, skipper): the definition in the
 * recorded /openapi/v2 of a real kube-apiserver
 * (shared/conformance/kube-api/openapi-v2.json.gz) with its $refs inlined
 * into a structural schema, registered with canaryd's validator so that
 * kubefix.h's assert_schema_valid checks Ingresses as it checks CRs.
 * Include after kubefix.h. */
#ifndef CD_INGRESSFIX_H
#define CD_INGRESSFIX_H

static json_t *definitions;

static json_t *structural(const json_t *def, int depth);

static json_t *resolve(const json_t *s, int depth)
{
    const char *ref = kj_str(s, "$ref");
    if (!ref)
        return structural(s, depth);
    const char *name = strrchr(ref, '/') + 1;
    if (!strcmp(name, "io.k8s.apimachinery.pkg.util.intstr.IntOrString"))
        return json_pack("{s:b}", "x-kubernetes-int-or-string", 1);
    json_t *d = json_object_get(definitions, name);
    if (!d)
        fail_msg("no definition %s", name);
    return structural(d, depth);
}

/* An OpenAPI v2 definition as a structural schema: $refs inlined, only
 * the keywords a CRD schema may hold kept. */
static json_t *structural(const json_t *def, int depth)
{
    if (depth > 30)
        fail_msg("definitions nest too deep");
    json_t *out = json_object();
    static const char *const keep[] = {"type", "format", "required", "enum"};
    for (size_t i = 0; i < 4; i++)
        if (json_object_get(def, keep[i]))
            json_object_set(out, keep[i], json_object_get(def, keep[i]));
    json_t *props = json_object_get(def, "properties");
    if (props) {
        json_t *p = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(props, k, v)
            json_object_set_new(p, k, resolve(v, depth + 1));
        json_object_set_new(out, "properties", p);
    }
    if (json_object_get(def, "items"))
        json_object_set_new(out, "items", resolve(json_object_get(def, "items"), depth + 1));
    json_t *ap = json_object_get(def, "additionalProperties");
    if (json_is_object(ap))
        json_object_set_new(out, "additionalProperties", resolve(ap, depth + 1));
    return out;
}

static const cd_crd_version *ingress_schema(void)
{
    static const cd_crd_version *crd;
    if (crd)
        return crd;
    const char *shared = getenv("CANARYD_SHARED");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/conformance/kube-api/openapi-v2.json.gz'",
             shared ? shared : "../shared");
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    json_error_t e;
    json_t *doc = json_loadf(f, 0, &e);
    assert_int_equal(pclose(f), 0);
    if (!doc)
        fail_msg("openapi-v2: %s", e.text);
    definitions = json_object_get(doc, "definitions");
    json_t *ref = json_pack("{s:s}", "$ref", "#/definitions/io.k8s.api.networking.v1.Ingress");
    json_t *schema = resolve(ref, 0);
    json_decref(ref);
    json_t *c = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:b, s:b, "
                          "s:{s:o}}]}}",
                          "apiVersion", "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition",
                          "metadata", "name", "ingresses.networking.k8s.io", "spec", "group",
                          "networking.k8s.io", "scope", "Namespaced", "names", "kind", "Ingress",
                          "listKind", "IngressList", "plural", "ingresses", "singular", "ingress",
                          "versions", "name", "v1", "served", 1, "storage", 1, "schema",
                          "openAPIV3Schema", schema);
    char *text = json_dumps(c, 0);
    cd_diags d;
    cd_diags_init(&d);
    int n = cd_schema_load_text("ingress-openapi-v2", text, strlen(text), &d);
    if (n != 1)
        cd_diags_print(&d, stderr);
    assert_int_equal(n, 1);
    cd_diags_free(&d);
    free(text);
    json_decref(c);
    json_decref(doc);
    definitions = NULL;
    crd = cd_schema_find("networking.k8s.io", "v1", "Ingress");
    assert_non_null(crd);
    return crd;
}

#endif
