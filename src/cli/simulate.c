/* simulate.c - `canaryctl simulate -f CANARY.yaml [--scenario S.yaml]
 * [-o table|json]`: runs the engine on a virtual clock against a scenario
 * and prints the whole rollout (docs/simulate.md). Changes nothing and
 * talks to nothing. Exit 0 when the simulation ran (whatever its outcome),
 * 1 when the canary or the scenario is invalid, 2 on usage errors and
 * unreadable files (as validate). */
#include "cli/commands.h"
#include "judge/judge.h"
#include "model/object.h"
#include "sim/report.h"
#include "util/duration.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: canaryctl simulate -f CANARY.yaml [--scenario SCENARIO.yaml] [-o table|json]\n"
            "                          [--name NAME] [-n NAMESPACE] [--mesh-provider PROVIDER]\n"
            "\n"
            "Plays a Canary's rollout on a virtual clock: one row per analysis tick with the\n"
            "phase, weights, failed checks, iterations and events, then a summary.\n"
            "\n"
            "  -f, --filename PATH     the Canary manifest (- for stdin); other kinds in it\n"
            "                          are ignored\n"
            "  -s, --scenario PATH     how revisions, metrics, webhooks and readiness behave\n"
            "                          over time (default: everything passes, one release)\n"
            "  -o, --output FORMAT     table (default) or json (one object per line)\n"
            "      --name NAME         which Canary, when the file holds several\n"
            "  -n, --namespace NS      namespace for a Canary that sets none (default: default)\n"
            "      --mesh-provider P   the global provider for canaries without spec.provider\n"
            "                          (kubernetes forces blue/green, as in Flagger)\n"
            "\n"
            "Exit status: 0 simulated (whatever the outcome), 1 invalid canary or scenario,\n"
            "2 usage error or unreadable file.\n");
}

typedef struct sim_args {
    const char *canary_path, *scenario_path, *name, *ns, *mesh_provider;
    cd_sim_format format;
} sim_args;

static int parse_args(int argc, char **argv, sim_args *a)
{
    static const struct option opts[] = {
        {"filename", required_argument, NULL, 'f'},
        {"scenario", required_argument, NULL, 's'},
        {"output", required_argument, NULL, 'o'},
        {"name", required_argument, NULL, 'N'},
        {"namespace", required_argument, NULL, 'n'},
        {"mesh-provider", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->ns = "default";
    a->format = CD_SIM_FORMAT_TABLE;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:s:o:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': a->canary_path = optarg; break;
        case 's': a->scenario_path = optarg; break;
        case 'N': a->name = optarg; break;
        case 'n': a->ns = optarg; break;
        case 'P': a->mesh_provider = optarg; break;
        case 'o':
            if (!strcmp(optarg, "table")) {
                a->format = CD_SIM_FORMAT_TABLE;
            } else if (!strcmp(optarg, "json")) {
                a->format = CD_SIM_FORMAT_JSON;
            } else {
                fprintf(stderr, "canaryctl simulate: unsupported output \"%s\" (table, json)\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "canaryctl simulate: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (!a->canary_path) {
        fprintf(stderr, "canaryctl simulate: no canary given (-f CANARY.yaml)\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The one Canary of the file (or the one called --name). */
static const cd_object *pick_canary(const cd_object_list *objs, const char *name,
                                    const char *path)
{
    const cd_object *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < objs->n; i++) {
        const cd_object *o = objs->items[i];
        if (o->kind != CD_KIND_CANARY || (name && strcmp(o->meta.name, name)))
            continue;
        found = o;
        n++;
    }
    if (n == 1)
        return found;
    if (n == 0 && name)
        fprintf(stderr, "canaryctl simulate: %s has no Canary named \"%s\"\n", path, name);
    else if (n == 0)
        fprintf(stderr, "canaryctl simulate: %s has no Canary\n", path);
    else
        fprintf(stderr, "canaryctl simulate: %s has %zu Canaries; pick one with --name\n", path, n);
    return NULL;
}

#define MAX_TICKS 1000000

/* Streams the rows as they come: a long simulation never sits in memory. */
static int simulate(const sim_args *a, const cd_object *canary, const cd_scenario *sc)
{
    cd_sim_options opt = {.mesh_provider = a->mesh_provider, .judge = cd_judge_metric};
    cd_sim *s = cd_sim_new(&canary->meta, &canary->spec.canary, sc, &opt);
    int64_t ticks = sc->duration_ms / cd_sim_interval_ms(s) + 1;
    if (ticks > MAX_TICKS) {
        char d[32], i[32];
        fprintf(stderr,
                "canaryctl simulate: duration %s at an interval of %s is %lld ticks; at most %d "
                "are simulated (shorten the scenario's duration)\n",
                cd_duration_format_ms(sc->duration_ms, d, sizeof d),
                cd_duration_format_ms(cd_sim_interval_ms(s), i, sizeof i), (long long)ticks,
                MAX_TICKS);
        cd_sim_free(s);
        return 1;
    }
    cd_buf out = CD_BUF_INIT;
    cd_sim_row row;
    cd_phase last = CD_PHASE_NONE;
    bool json = a->format == CD_SIM_FORMAT_JSON;
    if (!json)
        cd_sim_table_header(&out);
    while (!cd_sim_done(s)) {
        cd_sim_tick(s, &row);
        last = row.phase;
        if (json) {
            json_t *j = cd_sim_row_json(&row);
            char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
            cd_buf_printf(&out, "%s\n", text ? text : "{}");
            free(text);
            json_decref(j);
        } else {
            cd_sim_table_row(&row, &out);
        }
        if (out.len > 1 << 16) {
            fwrite(out.data, 1, out.len, stdout);
            cd_buf_reset(&out);
        }
    }
    int n = cd_sim_get_stats(s)->ticks;
    if (json) {
        json_t *j = cd_sim_summary_json(last, cd_sim_elapsed_ms(s), n);
        char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        cd_buf_printf(&out, "%s\n", text ? text : "{}");
        free(text);
        json_decref(j);
    } else {
        cd_sim_table_summary(last, cd_sim_elapsed_ms(s), n, &out);
        const cd_canary_status *st = cd_sim_status(s);
        cd_sim_table_judge(st->judge, st->n_judge, &out);
    }
    fwrite(cd_buf_str(&out), 1, out.len, stdout);
    cd_buf_free(&out);
    cd_sim_free(s);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

int cmd_simulate(int argc, char **argv)
{
    sim_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;

    cd_object_list objs = {0};
    cd_diags diags;
    cd_diags_init(&diags);
    cd_scenario *sc = NULL;
    bool ready = false, unreadable = false;
    long errors = cd_manifest_load_path(a.canary_path, a.ns, &objs, &diags);
    unreadable = errors < 0;
    const cd_object *canary = errors == 0 ? pick_canary(&objs, a.name, a.canary_path) : NULL;
    if (canary) {
        sc = a.scenario_path ? cd_scenario_load(a.scenario_path, &diags, &unreadable)
                             : cd_scenario_default();
        ready = sc && cd_scenario_check(sc, &canary->spec.canary, &diags) == 0;
    }
    cd_diags_sort(&diags);
    cd_diags_print(&diags, stderr);   /* warnings too, before the output */
    rc = ready ? simulate(&a, canary, sc) : unreadable ? 2 : 1;
    cd_scenario_free(sc);
    cd_object_list_free(&objs);
    cd_diags_free(&diags);
    return rc;
}
