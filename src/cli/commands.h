/* commands.h - canaryctl's subcommands; one file per command. Each takes
 * the arguments after its name and returns the process exit status. */
#ifndef CD_CLI_COMMANDS_H
#define CD_CLI_COMMANDS_H

int cmd_validate(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_abort(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_load(int argc, char **argv);

#endif
