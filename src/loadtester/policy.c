/* policy.c - see policy.h. The shell subset is checked by a small
 * scanner that follows sh's quoting rules for the characters it allows and
 * refuses every character that would make sh do more than split words:
 * what it accepts, sh runs as the simple commands it saw. */
#include "loadtester/policy.h"
#include "util/buf.h"
#include "util/grow.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cd_default_allowed_commands[] = {
    /* load generators and probes in Flagger's docs, e2e tests and image */
    "hey", "wrk", "ghz", "grpc_health_probe", "grpcurl", "k6", "curl",
    /* acceptance tests */
    "bats", "ginkgo", "helm", "kubectl",
    /* filters Flagger's e2e checks pipe into */
    "grep", "jq",
    NULL,
};

static void add_name(cd_cmd_policy *p, const char *name, size_t n)
{
    char **a = realloc(p->allowed, (p->nallowed + 1) * sizeof *a);
    if (!a)
        abort();
    p->allowed = a;
    p->allowed[p->nallowed] = strndup(name, n);
    if (!p->allowed[p->nallowed])
        abort();
    p->nallowed++;
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._+-", s[i]))
            return false;
    return true;
}

static void read_own_namespace(cd_cmd_policy *p)
{
    const char *env = getenv("POD_NAMESPACE");
    snprintf(p->own_namespace, sizeof p->own_namespace, "default");
    if (env && *env) {
        snprintf(p->own_namespace, sizeof p->own_namespace, "%s", env);
        return;
    }
    FILE *f = fopen("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "r");
    if (!f)
        return;
    char buf[256];
    if (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, " \t\r\n")] = 0;
        if (*buf)
            snprintf(p->own_namespace, sizeof p->own_namespace, "%s", buf);
    }
    fclose(f);
}

bool cd_cmd_policy_init(cd_cmd_policy *p, const char *extra, bool any, const regex_t *namespaces,
                        char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    p->any_command = any;
    p->namespaces = namespaces;
    for (size_t i = 0; cd_default_allowed_commands[i]; i++)
        add_name(p, cd_default_allowed_commands[i], strlen(cd_default_allowed_commands[i]));
    for (const char *s = extra; s && *s;) {
        size_t n = strcspn(s, ",");
        size_t b = 0;
        while (b < n && s[b] == ' ')
            b++;
        size_t e = n;
        while (e > b && s[e - 1] == ' ')
            e--;
        if (e > b) {
            if (!valid_name(s + b, e - b)) {
                snprintf(why, whylen, "-allow-commands: \"%.*s\" is not a program name (letters, "
                                      "digits, . _ + -; no paths)", (int)(e - b), s + b);
                cd_cmd_policy_free(p);
                return false;
            }
            add_name(p, s + b, e - b);
        }
        s += n + (s[n] == ',');
    }
    read_own_namespace(p);
    return true;
}

void cd_cmd_policy_free(cd_cmd_policy *p)
{
    for (size_t i = 0; i < p->nallowed; i++)
        free(p->allowed[i]);
    free(p->allowed);
    p->allowed = NULL;
    p->nallowed = 0;
}

static bool allowed(const cd_cmd_policy *p, const char *prog)
{
    for (size_t i = 0; i < p->nallowed; i++)
        if (!strcmp(p->allowed[i], prog))
            return true;
    return false;
}

/* ---- kubectl and helm namespaces --------------------------------------- */

static bool ns_ok(const cd_cmd_policy *p, const char *prog, const char *ns, const char *how,
                  char *why, size_t whylen)
{
    if (regexec(p->namespaces, ns, 0, NULL, 0) == 0)
        return true;
    snprintf(why, whylen, "%s would act in namespace \"%.100s\" (%s), which -namespace-regexp "
                          "does not allow", prog, ns, how);
    return false;
}

/* Flags that point kubectl or helm at another cluster, context or
 * identity: with -namespace-regexp set they are refused. */
static bool switches_cluster(const char *prog, const char *a)
{
    static const char *const common[] = {"--kubeconfig", "--context", "--cluster", "--server",
                                         "--as", "--as-group", "--as-uid", "--token", "--user",
                                         "--kube-context", "--kube-apiserver", "--kube-as-user",
                                         "--kube-as-group", "--kube-token", "--kube-ca-file",
                                         "--kube-insecure-skip-tls-verify", NULL};
    for (size_t i = 0; common[i]; i++) {
        size_t n = strlen(common[i]);
        if (!strncmp(a, common[i], n) && (a[n] == 0 || a[n] == '='))
            return true;
    }
    return !strcmp(prog, "kubectl") && (!strcmp(a, "-s") || !strncmp(a, "-s=", 3));
}

/* argv of kubectl or helm (argv[0] its name); n words. */
static bool check_kube_args(const cd_cmd_policy *p, char *const *argv, size_t n, char *why,
                            size_t whylen)
{
    if (!p->namespaces)
        return true;
    const char *prog = argv[0];
    bool named = false;
    for (size_t i = 1; i < n; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;   /* what follows belongs to a command run elsewhere (kubectl exec) */
        const char *ns = NULL;
        if ((!strcmp(a, "-n") || !strcmp(a, "--namespace")) && i + 1 < n)
            ns = argv[++i];
        else if (!strncmp(a, "--namespace=", 12))
            ns = a + 12;
        else if (!strncmp(a, "-n", 2) && a[2] && a[2] != '-')
            ns = a[2] == '=' ? a + 3 : a + 2;
        else if (!strcmp(a, "-A") || !strncmp(a, "--all-namespaces", 16)) {
            snprintf(why, whylen, "%s %s acts in every namespace, which -namespace-regexp "
                                  "does not allow", prog, a);
            return false;
        } else if (switches_cluster(prog, a)) {
            snprintf(why, whylen, "%s %.60s is not allowed with -namespace-regexp (it changes "
                                  "the cluster, context or identity)", prog, a);
            return false;
        }
        if ((!strcmp(a, "-n") || !strcmp(a, "--namespace")) && !ns) {
            snprintf(why, whylen, "%s %s needs a value", prog, a);
            return false;
        }
        if (ns) {
            named = true;
            if (!ns_ok(p, prog, ns, "from its namespace flag", why, whylen))
                return false;
        }
    }
    if (!named && !ns_ok(p, prog, p->own_namespace, "the load tester's own, as no -n is given",
                         why, whylen))
        return false;
    return true;
}

static bool check_command(const cd_cmd_policy *p, char **words, size_t n, char *why,
                          size_t whylen)
{
    if (n == 0) {
        snprintf(why, whylen, "empty command");
        return false;
    }
    if (!allowed(p, words[0])) {
        snprintf(why, whylen, "\"%.80s\" is not an allowed command (allowed: see "
                              "-allow-commands in docs/loadtester.md)", words[0]);
        return false;
    }
    if (!strcmp(words[0], "kubectl") || !strcmp(words[0], "helm"))
        return check_kube_args(p, words, n, why, whylen);
    return true;
}

bool cd_cmd_policy_check_argv(const cd_cmd_policy *p, char *const argv[], char *why,
                              size_t whylen)
{
    size_t n = 0;
    while (argv[n])
        n++;
    if (!p->any_command && (n == 0 || !allowed(p, argv[0]))) {
        snprintf(why, whylen, "\"%.80s\" is not an allowed command (see -allow-commands)",
                 n ? argv[0] : "");
        return false;
    }
    return n && check_kube_args(p, argv, n, why, whylen);
}

/* ---- the shell subset ----------------------------------------------------- */

typedef struct scan {
    char **words;
    size_t n, cap;
    cd_buf word;
    bool in_word;
} scan;

static void end_word(scan *s)
{
    if (!s->in_word)
        return;
    CD_GROW(s->words, s->cap, s->n + 2, 8);
    s->words[s->n++] = cd_buf_steal(&s->word);
    if (!s->words[s->n - 1])
        s->words[s->n - 1] = strdup("");
    s->words[s->n] = NULL;
    s->in_word = false;
}

static void clear_words(scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->words[i]);
    s->n = 0;
}

static const char *refused_char(char c)
{
    switch (c) {
    case '$': return "variable expansion and command substitution ($)";
    case '`': return "command substitution (`)";
    case '\\': return "backslash escapes";
    case '<': case '>': return "redirection (< >)";
    case '(': case ')': return "subshells and process substitution ( )";
    case '{': case '}': return "command groups and brace expansion ({ })";
    case '&': return "background commands (&)";
    case '#': return "comments (#)";
    default: return NULL;
    }
}

bool cd_cmd_policy_check_shell(const cd_cmd_policy *p, const char *line, char *why, size_t whylen)
{
    if (p->any_command)
        return true;
    scan s = {0};
    bool ok = true;
    for (const char *c = line; ok; c++) {
        char ch = *c;
        bool sep = ch == 0 || ch == ';' || ch == '\n' || ch == '|' ||
                   (ch == '&' && c[1] == '&');
        if (sep) {
            end_word(&s);
            /* an empty command is harmless after ; or a newline or at the
             * end ("a;"), not before a pipe or && / || */
            if (s.n || ch == '|' || ch == '&')
                ok = check_command(p, s.words, s.n, why, whylen);
            clear_words(&s);
            if (ch == 0 || !ok)
                break;
            if ((ch == '|' && c[1] == '|') || (ch == '&' && c[1] == '&'))
                c++;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r') {
            end_word(&s);
            continue;
        }
        if (ch == '\'') {
            const char *end = strchr(c + 1, '\'');
            if (!end) {
                snprintf(why, whylen, "unterminated single quote");
                ok = false;
                break;
            }
            cd_buf_append(&s.word, c + 1, (size_t)(end - c - 1));
            s.in_word = true;
            c = end;
            continue;
        }
        if (ch == '"') {
            const char *q = c + 1;
            while (*q && *q != '"' && !strchr("$`\\", *q))
                q++;
            if (*q != '"') {
                snprintf(why, whylen, *q ? "%s inside double quotes is not allowed"
                                         : "unterminated double quote",
                         *q ? refused_char(*q) : "");
                ok = false;
                break;
            }
            cd_buf_append(&s.word, c + 1, (size_t)(q - c - 1));
            s.in_word = true;
            c = q;
            continue;
        }
        const char *r = refused_char(ch);
        if (r && !(ch == '#' && s.in_word)) {
            snprintf(why, whylen, "%s: not allowed in a load tester command", r);
            ok = false;
            break;
        }
        cd_buf_putc(&s.word, ch);
        s.in_word = true;
    }
    clear_words(&s);
    free(s.words);
    cd_buf_free(&s.word);
    return ok;
}
