/* runner/runner.c: being written */
