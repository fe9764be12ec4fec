#include "core/comm.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/mpi_api.h"
#include "duet/error.h"

namespace duet::comm {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double timeout_from_env() {
  if (const char* v = std::getenv("DUET_COLLECTIVE_TIMEOUT")) {
    double t = std::atof(v);
    if (t > 0) return t;
  }
  return 300;
}

// Process-wide and never destroyed: the watchdog thread and atexit handlers may outlive static destructors.
struct Group {
  bool mpi = false;
  bool owns_mpi = false;  // we initialized MPI, so we finalize it at exit
  int rank = 0;
  int size = 1;
  const DuetMpiApi* api = nullptr;  // libduet_mpi.so's calls (its communicator is a duplicate of MPI_COMM_WORLD)
  std::mutex mu;                    // one collective at a time (MPI_THREAD_SERIALIZED)
  std::atomic<double> timeout{timeout_from_env()};
  std::atomic<std::int64_t> inflight_since{0};  // ns; 0 when no collective waits
  std::string inflight_what;                    // guarded by mu (read by the watchdog only at the end)
  Stats stats;                                  // guarded by mu
};

[[noreturn]] void mpi_failed(const DuetMpiApi& api, int rc, const std::string& what) {
  char text[512];
  api.error_string(rc, text, sizeof text);
  throw DistributedError("[distributed::" + what + "] MPI failed: " + std::string(text));
}

// libduet_mpi.so, from the folder libduet was loaded from (the build tree, the installed lib folder, the
// Python package), else wherever the loader finds it. RTLD_GLOBAL: Open MPI's own components, which it
// loads itself, resolve their symbols against libmpi.
const DuetMpiApi& load_mpi() {
  std::string tried;
  void* lib = nullptr;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&launched_by_mpi), &info) && info.dli_fname) {
    std::string self = info.dli_fname;
    const auto slash = self.rfind('/');
    const std::string path =
        (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/libduet_mpi.so";
    lib = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!lib) tried = dlerror();
  }
  if (!lib) lib = dlopen("libduet_mpi.so", RTLD_NOW | RTLD_GLOBAL);
  if (!lib) {
    const char* err = dlerror();
    throw DistributedError(
        "[distributed] this process was started by an MPI launcher, but duet's MPI support could not be loaded (" +
        (tried.empty() ? std::string(err ? err : "libduet_mpi.so not found") : tried) +
        "): if Open MPI's library is what is missing, install its runtime (Debian: apt-get install libopenmpi3, "
        "which scripts/install-deps.sh installs); if libduet_mpi.so is, reinstall duet; or run without mpirun for "
        "one process");
  }
  using Entry = const DuetMpiApi* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(lib, "duet_mpi_api"));
  const DuetMpiApi* api = entry ? entry() : nullptr;
  if (!api || api->version != kDuetMpiApiVersion) {
    throw DistributedError("[distributed] libduet_mpi.so does not match this libduet (API version " +
                           std::to_string(api ? api->version : -1) + ", expected " +
                           std::to_string(kDuetMpiApiVersion) + "): reinstall duet");
  }
  return *api;
}

void watchdog(Group* g) {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::int64_t since = g->inflight_since.load();
    if (since == 0) continue;
    double waited = static_cast<double>(now_ns() - since) * 1e-9;
    if (waited <= g->timeout.load()) continue;
    // The waiting thread holds g->mu inside MPI; inflight_what was written before it entered, so reading it
    // here races with nothing but the next collective, which cannot start while this one waits.
    std::fprintf(stderr,
                 "duet: rank %d of %d waited %.0f s in %s for the other ranks (timeout %.0f s, "
                 "DUET_COLLECTIVE_TIMEOUT): a rank has died, stalled or stopped calling the same collectives. "
                 "Ending this process so that the launcher stops the job.\n",
                 g->rank, g->size, waited, g->inflight_what.c_str(), g->timeout.load());
    std::fflush(stderr);
    _exit(3);
  }
}

void finalize_at_exit();

Group& group() {
  static Group* g = [] {
    auto* gr = new Group;
    if (!launched_by_mpi()) return gr;
    const DuetMpiApi& api = load_mpi();
    int owns = 0;
    if (int rc = api.init(&gr->rank, &gr->size, &owns); rc != 0) mpi_failed(api, rc, "init");
    gr->owns_mpi = owns != 0;
    gr->api = &api;
    gr->mpi = true;
    std::thread(watchdog, gr).detach();
    if (gr->owns_mpi) std::atexit(finalize_at_exit);
    return gr;
  }();
  return *g;
}

void finalize_at_exit() { group().api->finalize(); }

enum Kind : std::int64_t { kAllreduce = 1, kBroadcast = 2, kBarrier = 3 };
const char* kind_name(std::int64_t k) {
  return k == kAllreduce ? "allreduce" : k == kBroadcast ? "broadcast" : k == kBarrier ? "barrier" : "?";
}
const char* reduce_name(std::int64_t r) { return r == 0 ? "sum" : r == 1 ? "max" : r == 2 ? "min" : "?"; }

// Times one collective and lets the watchdog see it.
class InFlight {
 public:
  InFlight(Group& g, const std::string& what) : g_(g), t0_(now_ns()) {
    g_.inflight_what = what;
    g_.inflight_since.store(t0_);
  }
  ~InFlight() {
    g_.inflight_since.store(0);
    g_.stats.seconds += static_cast<double>(now_ns() - t0_) * 1e-9;
  }

 private:
  Group& g_;
  std::int64_t t0_;
};

// All ranks must be in the same collective with the same count, dtype and argument: one allreduce of the
// values and their negations under MAX gives every rank the range of each, the same on every rank, so either
// every rank goes on or every rank throws.
void check_agreement(Group& g, Kind kind, std::int64_t count, DType dtype, std::int64_t arg, const std::string& what) {
  std::int64_t mine[4] = {kind, count, static_cast<std::int64_t>(dtype), arg};
  std::int64_t buf[8];
  for (int i = 0; i < 4; ++i) {
    buf[i] = mine[i];
    buf[4 + i] = -mine[i];
  }
  int rc = g.api->allreduce(buf, 8, static_cast<int>(DType::Int64), static_cast<int>(Reduce::Max));
  if (rc != 0) mpi_failed(*g.api, rc, kind_name(kind));
  bool same = true;
  for (int i = 0; i < 4; ++i) same = same && buf[i] == -buf[4 + i];
  if (same) return;
  auto range = [&](int i, auto name) {
    std::int64_t lo = -buf[4 + i], hi = buf[i];
    return lo == hi ? std::string(name(lo)) : std::string(name(lo)) + " to " + name(hi);
  };
  auto num = [](std::int64_t v) { return std::to_string(v); };
  auto dt = [](std::int64_t v) { return std::string(dtype_name(static_cast<DType>(v))); };
  auto kn = [](std::int64_t v) { return std::string(kind_name(v)); };
  std::string arg_text = kind == kBroadcast ? "root " + range(3, num)
                         : kind == kAllreduce
                             ? "op " + range(3, [](std::int64_t v) { return std::string(reduce_name(v)); })
                             : "";
  throw DistributedError("[distributed::" + std::string(kind_name(kind)) + "] the " + std::to_string(g.size) +
                         " ranks disagree on this collective: " + range(0, kn) + ", element count " + range(1, num) +
                         ", dtype " + range(2, dt) + (arg_text.empty() ? "" : ", " + arg_text) + " (rank " +
                         std::to_string(g.rank) + " runs " + what + " of " + std::to_string(count) + " " +
                         dtype_name(dtype) +
                         " elements). Every rank must run the same collectives in the same order on tensors of "
                         "the same shape and dtype");
}

// MPI counts are ints: larger buffers go in pieces of at most 2^30 elements.
template <class Collective>
void in_pieces(const Group& g, void* buf, std::int64_t count, DType dtype, const char* name, Collective run) {
  constexpr std::int64_t kMaxPiece = std::int64_t{1} << 30;
  auto* p = static_cast<char*>(buf);
  const auto elem = static_cast<std::int64_t>(dtype_size(dtype));
  for (std::int64_t done = 0; done < count; done += kMaxPiece) {
    int rc = run(p + done * elem, static_cast<int>(std::min(kMaxPiece, count - done)));
    if (rc != 0) mpi_failed(*g.api, rc, name);
  }
}

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

int local_size_from_env() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}) {
    if (const char* s = std::getenv(v)) {
      int n = std::atoi(s);
      if (n > 0) return n;
    }
  }
  return 1;
}

int rank() { return group().rank; }
int size() { return group().size; }

void allreduce(void* buf, std::int64_t count, DType dtype, Reduce op, const std::string& what) {
  Group& g = group();
  if (!g.mpi) return;  // one process: the reduction of one value is the value
  std::lock_guard<std::mutex> lock(g.mu);
  InFlight f(g, what + " of " + std::to_string(count) + " " + dtype_name(dtype) + " elements");
  check_agreement(g, kAllreduce, count, dtype, static_cast<std::int64_t>(op), what);
  in_pieces(g, buf, count, dtype, "allreduce",
            [&](void* p, int n) { return g.api->allreduce(p, n, static_cast<int>(dtype), static_cast<int>(op)); });
  g.stats.calls += 1;
  g.stats.bytes += count * static_cast<std::int64_t>(dtype_size(dtype));
}

void broadcast(void* buf, std::int64_t count, DType dtype, int root, const std::string& what) {
  Group& g = group();
  if (!g.mpi) return;
  std::lock_guard<std::mutex> lock(g.mu);
  InFlight f(g, what + " of " + std::to_string(count) + " " + dtype_name(dtype) + " elements from rank " +
                    std::to_string(root));
  check_agreement(g, kBroadcast, count, dtype, root, what);
  in_pieces(g, buf, count, dtype, "broadcast",
            [&](void* p, int n) { return g.api->bcast(p, n, static_cast<int>(dtype), root); });
  g.stats.calls += 1;
  g.stats.bytes += count * static_cast<std::int64_t>(dtype_size(dtype));
}

void barrier(const std::string& what) {
  Group& g = group();
  if (!g.mpi) return;
  std::lock_guard<std::mutex> lock(g.mu);
  InFlight f(g, what);
  check_agreement(g, kBarrier, 0, DType::Bool, 0, what);
  g.stats.calls += 1;
}

void set_timeout(double seconds) {
  if (!(seconds > 0))
    throw ValueError("[distributed::set_timeout] needs a positive number of seconds, got " + std::to_string(seconds));
  group().timeout.store(seconds);
}
double timeout() { return group().timeout.load(); }

Stats stats() {
  Group& g = group();
  std::lock_guard<std::mutex> lock(g.mu);
  return g.stats;
}
void reset_stats() {
  Group& g = group();
  std::lock_guard<std::mutex> lock(g.mu);
  g.stats = {};
}

}  // namespace duet::comm
