/* io/lzf.c: being written */
