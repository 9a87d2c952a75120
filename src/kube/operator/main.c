/* main.c - `canaryd kube`: flags (options.c), logging as Flagger's (JSON
 * lines with ts, level, logger, caller, msg, canary), then the controller.
 * Nothing else lives here. */
#include "kube/operator/operator.h"
#include "mains.h"
#include "net/httpd.h"
#include "util/log.h"
#include <stdio.h>

int cd_main_kube(int argc, char **argv)
{
    cdk_options o;
    cdk_options_defaults(&o);
    int rc = cdk_options_parse(&o, argc, argv, stdout, stderr);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    cd_log_set_json(o.log_json);
    cd_log_set_level(cd_log_parse_level(o.log_level));
    cd_log_set_logger("canaryd");
    cd_raise_fd_limit();   /* the HTTP port's connection cap needs descriptors */
    return cdk_operator_run(&o);
}
