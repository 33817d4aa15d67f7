/* store/results.c: being written */
