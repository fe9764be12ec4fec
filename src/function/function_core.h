#pragma once
// The non-template core of duet::function (declared opaque in the public header).
#include <list>
#include <mutex>
#include <unordered_map>

#include "duet/function.h"
#include "exec/plan.h"

namespace duet::internal {

// Held while tracing (process-wide: tracing runs layer code, which may build layers shared by several
// functions). Recursive: a trace may run code that traces another function.
std::recursive_mutex& trace_mutex();

class FunctionCore {
 public:
  struct Entry {
    int id = 0;  // trace number, from 0
    std::vector<TensorSpec> specs;
    std::string key;
    std::vector<std::string> shown;
    std::shared_ptr<graph::Graph> graph;
    std::shared_ptr<exec::Plan> plan;
    std::shared_ptr<const graph::Graph> raw;  // the unoptimized trace (check_eager's diagnosis, saving)
    std::vector<std::int64_t> structure;
    std::list<std::shared_ptr<Entry>>::iterator lru_pos;
  };

  explicit FunctionCore(FunctionOptions options);
  std::vector<Tensor> call(const ArgList& args, const TraceFn& trace, std::vector<std::int64_t>& structure);
  int trace_count() const;
  std::vector<std::string> retrace_reasons() const;
  std::shared_ptr<const graph::Graph> graph_of(int trace) const;
  // The traces kept, oldest first (Function::save writes their unoptimized graphs).
  std::vector<std::shared_ptr<const Entry>> entries() const;  // -1: the latest; nullptr before the first
  // Traces the callable on placeholders of `specs` into a new, unoptimized graph.
  std::shared_ptr<graph::Graph> trace_graph(const std::vector<TensorSpec>& specs, const TraceFn& trace,
                                            std::vector<std::int64_t>& structure, bool first) const;

  FunctionOptions options;

 private:
  std::shared_ptr<Entry> find(const ArgList& args);
  std::string explain(const ArgList& args) const;
  std::vector<TensorSpec> trace_specs(const ArgList& args) const;
  void check_signature(const ArgList& args) const;
  std::shared_ptr<Entry> add_trace(const ArgList& args, const TraceFn& trace);

  mutable std::mutex mu_;  // guards everything below
  std::list<std::shared_ptr<Entry>> lru_;
  std::unordered_map<std::size_t, std::vector<std::shared_ptr<Entry>>> buckets_;
  std::shared_ptr<Entry> last_;  // the latest trace (kept for explanations even when evicted)
  std::vector<std::string> reasons_;
  int traces_ = 0;
};

}  // namespace duet::internal
