/* cli/cmd_report.c: being written */
