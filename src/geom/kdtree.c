/* geom/kdtree.c: being written */
