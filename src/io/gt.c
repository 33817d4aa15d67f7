/* io/gt.c: being written */
