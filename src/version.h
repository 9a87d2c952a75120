/* version.h - canaryd's version and the Flagger version it follows. */
#ifndef CD_VERSION_H
#define CD_VERSION_H
#define CANARYD_VERSION "0.1.0"
#define CANARYD_FLAGGER_COMPAT "1.44.0"
#endif
