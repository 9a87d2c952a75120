/* registry.c - canaryd's own flagger_* metrics in memory (registry.h) and
 * their Prometheus text exposition. One mutex guards everything: updates
 * are a hash lookup and a store, so contention stays small even with
 * thousands of canaries. Must not do I/O: cd_registry_write fills a buffer.
 *
 * Label values are kept as given; the canary-scoped series use the
 * target's name for `name` (as Flagger's recorder does) and
 * `<target>-primary` / `<target>` for `workload`. */
#include "telemetry/registry.h"
#include "util/gofmt.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 4
#define N_BUCKETS 11

/* Prometheus' default histogram buckets (client_golang DefBuckets). */
static const double bucket_bounds[N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,    2.5,   5,    10};

typedef enum { FAM_GAUGE, FAM_COUNTER, FAM_HISTOGRAM } fam_type;

typedef struct series {
    struct series *next;        /* hash chain */
    char *values[MAX_LABELS];
    uint64_t hash;
    double value;               /* gauge / counter */
    uint64_t buckets[N_BUCKETS];/* histogram: per-bucket (not cumulative) counts */
    uint64_t count;
    double sum;
} series;

typedef struct family {
    const char *name, *help;
    fam_type type;
    const char *labels[MAX_LABELS];
    int nlabels;
    series **table;
    size_t nbuckets, nseries;
} family;

enum {
    F_INFO, F_TOTAL, F_STATUS, F_WEIGHT, F_DURATION, F_METRIC, F_SUCCESS, F_FAILURE, F__COUNT
};

struct cd_registry {
    pthread_mutex_t mu;
    family fam[F__COUNT];
};

static const family family_defs[F__COUNT] = {
    [F_INFO] = {"flagger_info", "Flagger version and mesh provider information", FAM_GAUGE,
                {"version", "mesh_provider"}, 2, NULL, 0, 0},
    [F_TOTAL] = {"flagger_canary_total", "Total number of canary object", FAM_GAUGE,
                 {"namespace"}, 1, NULL, 0, 0},
    [F_STATUS] = {"flagger_canary_status", "Last canary analysis result", FAM_GAUGE,
                  {"name", "namespace"}, 2, NULL, 0, 0},
    [F_WEIGHT] = {"flagger_canary_weight", "The virtual service destination weight current value",
                  FAM_GAUGE, {"workload", "namespace"}, 2, NULL, 0, 0},
    [F_DURATION] = {"flagger_canary_duration_seconds", "Seconds spent performing canary analysis.",
                    FAM_HISTOGRAM, {"name", "namespace"}, 2, NULL, 0, 0},
    [F_METRIC] = {"flagger_canary_metric_analysis", "Last canary analysis result per metric",
                  FAM_GAUGE, {"name", "namespace", "metric"}, 3, NULL, 0, 0},
    [F_SUCCESS] = {"flagger_canary_successes_total", "Total number of canary successes",
                   FAM_COUNTER, {"name", "namespace", "deployment_strategy", "analysis_status"}, 4,
                   NULL, 0, 0},
    [F_FAILURE] = {"flagger_canary_failures_total", "Total number of canary failures", FAM_COUNTER,
                   {"name", "namespace", "deployment_strategy", "analysis_status"}, 4, NULL, 0, 0},
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

static uint64_t hash_values(const char *const *values, int n)
{
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : ""); *p; p++) {
            h ^= *p;
            h *= 1099511628211ull;
        }
        h ^= 0xff;      /* separator: ("ab","c") differs from ("a","bc") */
        h *= 1099511628211ull;
    }
    return h;
}

static bool same_values(const series *s, const char *const *values, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : ""))
            return false;
    return true;
}

static void grow(family *f)
{
    size_t nb = f->nbuckets ? f->nbuckets * 2 : 16;
    series **t = xcalloc(nb, sizeof *t);
    for (size_t i = 0; i < f->nbuckets; i++) {
        series *s = f->table[i];
        while (s) {
            series *next = s->next;
            s->next = t[s->hash & (nb - 1)];
            t[s->hash & (nb - 1)] = s;
            s = next;
        }
    }
    free(f->table);
    f->table = t;
    f->nbuckets = nb;
}

/* The series with these label values, created (zeroed) when missing. */
static series *lookup(family *f, const char *const *values)
{
    uint64_t h = hash_values(values, f->nlabels);
    if (f->nbuckets) {
        for (series *s = f->table[h & (f->nbuckets - 1)]; s; s = s->next)
            if (s->hash == h && same_values(s, values, f->nlabels))
                return s;
    }
    if (f->nseries + 1 > f->nbuckets * 3 / 4)
        grow(f);
    series *s = xcalloc(1, sizeof *s);
    s->hash = h;
    for (int i = 0; i < f->nlabels; i++)
        s->values[i] = xstrdup(values[i]);
    size_t b = h & (f->nbuckets - 1);
    s->next = f->table[b];
    f->table[b] = s;
    f->nseries++;
    return s;
}

static void free_series(series *s, int nlabels)
{
    for (int i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s);
}

cd_registry *cd_registry_new(const char *version, const char *mesh_provider)
{
    cd_registry *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    memcpy(r->fam, family_defs, sizeof family_defs);
    const char *v[] = {version ? version : "", mesh_provider ? mesh_provider : ""};
    lookup(&r->fam[F_INFO], v)->value = 1;
    return r;
}

void cd_registry_free(cd_registry *r)
{
    if (!r)
        return;
    for (int f = 0; f < F__COUNT; f++) {
        family *fam = &r->fam[f];
        for (size_t i = 0; i < fam->nbuckets; i++) {
            series *s = fam->table[i];
            while (s) {
                series *next = s->next;
                free_series(s, fam->nlabels);
                s = next;
            }
        }
        free(fam->table);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void set_gauge(cd_registry *r, int f, const char *const *values, double v)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    lookup(&r->fam[f], values)->value = v;
    pthread_mutex_unlock(&r->mu);
}

void cd_registry_set_canary_total(cd_registry *r, const char *ns, int count)
{
    const char *v[] = {ns};
    set_gauge(r, F_TOTAL, v, count);
}

void cd_registry_set_status(cd_registry *r, const char *name, const char *ns, int value)
{
    const char *v[] = {name, ns};
    set_gauge(r, F_STATUS, v, value);
}

void cd_registry_set_weight(cd_registry *r, const char *target, const char *ns, int primary,
                            int canary)
{
    if (!r)
        return;
    char primary_name[512];
    snprintf(primary_name, sizeof primary_name, "%s-primary", target ? target : "");
    const char *vp[] = {primary_name, ns};
    const char *vc[] = {target, ns};
    pthread_mutex_lock(&r->mu);
    lookup(&r->fam[F_WEIGHT], vp)->value = primary;
    lookup(&r->fam[F_WEIGHT], vc)->value = canary;
    pthread_mutex_unlock(&r->mu);
}

void cd_registry_observe_duration(cd_registry *r, const char *name, const char *ns,
                                  double seconds)
{
    if (!r)
        return;
    const char *v[] = {name, ns};
    pthread_mutex_lock(&r->mu);
    series *s = lookup(&r->fam[F_DURATION], v);
    for (int i = 0; i < N_BUCKETS; i++) {
        if (seconds <= bucket_bounds[i]) {
            s->buckets[i]++;
            break;
        }
    }
    s->count++;
    s->sum += seconds;
    pthread_mutex_unlock(&r->mu);
}

void cd_registry_set_metric(cd_registry *r, const char *name, const char *ns,
                            const char *metric, double value)
{
    const char *v[] = {name, ns, metric};
    set_gauge(r, F_METRIC, v, value);
}

static void inc_counter(cd_registry *r, int f, const char *name, const char *ns,
                        const char *strategy, const char *analysis_status)
{
    if (!r)
        return;
    const char *v[] = {name, ns, strategy, analysis_status};
    pthread_mutex_lock(&r->mu);
    lookup(&r->fam[f], v)->value += 1;
    pthread_mutex_unlock(&r->mu);
}

void cd_registry_inc_success(cd_registry *r, const char *name, const char *ns,
                             const char *strategy, const char *analysis_status)
{
    inc_counter(r, F_SUCCESS, name, ns, strategy, analysis_status);
}

void cd_registry_inc_failure(cd_registry *r, const char *name, const char *ns,
                             const char *strategy, const char *analysis_status)
{
    inc_counter(r, F_FAILURE, name, ns, strategy, analysis_status);
}

/* Does this series belong to canary (name, ns)? */
static bool owned_by(const family *f, const series *s, const char *name, const char *ns,
                     const char *primary_name)
{
    int ni = -1, nsi = -1, wi = -1;
    for (int i = 0; i < f->nlabels; i++) {
        if (!strcmp(f->labels[i], "name"))
            ni = i;
        else if (!strcmp(f->labels[i], "namespace"))
            nsi = i;
        else if (!strcmp(f->labels[i], "workload"))
            wi = i;
    }
    if (nsi < 0 || strcmp(s->values[nsi], ns))
        return false;
    if (ni >= 0)
        return !strcmp(s->values[ni], name);
    if (wi >= 0)
        return !strcmp(s->values[wi], name) || !strcmp(s->values[wi], primary_name);
    return false;
}

void cd_registry_forget(cd_registry *r, const char *name, const char *ns)
{
    if (!r || !name || !ns)
        return;
    char primary_name[512];
    snprintf(primary_name, sizeof primary_name, "%s-primary", name);
    pthread_mutex_lock(&r->mu);
    for (int f = 0; f < F__COUNT; f++) {
        family *fam = &r->fam[f];
        for (size_t i = 0; i < fam->nbuckets; i++) {
            series **pp = &fam->table[i];
            while (*pp) {
                series *s = *pp;
                if (owned_by(fam, s, name, ns, primary_name)) {
                    *pp = s->next;
                    free_series(s, fam->nlabels);
                    fam->nseries--;
                } else {
                    pp = &s->next;
                }
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---- exposition ------------------------------------------------------- */

static void put_escaped(cd_buf *out, const char *s, bool help)
{
    for (; *s; s++) {
        if (*s == '\\')
            cd_buf_puts(out, "\\\\");
        else if (*s == '\n')
            cd_buf_puts(out, "\\n");
        else if (*s == '"' && !help)
            cd_buf_puts(out, "\\\"");
        else
            cd_buf_putc(out, *s);
    }
}

static void put_labels(cd_buf *out, const family *f, const series *s, const char *le)
{
    if (f->nlabels == 0 && !le)
        return;
    cd_buf_putc(out, '{');
    for (int i = 0; i < f->nlabels; i++) {
        if (i)
            cd_buf_putc(out, ',');
        cd_buf_printf(out, "%s=\"", f->labels[i]);
        put_escaped(out, s->values[i], false);
        cd_buf_putc(out, '"');
    }
    if (le)
        cd_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    cd_buf_putc(out, '}');
}

static void put_value(cd_buf *out, double v)
{
    char num[40];
    cd_buf_printf(out, " %s\n", cd_go_float(v, num, sizeof num));
}

static int compare_series(const void *a, const void *b)
{
    const series *x = *(const series *const *)a, *y = *(const series *const *)b;
    for (int i = 0; i < MAX_LABELS && x->values[i] && y->values[i]; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

static void write_family(cd_buf *out, const family *f)
{
    if (f->nseries == 0)
        return;
    series **all = xcalloc(f->nseries, sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < f->nbuckets; i++)
        for (series *s = f->table[i]; s; s = s->next)
            all[n++] = s;
    qsort(all, n, sizeof *all, compare_series);
    cd_buf_printf(out, "# HELP %s ", f->name);
    put_escaped(out, f->help, true);
    cd_buf_printf(out, "\n# TYPE %s %s\n", f->name,
                  f->type == FAM_GAUGE ? "gauge" : f->type == FAM_COUNTER ? "counter" : "histogram");
    for (size_t k = 0; k < n; k++) {
        const series *s = all[k];
        if (f->type != FAM_HISTOGRAM) {
            cd_buf_puts(out, f->name);
            put_labels(out, f, s, NULL);
            put_value(out, s->value);
            continue;
        }
        uint64_t cumulative = 0;
        char le[40];
        for (int i = 0; i < N_BUCKETS; i++) {
            cumulative += s->buckets[i];
            cd_buf_printf(out, "%s_bucket", f->name);
            put_labels(out, f, s, cd_go_float(bucket_bounds[i], le, sizeof le));
            put_value(out, (double)cumulative);
        }
        cd_buf_printf(out, "%s_bucket", f->name);
        put_labels(out, f, s, "+Inf");
        put_value(out, (double)s->count);
        cd_buf_printf(out, "%s_sum", f->name);
        put_labels(out, f, s, NULL);
        put_value(out, s->sum);
        cd_buf_printf(out, "%s_count", f->name);
        put_labels(out, f, s, NULL);
        put_value(out, (double)s->count);
    }
    free(all);
}

void cd_registry_write(cd_registry *r, cd_buf *out)
{
    if (!r)
        return;
    /* families in name order, as the Go client writes them */
    static const int order[F__COUNT] = {F_DURATION, F_FAILURE, F_METRIC, F_STATUS,
                                        F_SUCCESS,  F_TOTAL,   F_WEIGHT, F_INFO};
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < F__COUNT; i++)
        write_family(out, &r->fam[order[i]]);
    pthread_mutex_unlock(&r->mu);
}
