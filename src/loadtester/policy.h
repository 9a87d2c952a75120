/* policy.h - what the load tester agrees to run (docs/loadtester.md,
 * docs/security.md): every program of a task must be on the allowlist
 * (by default the tools Flagger's docs and e2e tests use), a shell
 * command line (`cmd`, `bash`) must stay within a plain subset of the
 * shell (simple commands joined by |, &&, || and ;, with quoting; no
 * expansion, substitution, redirection, background or subshell), and when
 * -namespace-regexp is set, every namespace a kubectl or helm command
 * would act in must match it. Pure: no I/O except reading the pod's own
 * namespace once. */
#ifndef CD_LOADTESTER_POLICY_H
#define CD_LOADTESTER_POLICY_H
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/* The default allowlist, NULL-terminated. */
extern const char *const cd_default_allowed_commands[];

typedef struct cd_cmd_policy {
    bool any_command;               /* -allow-any-command: Flagger's behaviour */
    char **allowed;                 /* program names (no '/') */
    size_t nallowed;
    const regex_t *namespaces;      /* NULL: any namespace */
    char own_namespace[256];        /* where kubectl/helm act without -n */
} cd_cmd_policy;

/* The defaults plus the comma-separated names in extra (may be NULL).
 * False with why for a name that is not a plain program name. */
bool cd_cmd_policy_init(cd_cmd_policy *p, const char *extra, bool any, const regex_t *namespaces,
                        char *why, size_t whylen);
void cd_cmd_policy_free(cd_cmd_policy *p);

/* A shell command line (`sh -c` / `bash -c`): false with why when it
 * leaves the plain subset, runs a program off the list, or points kubectl
 * or helm at a namespace the regexp refuses. */
bool cd_cmd_policy_check_shell(const cd_cmd_policy *p, const char *line, char *why, size_t whylen);
/* The arguments of a helm/helmv3/kubectl task (argv[0] is the program). */
bool cd_cmd_policy_check_argv(const cd_cmd_policy *p, char *const argv[], char *why,
                              size_t whylen);

#endif
