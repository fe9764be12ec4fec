#pragma once
// The MPI calls duet makes, as a table of plain functions. libduet_mpi.so (src/mpi/, the only code compiled
// against the system's MPI) fills it; core/comm.cpp loads that plugin when an MPI launcher started the process.
// libduet itself links no MPI, so a program or the Python wheel that never trains across processes needs none.
extern "C" {
struct DuetMpiApi {
  int version;  // kDuetMpiApiVersion of the plugin
  // Initializes MPI (MPI_THREAD_SERIALIZED) unless the program already did, and makes duet's communicator (a
  // duplicate of MPI_COMM_WORLD whose errors are returned): its rank and size; *owns: whether duet
  // initialized MPI (and so finalizes it).
  int (*init)(int* rank, int* size, int* owns);
  // In place on duet's communicator. dtype: duet's DType value; op: 0 sum, 1 max, 2 min. 0 is success, other
  // values are MPI error codes.
  int (*allreduce)(void* buf, int count, int dtype, int op);
  int (*bcast)(void* buf, int count, int dtype, int root);
  // Frees the communicator and finalizes MPI (unless something finalized it already).
  void (*finalize)();
  // An MPI error code's text, NUL-terminated, at most `capacity` bytes.
  void (*error_string)(int rc, char* text, int capacity);
};
// The plugin's entry point (looked up by this name).
const DuetMpiApi* duet_mpi_api();
}
constexpr int kDuetMpiApiVersion = 1;
