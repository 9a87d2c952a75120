/* scenario.c - decoding simulate scenarios (scenario.h) from YAML through
 * src/model/node.h. Strict: unknown keys, unordered steps and values of the
 * wrong kind are errors with their position, because a silently ignored
 * typo would make a simulation lie. Must not run anything. */
#include "sim/scenario.h"
#include "model/node.h"
#include "util/duration.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 100000
#define MAX_SCENARIO_BYTES (16u << 20)

typedef struct dec {
    cd_scenario *sc;
    cd_diags *diags;
    size_t errors;
    int64_t earliest_ms;    /* traffic steps may start this far before 0 (traffic.history) */
    bool in_traffic;        /* decoding traffic (its steps may start before 0) */
} dec;

static void err_at(dec *d, const cd_node *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(dec *d, const cd_node *n, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cd_diags_vadd(d->diags, CD_DIAG_ERROR, d->sc->file, n ? n->line : 0, n ? n->col : 0, path,
                  fmt, ap);
    va_end(ap);
    d->errors++;
}

static const char *path_key(dec *d, const char *base, const char *key)
{
    return cd_path_key(&d->sc->arena, base, key);
}

static const char *path_index(dec *d, const char *base, size_t i)
{
    return cd_path_index(&d->sc->arena, base, i);
}

/* A time: a Go duration string ("0s", "4m", "1h30m"), or the number 0. */
static bool decode_time(dec *d, const cd_node *n, const char *path, int64_t *ms)
{
    if (n && n->type == CD_N_INT && n->v.i == 0) {
        *ms = 0;
        return true;
    }
    if (!n || n->type != CD_N_STR) {
        err_at(d, n, path, "must be a duration such as 30s, 4m or 1h30m");
        return false;
    }
    if (!cd_duration_parse_ms(n->str, ms)) {
        err_at(d, n, path, "\"%s\" is not a duration (write 30s, 4m or 1h30m)", n->str);
        return false;
    }
    if (*ms < 0 && d->earliest_ms < 0 && *ms >= d->earliest_ms)
        return true;   /* a traffic step within traffic.history */
    if (*ms < 0) {
        if (d->earliest_ms < 0)
            err_at(d, n, path, "\"%s\" is before traffic.history starts", n->str);
        else if (d->in_traffic)
            err_at(d, n, path,
                   "\"%s\" is negative: times count from the start of the simulation (traffic "
                   "steps may start before it within traffic.history)", n->str);
        else
            err_at(d, n, path, "\"%s\" is negative: times count from the start of the simulation",
                   n->str);
        return false;
    }
    return true;
}

static bool is_map(dec *d, const cd_node *n, const char *path, const char *what)
{
    if (n && n->type == CD_N_MAP)
        return true;
    err_at(d, n, path, "must be a mapping (%s)", what);
    return false;
}

static bool is_seq(dec *d, const cd_node *n, const char *path, const char *what)
{
    if (n && n->type == CD_N_SEQ)
        return true;
    err_at(d, n, path, "must be a list (%s)", what);
    return false;
}

/* Every key of map must be one of allowed (NULL-terminated). */
static void check_keys(dec *d, const cd_node *map, const char *path, const char *const *allowed)
{
    for (size_t i = 0; i < map->npairs; i++) {
        const cd_node *k = map->pairs[i].key;
        const char *name = k->str ? k->str : "";
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok |= !strcmp(name, *a);
        if (ok)
            continue;
        char list[256] = "";
        for (const char *const *a = allowed; *a; a++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     a == allowed ? "" : ", ", *a);
        err_at(d, k, path_key(d, path, name), "unknown key \"%s\" (expected %s)", name, list);
    }
}

typedef bool (*step_value_fn)(dec *d, const cd_node *v, const char *path, cd_sim_step *step);

static bool metric_value(dec *d, const cd_node *v, const char *path, cd_sim_step *step)
{
    if (v && (v->type == CD_N_INT || v->type == CD_N_FLOAT)) {
        step->kind = CD_SIM_VALUE;
        step->value = v->type == CD_N_INT ? (double)v->v.i : v->v.f;
        return true;
    }
    if (v && v->type == CD_N_STR && !strcmp(v->str, "nodata")) {
        step->kind = CD_SIM_NODATA;
        return true;
    }
    if (v && v->type == CD_N_STR && !strcmp(v->str, "error")) {
        step->kind = CD_SIM_ERROR;
        return true;
    }
    err_at(d, v, path, "must be a number, nodata or error");
    return false;
}

static bool webhook_value(dec *d, const cd_node *v, const char *path, cd_sim_step *step)
{
    if (v && v->type == CD_N_BOOL) {
        step->kind = v->v.b ? 1 : 0;
        return true;
    }
    err_at(d, v, path, "must be true or false");
    return false;
}

static bool ready_value(dec *d, const cd_node *v, const char *path, cd_sim_step *step)
{
    if (v && v->type == CD_N_BOOL) {
        step->kind = v->v.b ? CD_SIM_READY : CD_SIM_NOT_READY;
        return true;
    }
    if (v && v->type == CD_N_STR && !strcmp(v->str, "stuck")) {
        step->kind = CD_SIM_STUCK;
        return true;
    }
    err_at(d, v, path, "must be true, false (not ready yet) or stuck (never ready)");
    return false;
}

/* [{at: T, <value_key>: V}, ...] with strictly increasing times. */
static void decode_series(dec *d, const cd_node *n, const char *path, const char *name,
                          const char *value_key, step_value_fn value, cd_sim_series *out)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    out->line = n ? n->line : 0;
    out->col = n ? n->col : 0;
    if (!is_seq(d, n, path, "of {at, ...} steps"))
        return;
    if (n->nitems > MAX_STEPS) {
        err_at(d, n, path, "too many steps (%zu, at most %d)", n->nitems, MAX_STEPS);
        return;
    }
    out->steps = cd_arena_alloc(&d->sc->arena, (n->nitems ? n->nitems : 1) * sizeof *out->steps);
    const char *const keys[] = {"at", value_key, NULL};
    for (size_t i = 0; i < n->nitems; i++) {
        const cd_node *item = n->items[i];
        const char *ipath = path_index(d, path, i);
        if (!is_map(d, item, ipath, value_key))
            continue;
        check_keys(d, item, ipath, keys);
        cd_sim_step step = {0};
        const cd_node *at = cd_map_get(item, "at"), *v = cd_map_get(item, value_key);
        if (!at) {
            err_at(d, item, ipath, "missing \"at\"");
            continue;
        }
        if (!v) {
            err_at(d, item, ipath, "missing \"%s\"", value_key);
            continue;
        }
        if (!decode_time(d, at, path_key(d, ipath, "at"), &step.at_ms) ||
            !value(d, v, path_key(d, ipath, value_key), &step))
            continue;
        if (out->n && step.at_ms <= out->steps[out->n - 1].at_ms) {
            err_at(d, at, path_key(d, ipath, "at"),
                   "steps must be in increasing time order (\"%s\" does not come after the "
                   "previous step)", at->str ? at->str : "0");
            continue;
        }
        out->steps[out->n++] = step;
    }
}

static void decode_named(dec *d, const cd_node *n, const char *path, const char *value_key,
                         step_value_fn value, cd_sim_series **out, size_t *nout)
{
    if (!is_map(d, n, path, "name: [steps]"))
        return;
    *out = cd_arena_alloc(&d->sc->arena, (n->npairs ? n->npairs : 1) * sizeof **out);
    for (size_t i = 0; i < n->npairs; i++) {
        const cd_node *k = n->pairs[i].key;
        const char *name = cd_arena_strdup(&d->sc->arena, k->str ? k->str : "");
        for (size_t j = 0; j < *nout; j++)
            if (!strcmp((*out)[j].name, name))
                err_at(d, k, path_key(d, path, name), "\"%s\" is given twice", name);
        decode_series(d, n->pairs[i].value, path_key(d, path, name), name, value_key, value,
                      &(*out)[*nout]);
        (*out)[*nout].line = k->line;
        (*out)[*nout].col = k->col;
        (*nout)++;
    }
}

static void decode_revisions(dec *d, const cd_node *n)
{
    d->sc->has_revisions = true;
    if (!is_seq(d, n, "revisions", "of times"))
        return;
    if (n->nitems > MAX_STEPS) {
        err_at(d, n, "revisions", "too many revisions (%zu, at most %d)", n->nitems, MAX_STEPS);
        return;
    }
    d->sc->revisions = cd_arena_alloc(&d->sc->arena, (n->nitems ? n->nitems : 1) * sizeof(int64_t));
    for (size_t i = 0; i < n->nitems; i++) {
        int64_t ms;
        const char *path = path_index(d, "revisions", i);
        if (!decode_time(d, n->items[i], path, &ms))
            continue;
        if (d->sc->n_revisions && ms <= d->sc->revisions[d->sc->n_revisions - 1]) {
            err_at(d, n->items[i], path, "revisions must be in increasing time order");
            continue;
        }
        d->sc->revisions[d->sc->n_revisions++] = ms;
    }
}

static void decode_ready(dec *d, const cd_node *n)
{
    if (!is_map(d, n, "ready", "canary and/or primary"))
        return;
    static const char *const keys[] = {"canary", "primary", NULL};
    check_keys(d, n, "ready", keys);
    const cd_node *c = cd_map_get(n, "canary"), *p = cd_map_get(n, "primary");
    if (c)
        decode_series(d, c, "ready.canary", "canary", "value", ready_value, &d->sc->ready_canary);
    if (p)
        decode_series(d, p, "ready.primary", "primary", "value", ready_value,
                      &d->sc->ready_primary);
}

/* ---- traffic ---------------------------------------------------------------- */

static bool number_of(const cd_node *v, double *out)
{
    if (v && v->type == CD_N_INT) {
        *out = (double)v->v.i;
        return true;
    }
    if (v && v->type == CD_N_FLOAT && isfinite(v->v.f)) {
        *out = v->v.f;
        return true;
    }
    return false;
}

static bool rate_value(dec *d, const cd_node *v, const char *path, cd_sim_step *step)
{
    double r;
    if (!number_of(v, &r) || r < 0 || r > CD_SIM_MAX_RATE) {
        err_at(d, v, path, "must be a number of requests per second from 0 to %g",
               CD_SIM_MAX_RATE);
        return false;
    }
    step->kind = CD_SIM_VALUE;
    step->value = r;
    return true;
}

/* {errorRate: percent, latency: {median: ms, p99: ms}}; fields not given
 * keep what *p holds (the defaults or the side it inherits from). */
static bool decode_profile_fields(dec *d, const cd_node *n, const char *path, bool with_at,
                                  cd_sim_profile *p)
{
    static const char *const keys[] = {"errorRate", "latency", NULL};
    static const char *const keys_at[] = {"at", "errorRate", "latency", NULL};
    check_keys(d, n, path, with_at ? keys_at : keys);
    bool ok = true;
    const cd_node *e = cd_map_get(n, "errorRate"), *lat = cd_map_get(n, "latency");
    double v;
    if (e) {
        if (!number_of(e, &v) || v < 0 || v > 100) {
            err_at(d, e, path_key(d, path, "errorRate"),
                   "must be a percentage of failed requests from 0 to 100");
            ok = false;
        } else {
            p->error_rate = v / 100.0;
        }
    }
    if (lat) {
        const char *lpath = path_key(d, path, "latency");
        if (!is_map(d, lat, lpath, "median and p99 in milliseconds"))
            return false;
        static const char *const lkeys[] = {"median", "p99", NULL};
        check_keys(d, lat, lpath, lkeys);
        const cd_node *md = cd_map_get(lat, "median"), *p99 = cd_map_get(lat, "p99");
        double median = p->median_ms, tail = p->p99_ms;
        if (md && (!number_of(md, &median) || median <= 0 || median > 1e7)) {
            err_at(d, md, path_key(d, lpath, "median"),
                   "must be a latency in milliseconds above 0 (at most 1e7)");
            ok = false;
        }
        if (p99 && (!number_of(p99, &tail) || tail <= 0 || tail > 1e7)) {
            err_at(d, p99, path_key(d, lpath, "p99"),
                   "must be a latency in milliseconds above 0 (at most 1e7)");
            ok = false;
        }
        if (ok && tail < median) {
            err_at(d, lat, lpath, "p99 (%g) is below the median (%g)", tail, median);
            ok = false;
        }
        if (ok) {
            p->median_ms = median;
            p->p99_ms = tail;
        }
    }
    return ok;
}

/* One side: a profile, or a list of profiles with increasing "at". */
static void decode_side(dec *d, const cd_node *n, const char *path, const cd_sim_profile *base,
                        cd_sim_profile **out, size_t *nout)
{
    if (n->type == CD_N_MAP) {
        *out = cd_arena_alloc(&d->sc->arena, sizeof **out);
        **out = *base;
        (*out)->at_ms = 0;
        if (decode_profile_fields(d, n, path, false, *out))
            *nout = 1;
        return;
    }
    if (!is_seq(d, n, path, "a profile or a list of {at, errorRate, latency}"))
        return;
    if (n->nitems == 0 || n->nitems > MAX_STEPS) {
        err_at(d, n, path, "needs 1 to %d steps", MAX_STEPS);
        return;
    }
    *out = cd_arena_alloc(&d->sc->arena, n->nitems * sizeof **out);
    for (size_t i = 0; i < n->nitems; i++) {
        const char *ipath = path_index(d, path, i);
        const cd_node *item = n->items[i];
        if (!is_map(d, item, ipath, "{at, errorRate, latency}"))
            continue;
        cd_sim_profile p = *nout ? (*out)[*nout - 1] : *base;
        const cd_node *at = cd_map_get(item, "at");
        if (!at) {
            err_at(d, item, ipath, "missing \"at\"");
            continue;
        }
        if (!decode_time(d, at, path_key(d, ipath, "at"), &p.at_ms) ||
            !decode_profile_fields(d, item, ipath, true, &p))
            continue;
        if (*nout && p.at_ms <= (*out)[*nout - 1].at_ms) {
            err_at(d, at, path_key(d, ipath, "at"), "steps must be in increasing time order");
            continue;
        }
        (*out)[(*nout)++] = p;
    }
}

void cd_scenario_default_traffic(cd_sim_traffic *t)
{
    static cd_sim_step rate = {0, CD_SIM_VALUE, 10.0};
    static cd_sim_profile side = {0, 0.001, 100.0, 400.0};
    memset(t, 0, sizeof *t);
    t->seed = 1;
    t->rate = (cd_sim_series){"rate", &rate, 1, 0, 0};
    t->primary = t->canary = &side;
    t->n_primary = t->n_canary = 1;
}

/* traffic.history: how long the primary served this traffic before the
 * simulation started (what the statistical judge reads as its history). */
static void decode_history(dec *d, const cd_node *v, cd_sim_traffic *t)
{
    int64_t ms;
    if (!decode_time(d, v, "traffic.history", &ms))
        return;
    if (ms > CD_SIM_MAX_HISTORY_MS) {
        err_at(d, v, "traffic.history", "longer than 24h");
        return;
    }
    t->history_ms = ms;
}

static void decode_traffic(dec *d, const cd_node *n)
{
    if (!is_map(d, n, "traffic", "seed, rate, history, primary, canary"))
        return;
    static const char *const keys[] = {"seed", "rate", "history", "primary", "canary", NULL};
    check_keys(d, n, "traffic", keys);
    cd_sim_traffic *t = &d->sc->traffic;
    cd_sim_traffic def;
    cd_scenario_default_traffic(&def);
    t->set = true;
    t->seed = 1;
    const cd_node *v;
    if ((v = cd_map_get(n, "history")))
        decode_history(d, v, t);
    d->earliest_ms = -t->history_ms;   /* steps may start within the history */
    d->in_traffic = true;
    if ((v = cd_map_get(n, "seed"))) {
        if (v->type != CD_N_INT || v->v.i < 0)
            err_at(d, v, "traffic.seed", "must be a whole number from 0");
        else
            t->seed = (uint64_t)v->v.i;
    }
    v = cd_map_get(n, "rate");
    if (v && v->type == CD_N_SEQ) {
        decode_series(d, v, "traffic.rate", "rate", "value", rate_value, &t->rate);
        if (t->rate.n == 0 && v->nitems == 0)
            err_at(d, v, "traffic.rate", "needs at least one step");
    } else if (v) {
        t->rate.steps = cd_arena_alloc(&d->sc->arena, sizeof *t->rate.steps);
        if (rate_value(d, v, "traffic.rate", &t->rate.steps[0]))
            t->rate.n = 1;
    } else {
        t->rate = def.rate;
    }
    t->rate.name = "rate";
    cd_sim_profile base = def.primary[0];
    if ((v = cd_map_get(n, "primary")))
        decode_side(d, v, "traffic.primary", &base, &t->primary, &t->n_primary);
    else {
        t->primary = def.primary;
        t->n_primary = 1;
    }
    if (t->n_primary)
        base = t->primary[0];
    if ((v = cd_map_get(n, "canary")))   /* what it does not say, it does as the primary */
        decode_side(d, v, "traffic.canary", &base, &t->canary, &t->n_canary);
    else {
        t->canary = t->primary;
        t->n_canary = t->n_primary;
    }
    d->earliest_ms = 0;
    d->in_traffic = false;
}

const cd_sim_profile *cd_sim_profile_at(const cd_sim_profile *p, size_t n, int64_t t_ms)
{
    if (!p || n == 0)
        return NULL;
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p[mid].at_ms <= t_ms)
            lo = mid;
        else
            hi = mid;
    }
    return &p[lo];
}

static cd_scenario *new_scenario(const char *file)
{
    cd_scenario *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    cd_arena_init(&s->arena, 4096);
    s->file = cd_arena_strdup(&s->arena, file ? file : "<scenario>");
    s->duration_ms = CD_SIM_DEFAULT_DURATION_MS;
    s->ready_canary.name = "canary";
    s->ready_primary.name = "primary";
    return s;
}

cd_scenario *cd_scenario_default(void) { return new_scenario(NULL); }

void cd_scenario_free(cd_scenario *s)
{
    if (!s)
        return;
    cd_arena_free(&s->arena);
    free(s);
}

static void decode_root(dec *d, const cd_node *root)
{
    if (!root || root->type == CD_N_NULL)
        return;   /* empty document: defaults */
    if (!is_map(d, root, "",
                "a scenario: duration, revisions, metrics, webhooks, ready, traffic, replicas"))
        return;
    static const char *const keys[] = {"duration", "revisions", "metrics", "webhooks", "ready",
                                       "traffic", "replicas", NULL};
    check_keys(d, root, "", keys);
    const cd_node *n;
    if ((n = cd_map_get(root, "duration"))) {
        int64_t ms;
        if (decode_time(d, n, "duration", &ms)) {
            if (ms == 0)
                err_at(d, n, "duration", "must be longer than 0s");
            else
                d->sc->duration_ms = ms;
        }
    }
    if ((n = cd_map_get(root, "revisions")))
        decode_revisions(d, n);
    if ((n = cd_map_get(root, "metrics")))
        decode_named(d, n, "metrics", "value", metric_value, &d->sc->metrics, &d->sc->n_metrics);
    if ((n = cd_map_get(root, "webhooks")))
        decode_named(d, n, "webhooks", "pass", webhook_value, &d->sc->webhooks,
                     &d->sc->n_webhooks);
    if ((n = cd_map_get(root, "ready")))
        decode_ready(d, n);
    if ((n = cd_map_get(root, "traffic")))
        decode_traffic(d, n);
    if ((n = cd_map_get(root, "replicas"))) {
        if (n->type != CD_N_INT || n->v.i < 1 || n->v.i > CD_SIM_MAX_REPLICAS) {
            err_at(d, n, "replicas", "must be a whole number from 1 to %d (the StatefulSet's "
                   "spec.replicas)", CD_SIM_MAX_REPLICAS);
        } else {
            d->sc->replicas = (int)n->v.i;
            d->sc->replicas_line = n->line;
            d->sc->replicas_col = n->col;
        }
    }
}

cd_scenario *cd_scenario_parse(const char *file, const char *data, size_t len, cd_diags *diags)
{
    cd_scenario *sc = new_scenario(file);
    dec d = {sc, diags, 0, 0, false};
    size_t before = diags->errors;
    cd_stream *st = cd_stream_parse(sc->file, data, len, false, diags);
    if (!st) {
        cd_scenario_free(sc);
        return NULL;
    }
    if (st->ndocs > 1)
        err_at(&d, st->docs[1].root, "", "a scenario file holds one document, found %zu",
               st->ndocs);
    else if (st->ndocs == 1)
        decode_root(&d, st->docs[0].root);
    cd_stream_free(st);
    if (diags->errors > before) {
        cd_scenario_free(sc);
        return NULL;
    }
    return sc;
}

cd_scenario *cd_scenario_load(const char *path, cd_diags *diags, bool *unreadable)
{
    bool dummy;
    if (!unreadable)
        unreadable = &dummy;
    *unreadable = false;
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    const char *display = strcmp(path, "-") ? path : "<stdin>";
    if (!f) {
        cd_diags_add(diags, CD_DIAG_ERROR, display, 0, 0, "", "cannot open: %s", strerror(errno));
        *unreadable = true;
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len > MAX_SCENARIO_BYTES)
            break;
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
    }
    bool failed = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    cd_scenario *sc = NULL;
    *unreadable = failed;
    if (failed)
        cd_diags_add(diags, CD_DIAG_ERROR, display, 0, 0, "", "cannot read: %s", strerror(errno));
    else if (len > MAX_SCENARIO_BYTES)
        cd_diags_add(diags, CD_DIAG_ERROR, display, 0, 0, "", "larger than %u bytes",
                     MAX_SCENARIO_BYTES);
    else
        sc = cd_scenario_parse(display, buf, len, diags);
    free(buf);
    return sc;
}

static bool canary_has_metric(const cd_canary_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->analysis.n_metrics; i++)
        if (spec->analysis.metrics[i].name && !strcmp(spec->analysis.metrics[i].name, name))
            return true;
    return false;
}

static bool canary_has_webhook(const cd_canary_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->analysis.n_webhooks; i++)
        if (spec->analysis.webhooks[i].name && !strcmp(spec->analysis.webhooks[i].name, name))
            return true;
    return false;
}

size_t cd_scenario_check(const cd_scenario *s, const cd_canary_spec *spec, cd_diags *diags)
{
    size_t errors = 0;
    for (size_t i = 0; i < s->n_metrics; i++) {
        if (canary_has_metric(spec, s->metrics[i].name))
            continue;
        cd_diags_add(diags, CD_DIAG_ERROR, s->file, s->metrics[i].line, s->metrics[i].col,
                     "metrics", "the canary has no metric named \"%s\" in analysis.metrics",
                     s->metrics[i].name);
        errors++;
    }
    for (size_t i = 0; i < s->n_webhooks; i++) {
        if (canary_has_webhook(spec, s->webhooks[i].name))
            continue;
        cd_diags_add(diags, CD_DIAG_ERROR, s->file, s->webhooks[i].line, s->webhooks[i].col,
                     "webhooks", "the canary has no webhook named \"%s\" in analysis.webhooks",
                     s->webhooks[i].name);
        errors++;
    }
    const char *kind = spec->target_ref.kind ? spec->target_ref.kind : "Deployment";
    if (s->replicas && strcmp(kind, "StatefulSet")) {
        cd_diags_add(diags, CD_DIAG_ERROR, s->file, s->replicas_line, s->replicas_col, "replicas",
                     "replicas is a StatefulSet's (to show its partition); the canary targets a %s",
                     kind);
        errors++;
    }
    return errors;
}

const cd_sim_step *cd_sim_series_at(const cd_sim_series *s, int64_t t_ms)
{
    if (!s || s->n == 0 || t_ms < s->steps[0].at_ms)
        return NULL;
    size_t lo = 0, hi = s->n;   /* last step with at <= t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->steps[mid].at_ms <= t_ms)
            lo = mid;
        else
            hi = mid;
    }
    return &s->steps[lo];
}

static const cd_sim_series *find_series(const cd_sim_series *list, size_t n, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i].name, name))
            return &list[i];
    return NULL;
}

const cd_sim_series *cd_scenario_metric(const cd_scenario *s, const char *name)
{
    return find_series(s->metrics, s->n_metrics, name);
}

const cd_sim_series *cd_scenario_webhook(const cd_scenario *s, const char *name)
{
    return find_series(s->webhooks, s->n_webhooks, name);
}
