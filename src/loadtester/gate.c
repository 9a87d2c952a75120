/* gate.c - the load tester's gate storage: which "name.namespace" (and
 * "rollback.name.namespace") keys are open. In memory, like Flagger's: a
 * restart closes every gate. Thread-safe. */
#include "loadtester/loadtester.h"
#include "util/grow.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cd_gates {
    pthread_mutex_t mu;
    char **open;
    size_t n, cap;
};

cd_gates *cd_gates_new(void)
{
    cd_gates *g = calloc(1, sizeof *g);
    if (!g)
        abort();
    pthread_mutex_init(&g->mu, NULL);
    return g;
}

void cd_gates_free(cd_gates *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->open[i]);
    free(g->open);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

static ssize_t find(cd_gates *g, const char *key)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->open[i], key))
            return (ssize_t)i;
    return -1;
}

void cd_gates_set(cd_gates *g, const char *key, bool open)
{
    pthread_mutex_lock(&g->mu);
    ssize_t i = find(g, key);
    if (open && i < 0) {
        CD_GROW(g->open, g->cap, g->n + 1, 16);
        g->open[g->n] = strdup(key);
        if (!g->open[g->n])
            abort();
        g->n++;
    } else if (!open && i >= 0) {
        free(g->open[i]);
        g->open[i] = g->open[--g->n];
    }
    pthread_mutex_unlock(&g->mu);
}

bool cd_gates_is_open(cd_gates *g, const char *key)
{
    pthread_mutex_lock(&g->mu);
    bool open = find(g, key) >= 0;
    pthread_mutex_unlock(&g->mu);
    return open;
}
