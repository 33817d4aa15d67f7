/* runner/tasks.c: being written */
