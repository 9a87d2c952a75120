/* commands.h - canaryctl's subcommands; one file per command. Each takes
 * the arguments after its name and returns the process exit status. */
#ifndef CD_CLI_COMMANDS_H
#define CD_CLI_COMMANDS_H

int cmd_validate(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_metrics(int argc, char **argv);

#endif
