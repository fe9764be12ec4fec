#pragma once
// Graph-to-graph rewrites. Each pass has a name, rewrites in place and reports what it did; passes read
// op traits (stateful, random, not foldable, commutative), never lists of op names.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "duet/function.h"
#include "graph/graph.h"

namespace duet::passes {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual const char* name() const = 0;
  // Returns a one-line summary ("removed 3 nodes") recorded in the graph's stats.
  virtual std::string run(graph::Graph& g) = 0;
};

std::unique_ptr<Pass> dead_code_elimination();
std::unique_ptr<Pass> constant_folding();
std::unique_ptr<Pass> common_subexpression_elimination();
std::unique_ptr<Pass> elementwise_fusion(std::int64_t min_elements);
std::unique_ptr<Pass> conv_bias_activation();
std::unique_ptr<Pass> pool_grad_relu();
std::unique_ptr<Pass> conv_bias_grad();
std::unique_ptr<Pass> conv_pool();
std::unique_ptr<Pass> batch_norm_relu();
std::unique_ptr<Pass> split_products();
std::unique_ptr<Pass> matmul_sum();
std::unique_ptr<Pass> partial_sums();
std::unique_ptr<Pass> merge_variable_reads();
std::unique_ptr<Pass> transposed_operands();

// A node that replaces `from` takes its name scope, and its origin (the traced op it came from, which
// errors and profiles name).
inline void inherit_origin(graph::Node* f, const graph::Node* from) {
  f->scope = from->scope;
  f->origin = {from->origin.empty() ? from->name : from->origin[0]};
}

// Who reads each node's outputs: how many uses (a graph output counts as one) and one of the readers.
// Rewrites that absorb a node into its reader check it has exactly one.
struct Readers {
  std::unordered_map<const graph::Node*, int> count;
  std::unordered_map<const graph::Node*, graph::Node*> one;
  int of(const graph::Node* n) const {
    auto it = count.find(n);
    return it == count.end() ? 0 : it->second;
  }
  graph::Node* sole(const graph::Node* n) const {  // the only reader, or nullptr
    auto it = one.find(n);
    return of(n) == 1 && it != one.end() ? it->second : nullptr;
  }
};
Readers readers_of(const graph::Graph& g);

// Runs the enabled passes in order; with verify, the graph verifier runs after each one.
void optimize(graph::Graph& g, const PassOptions& options, bool verify);

}  // namespace duet::passes
