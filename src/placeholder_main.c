/* placeholder_main.c - keeps the dispatch table non-empty until the first
 * real process lands; delete with its mains.def line. */
#include "mains.h"
#include <stdio.h>

int cd_main_placeholder(int argc, char **argv)
{
    fprintf(stderr, "canaryd: no such process yet\n");
    return 2;
}
