// Elementwise fusion: connected groups of elementwise ops (trait kElementwise) over one fully known
// shape become a single FusedElementwise node, so intermediates never go to memory. Inputs of a group are
// full-size tensors of that shape or one-element scalars. A node joins its producer's group only when
// that cannot create a cycle (none of its outside inputs depends on the group).
#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "ops/fused.h"
#include "passes/pass.h"

namespace duet::passes {
namespace {

bool fusable(const graph::Node* n, std::int64_t min_elements) {
  const OpDef* op = n->op;
  if (!op->has(kElementwise) || op->has(kView) || op->has(kStateful) || op->has(kRandom)) return false;
  if (op == &fused_elementwise_op() || n->outputs.size() != 1) return false;
  const Shape& s = n->outputs[0].shape;
  if (!s.is_fully_known() || s.num_elements() < min_elements) return false;
  for (const auto& v : n->inputs) {
    const Shape& in = v.node->outputs[static_cast<std::size_t>(v.index)].shape;
    if (!(in == s) && !(in.is_fully_known() && in.num_elements() == 1)) return false;
  }
  return true;
}

// Phase 1: groups. Each fusable node joins a group of one of its producers (same shape) unless that could
// create a cycle or run a member after an outside reader; otherwise it starts a group.
struct Groups {
  std::vector<std::vector<graph::Node*>> members;
  std::unordered_map<const graph::Node*, int> of;  // node -> group id

  int group_of(const graph::Node* n) const {
    auto it = of.find(n);
    return it == of.end() ? -1 : it->second;
  }
};

class Grouper {
 public:
  Grouper(const graph::Graph& g, std::int64_t min_elements) : g_(g), min_elements_(min_elements) {
    const auto& nodes = g.nodes();
    for (std::size_t i = 0; i < nodes.size(); ++i) pos_[nodes[i].get()] = i;
    for (const auto& sp : nodes)
      for (const auto& v : sp->inputs) consumers_[v.node].push_back(sp.get());
  }

  Groups run() {
    for (const auto& sp : g_.nodes()) {
      graph::Node* n = sp.get();
      if (!fusable(n, min_elements_)) continue;
      int target = producer_group(n);
      if (target >= 0 && (read_early_outside(target, n) || input_depends_on_group(n, target))) target = -1;
      if (target < 0) {
        target = static_cast<int>(groups_.members.size());
        groups_.members.emplace_back();
      }
      groups_.of[n] = target;
      groups_.members[static_cast<std::size_t>(target)].push_back(n);
    }
    return std::move(groups_);
  }

 private:
  // The group of one of n's producers with n's shape, or -1.
  int producer_group(const graph::Node* n) const {
    for (const auto& v : n->inputs) {
      int gid = groups_.group_of(v.node);
      if (gid >= 0 && groups_.members[static_cast<std::size_t>(gid)].front()->outputs[0].shape == n->outputs[0].shape)
        return gid;
    }
    return -1;
  }
  // The fused node runs where the group's last member was: no outside node may read a member before that.
  bool read_early_outside(int gid, const graph::Node* n) {
    for (const graph::Node* m : groups_.members[static_cast<std::size_t>(gid)])
      for (const graph::Node* c : consumers_[m])
        if (groups_.group_of(c) != gid && c != n && pos_[c] < pos_[n]) return true;
    return false;
  }
  // Does an outside input of n depend on a member of the group (which would make the fused node a cycle)?
  bool input_depends_on_group(const graph::Node* n, int gid) {
    for (const auto& v : n->inputs)
      if (groups_.group_of(v.node) != gid && depends_on_group(v.node, gid)) return true;
    return false;
  }
  // Searches back from `from`, only through nodes after the group's first member.
  bool depends_on_group(const graph::Node* from, int gid) {
    std::size_t first = pos_[groups_.members[static_cast<std::size_t>(gid)].front()];
    std::vector<const graph::Node*> work{from};
    std::unordered_set<const graph::Node*> seen;
    while (!work.empty()) {
      const graph::Node* x = work.back();
      work.pop_back();
      if (!seen.insert(x).second || pos_[x] < first) continue;
      if (groups_.group_of(x) == gid) return true;
      for (const auto& v : x->inputs) work.push_back(v.node);
      for (const auto* c : x->control_inputs) work.push_back(c);
    }
    return false;
  }

  const graph::Graph& g_;
  std::int64_t min_elements_;
  std::unordered_map<const graph::Node*, std::size_t> pos_;
  std::unordered_map<const graph::Node*, std::vector<const graph::Node*>> consumers_;
  Groups groups_;
};

// Phase 2: the program of one group. Instructions in member order; a member whose value is used outside the
// group (or returned) becomes an output; block buffers are reused once their last reader has run.
std::shared_ptr<FusedProgram> build_program(const std::vector<graph::Node*>& members,
                                            const std::unordered_set<const graph::Node*>& used_outside,
                                            std::vector<graph::Value>& externals, std::vector<graph::Node*>& outs) {
  auto prog = std::make_shared<FusedProgram>();
  prog->shape = members.front()->outputs[0].shape;
  std::unordered_map<const graph::Node*, int> instr_of;
  auto external_index = [&](const graph::Value& v) {
    for (std::size_t i = 0; i < externals.size(); ++i)
      if (externals[i] == v) return static_cast<int>(i);
    externals.push_back(v);
    return static_cast<int>(externals.size() - 1);
  };
  for (graph::Node* m : members) {
    FusedProgram::Instr ins{m->op, m->attrs, {}, m->outputs[0].dtype};
    for (const auto& v : m->inputs) {
      auto it = instr_of.find(v.node);
      ins.args.push_back(it != instr_of.end() ? -(it->second + 1) : external_index(v));
    }
    instr_of[m] = static_cast<int>(prog->instrs.size());
    prog->instrs.push_back(std::move(ins));
    if (used_outside.count(m)) {
      prog->outputs.push_back(instr_of[m]);
      outs.push_back(m);
    }
  }
  // Block buffers: an instruction's slot is free after its last reader (outputs live to the end).
  std::vector<int> last(prog->instrs.size(), -1);
  for (std::size_t i = 0; i < prog->instrs.size(); ++i)
    for (int a : prog->instrs[i].args)
      if (a < 0) last[static_cast<std::size_t>(-a - 1)] = static_cast<int>(i);
  for (int o : prog->outputs) last[static_cast<std::size_t>(o)] = static_cast<int>(prog->instrs.size());
  std::vector<int> free_slots;
  prog->slot.assign(prog->instrs.size(), -1);
  for (std::size_t i = 0; i < prog->instrs.size(); ++i) {
    if (!free_slots.empty()) {
      prog->slot[i] = free_slots.back();
      free_slots.pop_back();
    } else {
      prog->slot[i] = prog->num_slots++;
    }
    // Operands whose last use is this instruction free their slot after it, once each (x * x reads one
    // temp twice; freeing its slot twice would hand it to two later instructions).
    const auto& args = prog->instrs[i].args;
    for (std::size_t j = 0; j < args.size(); ++j) {
      const int a = args[j];
      const bool first = std::find(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(j), a) ==
                         args.begin() + static_cast<std::ptrdiff_t>(j);
      if (a < 0 && first && last[static_cast<std::size_t>(-a - 1)] == static_cast<int>(i))
        free_slots.push_back(prog->slot[static_cast<std::size_t>(-a - 1)]);
    }
  }
  std::vector<TensorSpec> input_specs;
  for (const auto& v : externals) input_specs.push_back(v.node->outputs[static_cast<std::size_t>(v.index)]);
  prog->finalize(input_specs);
  return prog;
}

class Fusion : public Pass {
 public:
  explicit Fusion(std::int64_t min_elements) : min_elements_(min_elements) {}
  const char* name() const override { return "fusion"; }

  // Phase 3: each group of two or more becomes one FusedElementwise node where its last member was.
  std::string run(graph::Graph& g) override {
    Groups groups = Grouper(g, min_elements_).run();
    std::unordered_set<const graph::Node*> used_outside;  // values read outside their group, or returned
    for (const auto& sp : g.nodes())
      for (const auto& v : sp->inputs) {
        int gid = groups.group_of(v.node);
        if (gid >= 0 && groups.group_of(sp.get()) != gid) used_outside.insert(v.node);
      }
    for (const auto& v : g.outputs()) used_outside.insert(v.node);

    int fused_groups = 0, fused_nodes = 0;
    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;  // last member -> fused node
    std::unordered_set<const graph::Node*> removed;
    for (auto& members : groups.members) {
      if (members.size() < 2) continue;
      std::vector<graph::Value> externals;
      std::vector<graph::Node*> outs;
      auto prog = build_program(members, used_outside, externals, outs);
      std::vector<TensorSpec> specs;
      for (int o : prog->outputs) specs.push_back({prog->instrs[static_cast<std::size_t>(o)].dtype, prog->shape});
      graph::Node* f = g.add(&fused_elementwise_op(), externals, {{"program", FnRef(prog)}}, specs);
      f->scope = members.back()->scope;
      for (graph::Node* o : outs) f->origin.push_back(o->origin.empty() ? o->name : o->origin[0]);
      for (std::size_t k = 0; k < outs.size(); ++k) g.replace_uses({outs[k], 0}, {f, static_cast<int>(k)});
      replaced_by[members.back()] = f;
      for (graph::Node* m : members) removed.insert(m);
      ++fused_groups;
      fused_nodes += static_cast<int>(members.size());
    }
    if (!fused_groups) return "fused 0 groups";
    g.place_replacements(replaced_by, removed);
    return "fused " + std::to_string(fused_nodes) + " nodes into " + std::to_string(fused_groups) + " groups";
  }

 private:
  std::int64_t min_elements_;
};

}  // namespace

std::unique_ptr<Pass> elementwise_fusion(std::int64_t min_elements) { return std::make_unique<Fusion>(min_elements); }

}  // namespace duet::passes
