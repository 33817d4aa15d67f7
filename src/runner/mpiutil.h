/* mpiutil.h - the MPI helpers the runner's loops share: a checking macro and waits that sleep.
 *
 * Every MPI call goes through MPI_CHECK, which reports file, line and rank and aborts the job: an MPI
 * error is "the job failed", never "this task failed". Waiting ranks poll with MPI_Test and sleep a
 * little longer each time (up to 20 ms), because Open MPI's blocking calls spin a core.
 */
#ifndef AD3D_RUNNER_MPIUTIL_H
#define AD3D_RUNNER_MPIUTIL_H

#include <mpi.h>
#include <stddef.h>
#include <stdio.h>

#define MPI_CHECK(call)                                                                          \
  do {                                                                                           \
    int mpi_rc_ = (call);                                                                        \
    if (mpi_rc_ != MPI_SUCCESS) {                                                                \
      char msg_[MPI_MAX_ERROR_STRING];                                                           \
      int len_ = 0;                                                                              \
      MPI_Error_string(mpi_rc_, msg_, &len_);                                                    \
      int rank_ = -1;                                                                            \
      MPI_Comm_rank(MPI_COMM_WORLD, &rank_);                                                     \
      fprintf(stderr, "%s:%d: rank %d: %s failed: %s\n", __FILE__, __LINE__, rank_, #call, msg_); \
      MPI_Abort(MPI_COMM_WORLD, 101);                                                            \
    }                                                                                            \
  } while (0)

/* Complete a request without spinning; status may be NULL. */
void mpi_wait_sleepy(MPI_Request *req, MPI_Status *status);
/* MPI_Recv that sleeps while it waits. */
void mpi_recv_sleepy(void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm, MPI_Status *st);
/* Broadcast `bytes` bytes from rank 0 (in chunks of at most INT_MAX), sleeping while it waits. */
void mpi_bcast_sleepy(void *buf, size_t bytes, MPI_Comm comm);
/* In-place sum of n floats over all ranks (chunks of at most INT_MAX), sleeping while it waits. */
void mpi_allreduce_sum_sleepy(float *buf, size_t n, MPI_Comm comm);

#endif
