/* mains.h - entry points of canaryd's processes (see mains.def). */
#ifndef CD_MAINS_H
#define CD_MAINS_H

int cd_main_router(int argc, char **argv);
int cd_main_loadtester(int argc, char **argv);
int cd_main_local(int argc, char **argv);
int cd_main_kube(int argc, char **argv);

#endif
