#include "passes/pass.h"

namespace duet::passes {

Readers readers_of(const graph::Graph& g) {
  Readers r;
  for (const auto& n : g.nodes())
    for (const auto& v : n->inputs) {
      ++r.count[v.node];
      r.one[v.node] = n.get();
    }
  for (const auto& v : g.outputs()) ++r.count[v.node];
  return r;
}

void optimize(graph::Graph& g, const PassOptions& o, bool verify) {
  std::vector<std::unique_ptr<Pass>> pipeline;
  if (o.constant_folding) pipeline.push_back(constant_folding());
  if (o.cse) {
    pipeline.push_back(merge_variable_reads());  // before CSE: products of one weight's reads then merge
    pipeline.push_back(common_subexpression_elimination());
  }
  if (o.dce) pipeline.push_back(dead_code_elimination());  // removes what folding and CSE left unused
  if (o.fusion) {
    pipeline.push_back(conv_bias_activation());
    pipeline.push_back(conv_pool());
    pipeline.push_back(pool_grad_relu());
    pipeline.push_back(batch_norm_relu());
    pipeline.push_back(conv_bias_grad());
    pipeline.push_back(split_products());  // before matmul_sum: the stacked parts join the step's sum
    pipeline.push_back(matmul_sum());      // before elementwise fusion takes the additions
    pipeline.push_back(partial_sums());
    pipeline.push_back(transposed_operands());
    pipeline.push_back(elementwise_fusion(o.fusion_min_elements));
  }
  for (auto& p : pipeline) {
    std::string what = p->run(g);
    g.stats().push_back({p->name(), what});
    if (verify) g.verify();
  }
}

}  // namespace duet::passes
