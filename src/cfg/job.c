/* cfg/job.c: being written */
