/* templates.c - MetricTemplate and AlertProvider specs: decode with
 * defaults, checks the schema cannot express, and JSON encoding. Pure. */
#include "model/canary_codec.h"
#include <string.h>

void cd_metric_template_decode_spec(cd_dec *d, const cd_node *spec, cd_metric_template_spec *s)
{
    memset(s, 0, sizeof *s);
    const cd_node *p = cd_map_get(spec, "provider");
    s->provider_type = cd_dec_str(d, p, "type");
    s->address = cd_dec_str(d, p, "address");
    s->region = cd_dec_str(d, p, "region");
    s->insecure_skip_verify = cd_dec_bool(p, "insecureSkipVerify");
    s->secret_ref = cd_dec_str(d, cd_map_get(p, "secretRef"), "name");
    s->query = cd_dec_str(d, spec, "query");
    const cd_node *h = cd_map_get(p, "headers");
    if (h && h->type == CD_N_MAP && h->npairs) {
        s->headers = cd_arena_alloc(d->a, h->npairs * sizeof *s->headers);
        for (size_t i = 0; i < h->npairs; i++) {
            cd_header_values *hv = &s->headers[s->n_headers++];
            hv->name = cd_arena_strndup(d->a, h->pairs[i].key->str, h->pairs[i].key->len);
            cd_dec_strlist(d, h->pairs[i].value, &hv->values);
        }
    }
    const char *type = s->provider_type ? s->provider_type : "";
    static const char *const need_address[] = {"prometheus", "graphite", "influxdb", "dynatrace",
                                               "splunk"};
    for (size_t i = 0; i < sizeof need_address / sizeof need_address[0]; i++)
        if (!strcmp(type, need_address[i]) && (!s->address || !*s->address))
            cd_dec_warn(d, p, "spec.provider.address",
                        "provider %s has no address: its queries will fail", type);
    if (!strcmp(type, "cloudwatch") && (!s->region || !*s->region))
        cd_dec_error(d, p, "spec.provider.region", "provider cloudwatch needs a region");
}

json_t *cd_metric_template_encode_spec(const cd_metric_template_spec *s)
{
    json_t *p = json_object();
    cd_json_set_str(p, "type", s->provider_type);
    cd_json_set_str(p, "address", s->address);
    cd_json_set_str(p, "region", s->region);
    if (s->insecure_skip_verify)
        json_object_set_new(p, "insecureSkipVerify", json_true());
    if (s->secret_ref)
        json_object_set_new(p, "secretRef", json_pack("{s:s}", "name", s->secret_ref));
    if (s->n_headers) {
        json_t *h = json_object();
        for (size_t i = 0; i < s->n_headers; i++)
            json_object_set_new(h, s->headers[i].name, cd_strlist_json(&s->headers[i].values));
        json_object_set_new(p, "headers", h);
    }
    json_t *o = json_object();
    json_object_set_new(o, "provider", p);
    cd_json_set_str(o, "query", s->query);
    return o;
}

void cd_alert_provider_decode_spec(cd_dec *d, const cd_node *spec, cd_alert_provider_spec *s)
{
    memset(s, 0, sizeof *s);
    s->type = cd_dec_str(d, spec, "type");
    s->channel = cd_dec_str(d, spec, "channel");
    if (!s->channel || !*s->channel)
        s->channel = "general";
    s->username = cd_dec_str(d, spec, "username");
    if (!s->username || !*s->username)
        s->username = "flagger";
    s->address = cd_dec_str(d, spec, "address");
    s->proxy = cd_dec_str(d, spec, "proxy");
    s->secret_ref = cd_dec_str(d, cd_map_get(spec, "secretRef"), "name");
}

json_t *cd_alert_provider_encode_spec(const cd_alert_provider_spec *s)
{
    json_t *o = json_object();
    cd_json_set_str(o, "type", s->type);
    cd_json_set_str(o, "channel", s->channel);
    cd_json_set_str(o, "username", s->username);
    cd_json_set_str(o, "address", s->address);
    cd_json_set_str(o, "proxy", s->proxy);
    if (s->secret_ref)
        json_object_set_new(o, "secretRef", json_pack("{s:s}", "name", s->secret_ref));
    return o;
}
