// libduet_mpi.so: duet's MPI calls (core/mpi_api.h), the one part of duet compiled and linked against MPI.
// core/comm.cpp loads it with dlopen when an MPI launcher started the process.
#include <mpi.h>

#include <algorithm>
#include <cstring>

#include "core/mpi_api.h"
#include "duet/dtype.h"

namespace {

MPI_Comm g_comm = MPI_COMM_NULL;  // duet's duplicate of MPI_COMM_WORLD: user MPI traffic never mixes with ours

MPI_Datatype mpi_type(int d) {
  switch (static_cast<duet::DType>(d)) {
    case duet::DType::Bool:
      return MPI_UINT8_T;
    case duet::DType::Int32:
      return MPI_INT32_T;
    case duet::DType::Int64:
      return MPI_INT64_T;
    case duet::DType::Float32:
      return MPI_FLOAT;
    case duet::DType::Float64:
      return MPI_DOUBLE;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(int op) { return op == 0 ? MPI_SUM : op == 1 ? MPI_MAX : op == 2 ? MPI_MIN : MPI_OP_NULL; }

int init(int* rank, int* size, int* owns) {
  int inited = 0;
  MPI_Initialized(&inited);
  *owns = 0;
  if (!inited) {
    int provided = 0;
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) return rc;
    *owns = 1;
  }
  int rc = MPI_Comm_dup(MPI_COMM_WORLD, &g_comm);
  if (rc != MPI_SUCCESS) return rc;
  MPI_Comm_set_errhandler(g_comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(g_comm, rank);
  MPI_Comm_size(g_comm, size);
  return MPI_SUCCESS;
}

int allreduce(void* buf, int count, int dtype, int op) {
  return MPI_Allreduce(MPI_IN_PLACE, buf, count, mpi_type(dtype), mpi_op(op), g_comm);
}

int bcast(void* buf, int count, int dtype, int root) { return MPI_Bcast(buf, count, mpi_type(dtype), root, g_comm); }

void finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (g_comm != MPI_COMM_NULL) MPI_Comm_free(&g_comm);
  MPI_Finalize();
}

void error_string(int rc, char* text, int capacity) {
  char t[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, t, &len) != MPI_SUCCESS) len = 0;
  const int n = std::max(0, std::min(len, capacity - 1));
  std::memcpy(text, t, static_cast<std::size_t>(n));
  if (capacity > 0) text[n] = '\0';
}

const DuetMpiApi kApi{kDuetMpiApiVersion, init, allreduce, bcast, finalize, error_string};

}  // namespace

extern "C" __attribute__((visibility("default"))) const DuetMpiApi* duet_mpi_api() { return &kApi; }
