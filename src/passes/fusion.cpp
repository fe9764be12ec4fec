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

class Fusion : public Pass {
 public:
  explicit Fusion(std::int64_t min_elements) : min_elements_(min_elements) {}
  const char* name() const override { return "fusion"; }

  std::string run(graph::Graph& g) override {
    auto& nodes = g.mutable_nodes();
    std::unordered_map<const graph::Node*, std::size_t> pos;
    for (std::size_t i = 0; i < nodes.size(); ++i) pos[nodes[i].get()] = i;
    std::unordered_map<const graph::Node*, int> group;  // node -> group id
    std::vector<std::vector<graph::Node*>> groups;
    std::unordered_map<const graph::Node*, std::vector<const graph::Node*>> consumers;
    for (const auto& sp : nodes)
      for (const auto& v : sp->inputs) consumers[v.node].push_back(sp.get());

    // The fused node runs where the group's last member was: no outside node may read a member before that.
    auto read_early_outside = [&](int gid, const graph::Node* n) {
      for (const graph::Node* m : groups[static_cast<std::size_t>(gid)])
        for (const graph::Node* c : consumers[m]) {
          auto it = group.find(c);
          bool inside = it != group.end() && it->second == gid;
          if (!inside && c != n && pos[c] < pos[n]) return true;
        }
      return false;
    };

    // Does `from` depend on a member of group gid (searching only nodes after the group's first member)?
    auto depends_on_group = [&](const graph::Node* from, int gid) {
      std::size_t first = pos[groups[static_cast<std::size_t>(gid)].front()];
      std::vector<const graph::Node*> work{from};
      std::unordered_set<const graph::Node*> seen;
      while (!work.empty()) {
        const graph::Node* x = work.back();
        work.pop_back();
        if (!seen.insert(x).second || pos[x] < first) continue;
        auto it = group.find(x);
        if (it != group.end() && it->second == gid) return true;
        for (const auto& v : x->inputs) work.push_back(v.node);
        for (const auto* c : x->control_inputs) work.push_back(c);
      }
      return false;
    };

    for (const auto& sp : nodes) {
      graph::Node* n = sp.get();
      if (!fusable(n, min_elements_)) continue;
      int target = -1;
      for (const auto& v : n->inputs) {
        auto it = group.find(v.node);
        if (it != group.end() && groups[static_cast<std::size_t>(it->second)].front()->outputs[0].shape == n->outputs[0].shape) {
          target = it->second;
          break;
        }
      }
      if (target >= 0 && read_early_outside(target, n)) target = -1;
      if (target >= 0) {
        for (const auto& v : n->inputs) {
          auto it = group.find(v.node);
          bool inside = it != group.end() && it->second == target;
          if (!inside && depends_on_group(v.node, target)) {
            target = -1;
            break;
          }
        }
      }
      if (target < 0) {
        target = static_cast<int>(groups.size());
        groups.emplace_back();
      }
      group[n] = target;
      groups[static_cast<std::size_t>(target)].push_back(n);
    }

    // Which values are used outside their group (or returned)?
    std::unordered_map<const graph::Node*, bool> used_outside;
    for (const auto& sp : nodes)
      for (const auto& v : sp->inputs) {
        auto it = group.find(v.node);
        auto me = group.find(sp.get());
        if (it != group.end() && (me == group.end() || me->second != it->second)) used_outside[v.node] = true;
      }
    for (const auto& v : g.outputs()) used_outside[v.node] = true;

    int fused_groups = 0, fused_nodes = 0;
    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;  // last member -> fused node
    std::unordered_set<const graph::Node*> removed;
    for (auto& members : groups) {
      if (members.size() < 2) continue;
      auto prog = std::make_shared<FusedProgram>();
      prog->shape = members.front()->outputs[0].shape;
      std::unordered_map<const graph::Node*, int> instr_of;
      std::vector<graph::Value> externals;
      auto external_index = [&](const graph::Value& v) {
        for (std::size_t i = 0; i < externals.size(); ++i)
          if (externals[i] == v) return static_cast<int>(i);
        externals.push_back(v);
        return static_cast<int>(externals.size() - 1);
      };
      std::vector<graph::Node*> outs;
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
          const bool first = std::find(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(j), a) == args.begin() + static_cast<std::ptrdiff_t>(j);
          if (a < 0 && first && last[static_cast<std::size_t>(-a - 1)] == static_cast<int>(i)) free_slots.push_back(prog->slot[static_cast<std::size_t>(-a - 1)]);
        }
      }
      std::vector<TensorSpec> input_specs;
      for (const auto& v : externals) input_specs.push_back(v.node->outputs[static_cast<std::size_t>(v.index)]);
      prog->finalize(input_specs);
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
    // Place each fused node where its last member was, then drop the members.
    g.place_replacements(replaced_by, removed);
    return "fused " + std::to_string(fused_nodes) + " nodes into " + std::to_string(fused_groups) + " groups";
  }

 private:
  std::int64_t min_elements_;
};

}  // namespace

std::unique_ptr<Pass> elementwise_fusion(std::int64_t min_elements) { return std::make_unique<Fusion>(min_elements); }

}  // namespace duet::passes
