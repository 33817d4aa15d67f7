/* io/pcd.c: being written */
