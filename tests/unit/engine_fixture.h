/* engine_fixture.h - helpers for the engine's unit tests: decode a Canary
 * and a scenario from YAML text, run the simulator and turn its rows into
 * compact trace lines that tests compare with exact expectations:
 *
 *   "<t> <phase> <canary>/<primary>[ mirrored] f<failed> i<iterations>: ev | ev"
 *
 * Header-only (static functions); include after cmocka.h. */
#ifndef ENGINE_FIXTURE_H
#define ENGINE_FIXTURE_H
#include "telemetry/registry.h"
#include "model/object.h"
#include "sim/report.h"
#include "sim/sim.h"
#include "util/buf.h"
#include "util/duration.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cd_object_list fx_objects;

static __attribute__((unused)) const cd_object *fx_canary(const char *yaml)
{
    cd_diags d;
    cd_diags_init(&d);
    size_t before = fx_objects.n;
    size_t errors = cd_manifest_load_buffer("test.yaml", yaml, strlen(yaml), false, "default",
                                            &fx_objects, &d);
    if (errors)
        cd_diags_print(&d, stderr);
    assert_int_equal(errors, 0);
    cd_diags_free(&d);
    assert_int_equal(fx_objects.n, before + 1);
    return fx_objects.items[fx_objects.n - 1];
}

static __attribute__((unused)) void fx_release_objects(void)
{
    cd_object_list_free(&fx_objects);
    memset(&fx_objects, 0, sizeof fx_objects);
}

static __attribute__((unused)) cd_scenario *fx_scenario(const char *yaml)
{
    cd_diags d;
    cd_diags_init(&d);
    cd_scenario *sc = cd_scenario_parse("scenario.yaml", yaml, strlen(yaml), &d);
    if (!sc)
        cd_diags_print(&d, stderr);
    assert_non_null(sc);
    cd_diags_free(&d);
    return sc;
}

static __attribute__((unused)) void fx_row_line(const cd_sim_row *r, cd_buf *out)
{
    char t[32];
    cd_duration_format_ms(r->t_ms, t, sizeof t);
    const char *phase = cd_phase_name(r->phase);
    cd_buf_printf(out, "%s %s %d/%d%s f%d i%d:", t, *phase ? phase : "-", r->canary_weight,
                  r->primary_weight, r->mirrored ? " mirrored" : "", r->failed_checks,
                  r->iterations);
    for (size_t i = 0; i < r->n_events; i++)
        cd_buf_printf(out, "%s %s", i ? " |" : "", r->events[i].message);
    cd_buf_putc(out, '\n');
}

/* Runs up to max_ticks (or to the simulation's end); returns the trace. */
static __attribute__((unused)) char *fx_trace(cd_sim *s, int max_ticks)
{
    cd_buf out = CD_BUF_INIT;
    cd_sim_row row;
    for (int i = 0; i < max_ticks && !cd_sim_done(s); i++) {
        cd_sim_tick(s, &row);
        fx_row_line(&row, &out);
    }
    return cd_buf_steal(&out);
}

/* One tick's trace line. */
static __attribute__((unused)) char *fx_step(cd_sim *s)
{
    cd_buf out = CD_BUF_INIT;
    cd_sim_row row;
    cd_sim_tick(s, &row);
    fx_row_line(&row, &out);
    return cd_buf_steal(&out);
}

/* One tick whose row does not matter. */
static __attribute__((unused)) void fx_skip(cd_sim *s)
{
    cd_sim_row row;
    cd_sim_tick(s, &row);
}

static __attribute__((unused)) void fx_expect_trace(cd_sim *s, int max_ticks, const char *expected)
{
    char *got = fx_trace(s, max_ticks);
    assert_string_equal(got, expected);
    free(got);
}

static __attribute__((unused)) void fx_expect_step(cd_sim *s, const char *expected)
{
    char *got = fx_step(s);
    assert_string_equal(got, expected);
    free(got);
}

/* The value of one exposed series ("name{labels}"), or -1 when absent. */
static __attribute__((unused)) double fx_metric(cd_registry *r, const char *series)
{
    cd_buf out = CD_BUF_INIT;
    cd_registry_write(r, &out);
    const char *text = cd_buf_str(&out);
    double v = -1;
    size_t n = strlen(series);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!strncmp(line, series, n) && line[n] == ' ')
            v = strtod(line + n + 1, NULL);
        if (!end)
            break;
        line = end + 1;
    }
    cd_buf_free(&out);
    return v;
}

#endif
