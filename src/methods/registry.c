/* methods/registry.c: being written */
