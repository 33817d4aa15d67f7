/* io/dataset.c: being written */
