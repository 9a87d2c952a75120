/* test_engine_rollback.c - instant rollback (spec.rollbackWindow, canaryd's
 * extension, docs/rollback.md): the pure history rules, then the engine
 * through the simulator: a revision promoted lately is promoted again at
 * once, without analysis, with its events; one outside the window (too
 * many promotions since, or maxAge passed) goes through the analysis; a
 * canary without the field behaves as under Flagger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "engine/engine.h"
#include "engine_fixture.h"

#define HEAD                                                                                    \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: podinfo\n"              \
    "  namespace: default\nspec:\n  provider: istio\n  targetRef:\n    apiVersion: apps/v1\n"  \
    "    kind: Deployment\n    name: podinfo\n  service:\n    port: 9898\n"
#define ANALYSIS                                                                                \
    "  analysis:\n    interval: 1m\n    threshold: 2\n    stepWeight: 25\n    maxWeight: 50\n" \
    "    metrics:\n    - name: request-success-rate\n      thresholdRange: {min: 99}\n"      \
    "      interval: 1m\n"

/* ---- the pure rules ------------------------------------------------------ */

static void test_note_promotion(void **state)
{
    cd_canary_status s;
    cd_status_init(&s);
    cd_engine_note_promotion(&s, "a", 1000, 3);
    cd_engine_note_promotion(&s, "b", 2000, 3);
    cd_engine_note_promotion(&s, "c", 3000, 3);
    assert_int_equal(s.n_promoted, 3);
    assert_string_equal(s.promoted[0].revision, "c");
    assert_string_equal(s.promoted[2].revision, "a");
    cd_engine_note_promotion(&s, "d", 4000, 3);   /* the oldest goes */
    assert_int_equal(s.n_promoted, 3);
    assert_string_equal(s.promoted[0].revision, "d");
    assert_string_equal(s.promoted[1].revision, "c");
    assert_string_equal(s.promoted[2].revision, "b");
    cd_engine_note_promotion(&s, "b", 5000, 3);   /* promoted again: moves to the front */
    assert_int_equal(s.n_promoted, 3);
    assert_string_equal(s.promoted[0].revision, "b");
    assert_int_equal(s.promoted[0].promoted_ms, 5000);
    assert_string_equal(s.promoted[1].revision, "d");
    assert_string_equal(s.promoted[2].revision, "c");
    cd_engine_note_promotion(&s, "b", 6000, 3);   /* already first: keeps its time */
    assert_int_equal(s.promoted[0].promoted_ms, 5000);
    cd_engine_note_promotion(&s, "b", 7000, 1);   /* a smaller window trims */
    assert_int_equal(s.n_promoted, 1);
    cd_engine_note_promotion(&s, "", 8000, 3);    /* no revision: nothing */
    assert_int_equal(s.n_promoted, 1);
    for (int i = 0; i < 40; i++) {                /* bounded whatever keep says */
        char rev[8];
        snprintf(rev, sizeof rev, "r%d", i);
        cd_engine_note_promotion(&s, rev, 9000 + i, 1000);
    }
    assert_int_equal(s.n_promoted, CD_PROMOTED_MAX);
    assert_string_equal(s.promoted[0].revision, "r39");
    /* the history survives a JSON round trip, newest first */
    json_t *j = cd_status_to_json(&s);
    cd_canary_status back;
    cd_status_init(&back);
    cd_status_from_json(&back, j);
    assert_true(cd_status_equal(&s, &back));
    assert_int_equal(json_array_size(json_object_get(j, "promotedRevisions")), CD_PROMOTED_MAX);
    json_decref(j);
    cd_status_free(&back);
    cd_status_free(&s);
}

static void test_rollback_match(void **state)
{
    cd_canary_status s;
    cd_status_init(&s);
    cd_engine_note_promotion(&s, "a", 0, 20);
    cd_engine_note_promotion(&s, "b", 10 * 60000, 20);
    cd_engine_note_promotion(&s, "c", 20 * 60000, 20);   /* c serves since 20m */
    cd_rollback_window w = {.set = true, .revisions = 3};
    int64_t now = 30 * 60000;
    assert_int_equal(cd_engine_rollback_match(&s, &w, "c", now), 0);
    assert_int_equal(cd_engine_rollback_match(&s, &w, "b", now), 1);
    assert_int_equal(cd_engine_rollback_match(&s, &w, "a", now), 2);
    assert_int_equal(cd_engine_rollback_match(&s, &w, "x", now), -1);
    w.revisions = 2;   /* the primary's and one before it */
    assert_int_equal(cd_engine_rollback_match(&s, &w, "a", now), -1);
    assert_int_equal(cd_engine_rollback_match(&s, &w, "b", now), 1);
    /* maxAge: b stopped serving at 20m, a at 10m */
    w.revisions = 3;
    w.max_age_ms = 15 * 60000;
    assert_int_equal(cd_engine_rollback_match(&s, &w, "b", now), 1);    /* 10m ago */
    assert_int_equal(cd_engine_rollback_match(&s, &w, "a", now), -1);   /* 20m ago */
    assert_int_equal(cd_engine_rollback_match(&s, &w, "c", 10 * 3600000LL), 0);   /* serves now */
    w.set = false;
    assert_int_equal(cd_engine_rollback_match(&s, &w, "b", now), -1);
    cd_status_free(&s);
}

/* ---- through the engine ---------------------------------------------------- */

typedef struct run {
    cd_scenario *sc;
    cd_sim *sim;
} run;

static run start(const char *canary)
{
    run r;
    const cd_object *o = fx_canary(canary);
    r.sc = fx_scenario("revisions: []\n");
    cd_sim_options opt = {.keep_log = true};
    r.sim = cd_sim_new(&o->meta, &o->spec.canary, r.sc, &opt);
    return r;
}

static void stop(run *r)
{
    cd_sim_free(r->sim);
    cd_scenario_free(r->sc);
    fx_release_objects();
}

/* Ticks until the persisted phase is p (at most max ticks); the trace. */
static char *until_phase(run *r, cd_phase p, int max)
{
    cd_buf out = CD_BUF_INIT;
    cd_sim_row row;
    for (int i = 0; i < max; i++) {
        cd_sim_tick(r->sim, &row);
        fx_row_line(&row, &out);
        if (cd_sim_status(r->sim)->phase == p)
            return cd_buf_steal(&out);
    }
    fprintf(stderr, "never reached %s:\n%s", cd_phase_name(p), cd_buf_str(&out));
    fail();
    return NULL;
}

/* Releases revision rev through the whole analysis (to Succeeded). */
static void release(run *r, int rev)
{
    cd_sim_set_revision(r->sim, rev);
    char *t = until_phase(r, CD_PHASE_SUCCEEDED, 30);
    assert_non_null(strstr(t, "Starting canary analysis"));
    free(t);
    assert_int_equal(cd_sim_get_stats(r->sim)->primary_revision, rev);
}

static void test_instant_after_promotion(void **state)
{
    run r = start(HEAD "  rollbackWindow:\n    revisions: 3\n" ANALYSIS);
    fx_skip(r.sim);   /* initialization: revision 0 is the first primary */
    cd_canary_status *st = cd_sim_status(r.sim);
    assert_int_equal(st->n_promoted, 1);
    char rev0[CD_HASH_MAX];
    snprintf(rev0, sizeof rev0, "%s", st->last_promoted_spec);
    assert_string_equal(st->promoted[0].revision, rev0);
    release(&r, 1);
    st = cd_sim_status(r.sim);
    assert_int_equal(st->n_promoted, 2);
    assert_string_equal(st->promoted[1].revision, rev0);
    int promotions = cd_sim_get_stats(r.sim)->promotions;

    /* back to revision 0: one tick, no analysis */
    cd_sim_set_revision(r.sim, 0);
    char *line = fx_step(r.sim);
    char want[600];
    snprintf(want, sizeof want,
             "Succeeded 0/100 f0 i0: Instant rollback of podinfo.default to revision %s "
             "promoted ", rev0);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "within rollbackWindow, skipping analysis | "
                                 "Copying podinfo.default template spec to podinfo-primary.default | "));
    snprintf(want, sizeof want, "Promotion completed! Instant rollback to revision %s of podinfo.default\n",
             rev0);
    assert_non_null(strstr(line, want));
    assert_null(strstr(line, "Starting canary analysis"));
    free(line);
    const cd_sim_stats *stats = cd_sim_get_stats(r.sim);
    assert_int_equal(stats->primary_revision, 0);
    assert_int_equal(stats->promotions, promotions + 1);
    assert_int_equal(stats->canary_replicas, 0);
    st = cd_sim_status(r.sim);
    assert_string_equal(st->last_promoted_spec, rev0);
    assert_string_equal(st->last_applied_spec, rev0);
    assert_string_equal(st->promoted[0].revision, rev0);   /* moved to the front */
    assert_int_equal(st->n_promoted, 2);
    assert_string_equal(st->condition.reason, "Succeeded");
    /* and forward again to 1, also within the window */
    cd_sim_set_revision(r.sim, 1);
    line = fx_step(r.sim);
    assert_non_null(strstr(line, "Succeeded 0/100 f0 i0: Instant rollback of podinfo.default"));
    free(line);
    assert_int_equal(cd_sim_get_stats(r.sim)->primary_revision, 1);
    stop(&r);
}

static void test_instant_during_analysis(void **state)
{
    run r = start(HEAD "  rollbackWindow:\n    revisions: 3\n" ANALYSIS);
    fx_skip(r.sim);
    release(&r, 1);
    release(&r, 2);   /* history: 2, 1, 0 */
    cd_sim_set_revision(r.sim, 3);
    free(until_phase(&r, CD_PHASE_PROGRESSING, 3));
    fx_skip(r.sim);   /* starting the analysis */
    fx_skip(r.sim);
    assert_true(cd_sim_status(r.sim)->canary_weight > 0);
    /* revision 1 during revision 3's analysis: promoted at once */
    cd_sim_set_revision(r.sim, 1);
    char *line = fx_step(r.sim);
    assert_non_null(strstr(line, "Succeeded 0/100 f0 i0: Instant rollback of podinfo.default"));
    free(line);
    assert_int_equal(cd_sim_get_stats(r.sim)->primary_revision, 1);
    /* going back to the primary's own revision ends a release in flight */
    cd_sim_set_revision(r.sim, 4);
    free(until_phase(&r, CD_PHASE_PROGRESSING, 3));
    fx_skip(r.sim);
    cd_sim_set_revision(r.sim, 1);
    line = fx_step(r.sim);
    assert_non_null(strstr(line, "Succeeded 0/100 f0 i0: Instant rollback of podinfo.default"));
    free(line);
    assert_int_equal(cd_sim_get_stats(r.sim)->primary_revision, 1);
    assert_int_equal(cd_sim_get_stats(r.sim)->canary_replicas, 0);
    stop(&r);
}

static void test_outside_window(void **state)
{
    /* revisions: 2 keeps the primary's and one earlier */
    run r = start(HEAD "  rollbackWindow:\n    revisions: 2\n" ANALYSIS);
    fx_skip(r.sim);
    release(&r, 1);
    release(&r, 2);
    assert_int_equal(cd_sim_status(r.sim)->n_promoted, 2);
    cd_sim_set_revision(r.sim, 0);   /* two promotions ago: outside */
    char *line = fx_step(r.sim);
    assert_non_null(strstr(line, "Progressing 0/100 f0 i0: New revision detected!"));
    free(line);
    stop(&r);

    /* maxAge: revision 0 stopped serving when 1 was promoted */
    r = start(HEAD "  rollbackWindow:\n    revisions: 3\n    maxAge: 10m\n" ANALYSIS);
    fx_skip(r.sim);
    release(&r, 1);
    for (int i = 0; i < 11; i++)
        fx_skip(r.sim);
    cd_sim_set_revision(r.sim, 0);
    line = fx_step(r.sim);
    assert_non_null(strstr(line, "Progressing 0/100 f0 i0: New revision detected!"));
    free(line);
    stop(&r);
}

static void test_without_field(void **state)
{
    run r = start(HEAD ANALYSIS);
    fx_skip(r.sim);
    release(&r, 1);
    assert_int_equal(cd_sim_status(r.sim)->n_promoted, 0);   /* no history kept */
    json_t *j = cd_status_to_json(cd_sim_status(r.sim));
    assert_null(json_object_get(j, "promotedRevisions"));
    json_decref(j);
    cd_sim_set_revision(r.sim, 0);
    char *line = fx_step(r.sim);
    assert_non_null(strstr(line, "Progressing 0/100 f0 i0: New revision detected!"));
    free(line);
    stop(&r);
}

/* A canary that gets the field after its primary was promoted: that
 * primary goes into the history (time unknown) at the next promotion. */
static void test_history_seeded(void **state)
{
    run r = start(HEAD "  rollbackWindow:\n    revisions: 3\n" ANALYSIS);
    fx_skip(r.sim);
    cd_canary_status *st = cd_sim_status(r.sim);
    st->n_promoted = 0;   /* as if the field were added now */
    release(&r, 1);
    st = cd_sim_status(r.sim);
    assert_int_equal(st->n_promoted, 2);
    assert_int_equal(st->promoted[1].promoted_ms, 0);
    cd_sim_set_revision(r.sim, 0);
    char *line = fx_step(r.sim);
    assert_non_null(strstr(line, "promoted earlier: within rollbackWindow"));
    free(line);
    stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_promotion),
        cmocka_unit_test(test_rollback_match),
        cmocka_unit_test(test_instant_after_promotion),
        cmocka_unit_test(test_instant_during_analysis),
        cmocka_unit_test(test_outside_window),
        cmocka_unit_test(test_without_field),
        cmocka_unit_test(test_history_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
