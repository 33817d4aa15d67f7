/* cli.h - the subcommands of the ad3d program. Each takes argc/argv after the subcommand name
 * and returns the process exit status. */
#ifndef AD3D_CLI_CLI_H
#define AD3D_CLI_CLI_H

#include <stdio.h>

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_defaults(int argc, char **argv);

typedef enum { REPORT_MARKDOWN, REPORT_CSV, REPORT_LATEX } report_format;

/* Print the I-AUROC and P-AUROC tables of a results file (one pair per dataset x variant).
 * paper: add the paper's published figures beside ours. Returns 0, or 1 with a message on stderr. */
int report_print(const char *path, report_format fmt, int paper, FILE *out);

/* The paper's published tables (the CSV files of analysis/paper, embedded at build time). */
typedef struct {
  const char *name; /* file stem */
  const char *csv;
} paper_table;
extern const paper_table paper_tables[];

#endif
