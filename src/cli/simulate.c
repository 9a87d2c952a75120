/* simulate.c - `canaryctl simulate -f CANARY.yaml [--scenario S.yaml]
 * [-o table|json] [--plot FILE.svg]`: runs the engine on a virtual clock against a scenario
 * and prints the whole rollout (docs/simulate.md). Changes nothing and
 * talks to nothing. Exit 0 when the simulation ran (whatever its outcome),
 * 1 when the canary or the scenario is invalid, 2 on usage errors and
 * unreadable files (as validate). A run that takes more than half a
 * second of real time shows how far it got on stderr when stderr is a
 * terminal (--progress), never mixed into the rows on stdout. */
#include "cli/commands.h"
#include "judge/judge.h"
#include "model/object.h"
#include "sim/plot.h"
#include "sim/report.h"
#include "util/duration.h"
#include "util/flags.h"
#include "util/timeutil.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sim_args {
    const char *canary_path, *scenario_path, *name, *ns, *mesh_provider, *plot_path, *progress;
    cd_sim_format format;
} sim_args;

static const char *const formats[] = {"table", "json", NULL};
static const char *const progress_modes[] = {"auto", "always", "never", NULL};

/* Progress of a long simulation on stderr: on a terminal one line redrawn
 * every 200 ms once the run has taken 500 ms; elsewhere (--progress
 * always) a line every 10 s. Quick runs print nothing. */
typedef struct sim_progress {
    bool on, tty, drawn;
    int64_t started_ms, next_ms, total_ms;
} sim_progress;

static void progress_start(sim_progress *p, const char *mode, int64_t total_ms)
{
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO) == 1;
    p->on = strcmp(mode, "never") && (p->tty || !strcmp(mode, "always"));
    p->started_ms = cd_mono_ms();
    p->next_ms = p->started_ms + (p->tty ? 500 : 10000);
    p->total_ms = total_ms > 0 ? total_ms : 1;
}

static void progress_show(sim_progress *p, int64_t simulated_ms)
{
    if (!p->on)
        return;
    int64_t now = cd_mono_ms();
    if (now < p->next_ms)
        return;
    p->next_ms = now + (p->tty ? 200 : 10000);
    char at[32], of[32];
    double pct = 100.0 * (double)simulated_ms / (double)p->total_ms;
    fprintf(stderr, "%scanaryctl simulate: [%3.0f%%] %s of %s simulated in %.0fs%s",
            p->tty ? "\r\033[K" : "", pct > 100 ? 100 : pct,
            cd_duration_format_ms(simulated_ms, at, sizeof at),
            cd_duration_format_ms(p->total_ms, of, sizeof of),
            (double)(now - p->started_ms) / 1000.0, p->tty ? "" : "\n");
    fflush(stderr);
    p->drawn = p->tty;
}

/* before rows reach a terminal, the progress line goes */
static void progress_clear(sim_progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}

/* -1: parsed; otherwise the exit status (help shown, or a usage error). */
static int parse_args(int argc, char **argv, sim_args *a)
{
    memset(a, 0, sizeof *a);
    a->ns = "default";
    const char *format = "table";
    a->progress = "auto";
    const cd_flag flags[] = {
        CD_FLAG_STR("filename", 'f', &a->canary_path, "PATH",
                    "the Canary manifest (- for stdin); other kinds in it are ignored"),
        CD_FLAG_STR("scenario", 's', &a->scenario_path, "PATH",
                    "how revisions, metrics, webhooks and readiness behave over time (default: "
                    "everything passes, one release)"),
        {.name = "output", .alias = 'o', .type = CD_FLAG_ENUM, .target = &format,
         .choices = formats, .help = "a table, or one JSON object per line"},
        CD_FLAG_STR("plot", 0, &a->plot_path, "FILE.svg",
                    "also draw the weights, phases and metric values over simulated time as a "
                    "self-contained SVG picture"),
        {.name = "progress", .type = CD_FLAG_ENUM, .target = &a->progress,
         .choices = progress_modes, .arg = "WHEN",
         .help = "how far a long run got, on stderr (auto: a line redrawn when stderr is a "
                 "terminal, nothing otherwise; always: also a line every 10s when it is not)"},
        CD_FLAG_STR("name", 0, &a->name, "NAME", "which Canary, when the file holds several"),
        CD_FLAG_STR("namespace", 'n', &a->ns, "NS", "namespace for a Canary that sets none"),
        CD_FLAG_STR("mesh-provider", 0, &a->mesh_provider, "PROVIDER",
                    "the global provider for canaries without spec.provider (kubernetes forces "
                    "blue/green, as in Flagger)"),
    };
    cd_flag_cmd cmd = {
        .prog = "canaryctl simulate",
        .synopsis = "-f CANARY.yaml [--scenario SCENARIO.yaml] [-o table|json] [flags]",
        .about = "Plays a Canary's rollout on a virtual clock: one row per analysis tick with the\n"
                 "phase, weights, failed checks, iterations and events, then a summary.\n"
                 "Changes nothing and talks to nothing (docs/simulate.md).",
        .footer = "Exit status: 0 simulated (whatever the outcome), 1 invalid canary or scenario,\n"
                  "2 usage error or unreadable file.",
        .flags = flags,
        .nflags = sizeof flags / sizeof flags[0],
    };
    int rc = cd_flags_parse(&cmd, argc, argv, NULL, stdout, stderr);
    if (rc != CD_FLAGS_OK)
        return cd_flags_exit(rc);
    if (!a->canary_path)
        return cd_flags_fail(&cmd, stderr, "no canary given (-f CANARY.yaml)");
    size_t pl = a->plot_path ? strlen(a->plot_path) : 0;
    if (a->plot_path && (pl < 5 || strcmp(a->plot_path + pl - 4, ".svg")))
        return cd_flags_fail(&cmd, stderr, "--plot %s: the picture is SVG: name it FILE.svg",
                             a->plot_path);
    a->format = !strcmp(format, "json") ? CD_SIM_FORMAT_JSON : CD_SIM_FORMAT_TABLE;
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

/* Writes the picture next to its final name, then renames it: a reader
 * never sees half a file. */
static bool write_plot(const char *path, const cd_buf *svg)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fwrite(svg->data, 1, svg->len, f) == svg->len;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "canaryctl simulate: --plot %s: cannot write: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    return ok;
}

/* Streams the rows as they come: a long simulation never sits in memory
 * (the plot keeps one small record per tick). */
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
        cd_sim_table_header(&out, cd_sim_shows_partition(s));
    cd_sim_plot *plot = a->plot_path ? cd_sim_plot_new(&canary->spec.canary) : NULL;
    sim_progress prog;
    progress_start(&prog, a->progress, sc->duration_ms);
    while (!cd_sim_done(s)) {
        cd_sim_tick(s, &row);
        progress_show(&prog, cd_sim_elapsed_ms(s));
        last = row.phase;
        if (plot)
            cd_sim_plot_add(plot, &row);
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
            progress_clear(&prog);
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
    progress_clear(&prog);
    fwrite(cd_buf_str(&out), 1, out.len, stdout);
    cd_buf_free(&out);
    cd_sim_free(s);
    bool plotted = true;
    if (plot) {
        cd_buf svg = CD_BUF_INIT, title = CD_BUF_INIT;
        cd_buf_printf(&title, "canaryctl simulate: %s.%s (%s)", canary->meta.name,
                      canary->meta.namespace_ ? canary->meta.namespace_ : a->ns,
                      a->scenario_path ? a->scenario_path : "default scenario");
        cd_sim_plot_svg(plot, cd_buf_str(&title), &svg);
        plotted = write_plot(a->plot_path, &svg);
        cd_buf_free(&svg);
        cd_buf_free(&title);
        cd_sim_plot_free(plot);
    }
    if (!plotted)
        return 2;
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
