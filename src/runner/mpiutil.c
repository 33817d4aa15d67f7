/* mpiutil.c - sleeping waits over non-blocking MPI calls. */
#include "runner/mpiutil.h"

#include <limits.h>
#include <time.h>

void mpi_wait_sleepy(MPI_Request *req, MPI_Status *status) {
  long ns = 20000;
  for (;;) {
    int done = 0;
    MPI_CHECK(MPI_Test(req, &done, status ? status : MPI_STATUS_IGNORE));
    if (done)
      return;
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
    if (ns < 20000000)
      ns *= 2;
  }
}

void mpi_recv_sleepy(void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm, MPI_Status *st) {
  MPI_Request req;
  MPI_CHECK(MPI_Irecv(buf, count, type, src, tag, comm, &req));
  mpi_wait_sleepy(&req, st);
}

void mpi_bcast_sleepy(void *buf, size_t bytes, MPI_Comm comm) {
  for (size_t off = 0; off < bytes;) {
    int n = bytes - off > (size_t)INT_MAX ? INT_MAX : (int)(bytes - off);
    MPI_Request req;
    MPI_CHECK(MPI_Ibcast((char *)buf + off, n, MPI_BYTE, 0, comm, &req));
    mpi_wait_sleepy(&req, NULL);
    off += (size_t)n;
  }
}

void mpi_allreduce_sum_sleepy(float *buf, size_t n, MPI_Comm comm) {
  for (size_t off = 0; off < n;) {
    int k = n - off > (size_t)INT_MAX ? INT_MAX : (int)(n - off);
    MPI_Request req;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf + off, k, MPI_FLOAT, MPI_SUM, comm, &req));
    mpi_wait_sleepy(&req, NULL);
    off += (size_t)k;
  }
}
