/* test_engine_statefulset.c - a StatefulSet target through the engine, as
 * canaryd kube and canaryctl simulate run it (docs/statefulset.md): the
 * canary strategy on the partition even with provider kubernetes (which
 * forces blue/green for Deployments), the weights being the updated
 * share; promotion and rollback in Flagger's events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "engine_fixture.h"

#define STS                                                                                     \
    "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata:\n  name: db\n"                   \
    "  namespace: apps\nspec:\n  provider: kubernetes\n  targetRef:\n    apiVersion: apps/v1\n" \
    "    kind: StatefulSet\n    name: db\n  service:\n    port: 5432\n"                        \
    "  analysis:\n    interval: 1m\n    threshold: 2\n    stepWeight: 25\n    maxWeight: 50\n" \
    "    metrics:\n    - name: errors\n      query: sum(errors)\n"                             \
    "      thresholdRange: {max: 1}\n"

static void run(const char *scenario, const char *expected)
{
    const cd_object *o = fx_canary(STS);
    cd_scenario *sc = fx_scenario(scenario);
    cd_sim_options opt = {.mesh_provider = "kubernetes"};
    cd_sim *s = cd_sim_new(&o->meta, &o->spec.canary, sc, &opt);
    fx_expect_trace(s, 20, expected);
    cd_sim_free(s);
    cd_scenario_free(sc);
    fx_release_objects();
}

static void test_promoted_in_steps(void **state)
{
    run("revisions: [1m]\nmetrics:\n  errors: [{at: 0s, value: 0}]\n",
        "0s Initialized 0/100 f0 i0: all the metrics providers are available! | "
        "Initialization done! db.apps\n"
        "1m Progressing 0/100 f0 i0: New revision detected! Scaling up db.apps\n"
        "2m Progressing 25/75 f0 i0: Starting canary analysis for db.apps | "
        "Advance db.apps canary weight 25\n"
        "3m Progressing 50/50 f0 i0: Advance db.apps canary weight 50\n"
        "4m Promoting 50/50 f0 i0: Updating every ordinal of statefulset db.apps (partition 0)\n"
        "5m Finalising 0/100 f0 i0: Routing all traffic to primary\n"
        "6m Succeeded 0/100 f0 i0: Promotion completed! Scaling down db.apps\n");
}

static void test_rolled_back(void **state)
{
    run("revisions: [1m]\nmetrics:\n  errors: [{at: 0s, value: 0}, {at: 2m30s, value: 5}]\n",
        "0s Initialized 0/100 f0 i0: all the metrics providers are available! | "
        "Initialization done! db.apps\n"
        "1m Progressing 0/100 f0 i0: New revision detected! Scaling up db.apps\n"
        "2m Progressing 25/75 f0 i0: Starting canary analysis for db.apps | "
        "Advance db.apps canary weight 25\n"
        "3m Progressing 25/75 f1 i0: Halt db.apps advancement errors 5.00 > 1\n"
        "4m Progressing 25/75 f2 i0: Halt db.apps advancement errors 5.00 > 1\n"
        "5m Failed 0/100 f0 i0: Rolling back db.apps failed checks threshold reached 2 | "
        "Canary failed! Scaling down db.apps\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promoted_in_steps),
        cmocka_unit_test(test_rolled_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
