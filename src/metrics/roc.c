/* metrics/roc.c: being written */
