/* methods/btf.c: being written */
