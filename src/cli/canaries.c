/* canaries.c - canaryctl's read commands against canaryd local:
 *   get canaries [-n NS | -A] [-o json]
 *   describe canary NAME [-n NS]
 *   events NAME [-n NS] [--limit N]
 *   watch NAME [-n NS] [--until-done]
 * Exit 0, 1 when the canary does not exist, 2 for usage errors or an
 * unreachable server. */
#include "cli/commands.h"
#include "cli/local_client.h"
#include "cli/view.h"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct common {
    cd_api_client client;
    const char *ns;
    bool all_ns, json, until_done;
    int limit;
    const char *positional[4];
    int npos;
} common;

static bool parse(common *o, int argc, char **argv, const char *usage)
{
    memset(o, 0, sizeof *o);
    if (!cd_api_client_init(&o->client, &argc, argv))
        return false;
    static const struct option opts[] = {
        {"namespace", required_argument, NULL, 'n'}, {"all-namespaces", no_argument, NULL, 'A'},
        {"output", required_argument, NULL, 'o'},    {"limit", required_argument, NULL, 'l'},
        {"until-done", no_argument, NULL, 'u'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    o->ns = "default";
    o->limit = 50;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:Ao:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o->ns = optarg; break;
        case 'A': o->all_ns = true; break;
        case 'o':
            if (strcmp(optarg, "json")) {
                fprintf(stderr, "canaryctl: unsupported output \"%s\" (json)\n", optarg);
                return false;
            }
            o->json = true;
            break;
        case 'l': o->limit = atoi(optarg); break;
        case 'u': o->until_done = true; break;
        case 'h': printf("%s", usage); exit(0);
        default: fprintf(stderr, "%s", usage); return false;
        }
    }
    for (int i = optind; i < argc && o->npos < 4; i++)
        o->positional[o->npos++] = argv[i];
    return true;
}

static json_t *fetch(const common *o, const char *path, int *rc)
{
    long status;
    char err[600] = "";
    json_t *j = cd_api_call(&o->client, "GET", path, NULL, 0, &status, err, sizeof err);
    if (!status) {
        fprintf(stderr, "canaryctl: %s\n", err);
        *rc = 2;
    } else if (status == 404) {
        fprintf(stderr, "canaryctl: %s\n", json_string_value(json_object_get(j, "error")) ?: "not found");
        *rc = 1;
    } else if (status != 200) {
        fprintf(stderr, "canaryctl: the server answered %ld\n", status);
        *rc = 2;
    } else {
        *rc = 0;
        return j;
    }
    json_decref(j);
    return NULL;
}

static void print(cd_buf *b)
{
    fwrite(cd_buf_str(b), 1, b->len, stdout);
    cd_buf_free(b);
}

int cmd_get(int argc, char **argv)
{
    const char *usage = "Usage: canaryctl get canaries [-n NS | -A] [-o json] [--server ADDR]\n";
    common o;
    if (!parse(&o, argc, argv, usage))
        return 2;
    if (o.npos < 1 || (strcmp(o.positional[0], "canaries") && strcmp(o.positional[0], "canary") &&
                       strcmp(o.positional[0], "canaries.flagger.app"))) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    int rc;
    json_t *j = fetch(&o, "/api/v1/canaries", &rc);
    if (!j)
        return rc;
    json_t *items = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "items"), i, c)
        if (o.all_ns || !strcmp(json_string_value(json_object_get(c, "namespace")) ?: "", o.ns))
            json_array_append(items, c);
    cd_buf b = CD_BUF_INIT;
    if (o.json) {
        json_t *list = json_pack("{s:s,s:s,s:O}", "apiVersion", "v1", "kind", "List", "items",
                                 items);
        char *s = json_dumps(list, JSON_INDENT(2) | JSON_SORT_KEYS);
        cd_buf_printf(&b, "%s\n", s);
        free(s);
        json_decref(list);
    } else if (json_array_size(items) == 0) {
        fprintf(stderr, "No canaries found%s%s.\n", o.all_ns ? "" : " in namespace ",
                o.all_ns ? "" : o.ns);
    } else {
        cd_view_table(&b, items, o.all_ns);
    }
    print(&b);
    json_decref(items);
    json_decref(j);
    return 0;
}

static json_t *fetch_canary(const common *o, const char *name, int *rc)
{
    char path[700];
    cd_api_canary_path(path, sizeof path, o->ns, name);
    return fetch(o, path, rc);
}

int cmd_describe(int argc, char **argv)
{
    const char *usage = "Usage: canaryctl describe canary NAME [-n NS] [-o json] [--server ADDR]\n";
    common o;
    if (!parse(&o, argc, argv, usage))
        return 2;
    const char *name = o.npos == 2 ? o.positional[1] : NULL;
    if (!name || (strcmp(o.positional[0], "canary") && strcmp(o.positional[0], "canaries"))) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    int rc;
    json_t *j = fetch_canary(&o, name, &rc);
    if (!j)
        return rc;
    cd_buf b = CD_BUF_INIT;
    if (o.json) {
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        cd_buf_printf(&b, "%s\n", s);
        free(s);
    } else {
        cd_view_describe(&b, j);
    }
    print(&b);
    json_decref(j);
    return 0;
}

int cmd_events(int argc, char **argv)
{
    const char *usage = "Usage: canaryctl events NAME [-n NS] [--limit N] [-o json] [--server ADDR]\n";
    common o;
    if (!parse(&o, argc, argv, usage))
        return 2;
    if (o.npos != 1) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    char path[800];
    cd_api_canary_path(path, sizeof path, o.ns, o.positional[0]);
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/events?limit=%d", o.limit);
    int rc;
    json_t *j = fetch(&o, path, &rc);
    if (!j)
        return rc;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "items"), i, e) {
        if (o.json) {
            char *s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", s);
            free(s);
        } else {
            printf("%-24s %-8s %-17s %s\n", json_string_value(json_object_get(e, "ts")) ?: "",
                   json_string_value(json_object_get(e, "type")) ?: "",
                   json_string_value(json_object_get(e, "phase")) ?: "",
                   json_string_value(json_object_get(e, "message")) ?: "");
        }
    }
    json_decref(j);
    return 0;
}

static volatile sig_atomic_t g_stop;
static void on_int(int sig) { g_stop = 1; }

int cmd_watch(int argc, char **argv)
{
    const char *usage = "Usage: canaryctl watch NAME [-n NS] [--until-done] [--server ADDR]\n"
                        "  Live view; in place on a terminal, one line per change when piped.\n"
                        "  --until-done  exit 0 when the canary reaches Succeeded, 1 on Failed\n";
    common o;
    if (!parse(&o, argc, argv, usage))
        return 2;
    if (o.npos != 1) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    signal(SIGINT, on_int);
    signal(SIGTERM, on_int);
    bool tty = isatty(STDOUT_FILENO);
    char last[1024] = "";
    while (!g_stop) {
        int rc;
        json_t *j = fetch_canary(&o, o.positional[0], &rc);
        if (!j)
            return rc;
        cd_buf b = CD_BUF_INIT;
        if (tty) {
            cd_buf_puts(&b, "\033[H\033[2J");
            cd_view_watch(&b, j, 8);
            print(&b);
        } else {
            cd_view_line(&b, j);
            /* print a line only when phase or weights changed */
            char key[1024];
            snprintf(key, sizeof key, "%s %lld %lld %lld",
                     json_string_value(json_object_get(j, "phase")) ?: "",
                     (long long)json_integer_value(json_object_get(j, "canaryWeight")),
                     (long long)json_integer_value(json_object_get(j, "primaryWeight")),
                     (long long)json_integer_value(json_object_get(j, "failedChecks")));
            if (strcmp(key, last)) {
                snprintf(last, sizeof last, "%s", key);
                print(&b);
                fflush(stdout);
            } else {
                cd_buf_free(&b);
            }
        }
        const char *phase = json_string_value(json_object_get(j, "phase")) ?: "";
        bool done = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
        json_decref(j);
        if (o.until_done && done)
            return strcmp(phase, "Succeeded") ? 1 : 0;
        usleep(500000);
    }
    return 0;
}
