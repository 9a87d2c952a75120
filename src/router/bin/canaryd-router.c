/* canaryd-router.c - the data plane as a small executable of its own:
 * `canaryd router` re-executes it when it sits next to canaryd, so that
 * the router maps only libc, jansson and llhttp (no libcurl, GnuTLS or
 * libfyaml) and stays small in memory. Same flags as `canaryd router`. */
#include "mains.h"

int main(int argc, char **argv) { return cd_main_router(argc, argv); }
