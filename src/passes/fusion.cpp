// Elementwise fusion: connected groups of elementwise ops (trait kElementwise) over one fully known
// shape become a single FusedElementwise node, so intermediates never go to memory. Inputs of a group are
// full-size tensors of that shape or one-element scalars. A node joins its producer's group only when
// that cannot create a cycle (none of its outside inputs depends on the group).
#include <algorithm>
#include <functional>
#include <optional>
#include <tuple>
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
  if (op->has(kChecksIntegers))
    for (const auto& v : n->inputs)
      if (!is_floating(v.node->outputs[static_cast<std::size_t>(v.index)].dtype)) return false;
  for (const auto& v : n->inputs) {
    const Shape& in = v.node->outputs[static_cast<std::size_t>(v.index)].shape;
    if (!(in == s) && !(in.is_fully_known() && in.num_elements() == 1)) return false;
  }
  return true;
}

// Phase 1: groups. Nodes are visited in graph order; each fusable node starts a group and then merges with
// the groups of its producers that have its shape (an LSTM cell's gates come from four producers: the
// cell is one group only if those merge), unless an outside node reads a member before this node (the fused
// node runs where the group's last member, this node, was).
struct Groups {
  std::vector<std::vector<graph::Node*>> members;  // in graph order; emptied when merged into another
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
    for (const auto& sp : nodes) {
      for (const auto& v : sp->inputs) consumers_[v.node].push_back(sp.get());
      for (const graph::Node* c : sp->control_inputs) consumers_[c].push_back(sp.get());
    }
  }

  Groups run() {
    for (const auto& sp : g_.nodes()) {
      graph::Node* n = sp.get();
      if (!fusable(n, min_elements_)) continue;
      int mine = static_cast<int>(groups_.members.size());
      groups_.members.push_back({n});
      groups_.of[n] = mine;
      for (const auto& v : n->inputs) {
        const int gid = groups_.group_of(v.node);
        if (gid < 0 || gid == mine ||
            groups_.members[static_cast<std::size_t>(gid)].front()->outputs[0].shape != n->outputs[0].shape)
          continue;
        if (try_merge(gid, mine)) mine = gid;
      }
    }
    // The parts of a concat (a gradient of split gates) may come from sibling groups no node links: merge
    // them so the concat can be written by one fused node.
    for (const auto& sp : g_.nodes()) {
      if (sp->op != &concat_op() || sp->inputs.empty()) continue;
      int into = groups_.group_of(sp->inputs[0].node);
      for (const auto& v : sp->inputs) {
        const int gid = groups_.group_of(v.node);
        if (into < 0 || gid < 0) break;
        if (gid != into && groups_.members[static_cast<std::size_t>(gid)].front()->outputs[0].shape ==
                               groups_.members[static_cast<std::size_t>(into)].front()->outputs[0].shape) {
          const bool later = pos_[groups_.members[static_cast<std::size_t>(gid)].back()] >
                             pos_[groups_.members[static_cast<std::size_t>(into)].back()];
          if (later ? try_merge(gid, into) : try_merge(into, gid)) into = later ? gid : into;
        }
      }
    }
    return std::move(groups_);
  }

 private:
  // Merges group `from` into `into` unless an outside node reads a member before the union's last member
  // (where the fused node will run). That check also rules out cycles: a path from one group to the other
  // through an outside node starts with that node reading a member, and it runs before the group at the
  // path's end has finished, so before the union's last member.
  bool try_merge(int into, int from) {
    const graph::Node* last = groups_.members[static_cast<std::size_t>(into)].back();
    const graph::Node* last_from = groups_.members[static_cast<std::size_t>(from)].back();
    if (pos_[last_from] > pos_[last]) last = last_from;
    if (read_early_outside(into, from, last) || read_early_outside(from, into, last)) return false;
    merge(into, from);
    return true;
  }
  // Moves group `from` into `into`, keeping graph order.
  void merge(int into, int from) {
    auto& a = groups_.members[static_cast<std::size_t>(into)];
    auto& b = groups_.members[static_cast<std::size_t>(from)];
    for (graph::Node* m : b) groups_.of[m] = into;
    std::vector<graph::Node*> merged;
    merged.reserve(a.size() + b.size());
    std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(merged),
               [&](const graph::Node* x, const graph::Node* y) { return pos_[x] < pos_[y]; });
    a.swap(merged);
    b.clear();
  }
  // No node outside the two groups may read a member of `gid` before `n` (where the fused node will run).
  bool read_early_outside(int gid, int other, const graph::Node* n) {
    for (const graph::Node* m : groups_.members[static_cast<std::size_t>(gid)])
      for (const graph::Node* c : consumers_[m]) {
        const int cg = groups_.group_of(c);
        if (cg != gid && cg != other && pos_[c] < pos_[n]) return true;
      }
    return false;
  }
  const graph::Graph& g_;
  std::int64_t min_elements_;
  std::unordered_map<const graph::Node*, std::size_t> pos_;
  std::unordered_map<const graph::Node*, std::vector<const graph::Node*>> consumers_;
  Groups groups_;
};

// Float32 members with block kernels: such a group may read parts of a split and write parts of a concat.
bool blockable(const std::vector<graph::Node*>& members) {
  for (const graph::Node* m : members) {
    if (m->outputs[0].dtype != DType::Float32 || !m->op->block_f32 || m->inputs.size() > FusedProgram::kMaxBlockArgs)
      return false;
    for (const auto& v : m->inputs)
      if (v.node->outputs[static_cast<std::size_t>(v.index)].dtype != DType::Float32) return false;
  }
  return true;
}

// Where `part` lies in `whole` when it is the piece along `axis` starting at `begin` (all other dims equal).
std::optional<FusedProgram::Strided> part_of(const Shape& whole, const Shape& part, std::int64_t axis,
                                             std::int64_t begin) {
  const int rank = whole.rank();
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || part.rank() != rank || !whole.is_fully_known() || !part.is_fully_known() ||
      part.num_elements() == 0)
    return std::nullopt;
  std::int64_t inner = 1;
  for (int d = 0; d < rank; ++d) {
    if (d != axis && whole[d] != part[d]) return std::nullopt;
    if (d > axis) inner *= whole[d];
  }
  const auto ax = static_cast<int>(axis);
  return FusedProgram::Strided{part[ax] * inner, whole[ax] * inner, begin * inner};
}

// An output of a Split read by the group: the split's input and where the output lies in it.
std::optional<std::pair<graph::Value, FusedProgram::Strided>> split_part(const graph::Value& v) {
  const graph::Node* s = v.node;
  if (s->op != &split_op()) return std::nullopt;
  const graph::Value whole = s->inputs[0];
  const Shape& ws = whole.node->outputs[static_cast<std::size_t>(whole.index)].shape;
  std::int64_t axis = s->attrs.i("axis");
  if (axis < 0) axis += ws.rank();
  if (axis < 0 || axis >= ws.rank()) return std::nullopt;
  std::int64_t begin = 0;
  for (int k = 0; k < v.index; ++k) begin += s->outputs[static_cast<std::size_t>(k)].shape[static_cast<int>(axis)];
  auto at = part_of(ws, s->outputs[static_cast<std::size_t>(v.index)].shape, axis, begin);
  if (!at) return std::nullopt;
  return std::make_pair(whole, *at);
}

// Phase 2: the program of one group. Instructions in member order; a member whose value is used outside the
// group (or returned) becomes an output, and each absorbed concat one more output written in parts; block
// buffers are reused once their last reader has run. With `parts`, outputs of splits are read in place from
// the split's input.
struct Built {
  std::shared_ptr<FusedProgram> prog;
  std::vector<graph::Value> externals;  // the fused node's inputs
  std::vector<graph::Node*> outs;       // the members and concats whose values the fused outputs replace
};

Built build_program(const std::vector<graph::Node*>& members, const std::vector<graph::Node*>& concats,
                    const std::unordered_set<const graph::Node*>& used_outside, bool parts) {
  Built b;
  auto prog = std::make_shared<FusedProgram>();
  b.prog = prog;
  prog->shape = members.front()->outputs[0].shape;
  std::unordered_map<const graph::Node*, int> instr_of;
  auto external_index = [&](const graph::Value& v) {
    graph::Value src = v;
    FusedProgram::Strided at;
    if (parts)
      if (auto sp = split_part(v)) std::tie(src, at) = *sp;
    for (std::size_t i = 0; i < b.externals.size(); ++i)
      if (b.externals[i] == src && prog->input_at[i].offset == at.offset && prog->input_at[i].row == at.row)
        return static_cast<int>(i);
    b.externals.push_back(src);
    prog->input_at.push_back(at);
    return static_cast<int>(b.externals.size() - 1);
  };
  for (graph::Node* m : members) {
    FusedProgram::Instr ins{m->op, m->attrs, {}, m->outputs[0].dtype};
    for (const auto& v : m->inputs) {
      auto it = instr_of.find(v.node);
      ins.args.push_back(it != instr_of.end() ? -(it->second + 1) : external_index(v));
    }
    const int i = static_cast<int>(prog->instrs.size());
    instr_of[m] = i;
    prog->instrs.push_back(std::move(ins));
    if (used_outside.count(m)) {
      prog->stores.push_back({i, static_cast<int>(prog->output_specs.size()), {}});
      prog->output_specs.push_back(m->outputs[0]);
      b.outs.push_back(m);
    }
  }
  for (graph::Node* c : concats) {
    const int o = static_cast<int>(prog->output_specs.size());
    std::int64_t begin = 0;
    const std::int64_t axis = c->attrs.i("axis");
    for (const auto& v : c->inputs) {
      prog->stores.push_back({instr_of.at(v.node), o, *part_of(c->outputs[0].shape, prog->shape, axis, begin)});
      begin += prog->shape[static_cast<int>(axis < 0 ? axis + prog->shape.rank() : axis)];
    }
    prog->output_specs.push_back(c->outputs[0]);
    b.outs.push_back(c);
  }
  // Block buffers: an instruction's slot is free after its last reader (stored results live to the end).
  std::vector<int> last(prog->instrs.size(), -1);
  for (std::size_t i = 0; i < prog->instrs.size(); ++i)
    for (int a : prog->instrs[i].args)
      if (a < 0) last[static_cast<std::size_t>(-a - 1)] = static_cast<int>(i);
  for (const auto& st : prog->stores) last[static_cast<std::size_t>(st.instr)] = static_cast<int>(prog->instrs.size());
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
  for (const auto& v : b.externals) input_specs.push_back(v.node->outputs[static_cast<std::size_t>(v.index)]);
  prog->finalize(input_specs);
  return b;
}

class Fusion : public Pass {
 public:
  explicit Fusion(std::int64_t min_elements) : min_elements_(min_elements) {}
  const char* name() const override { return "fusion"; }

  // Phase 3: each group of two or more becomes one FusedElementwise node where its last member was. A
  // float32 group also takes in the concats made only of its members and reads the outputs of splits in
  // place; splits left without readers go.
  std::string run(graph::Graph& g) override {
    Groups groups = Grouper(g, min_elements_).run();
    std::vector<char> parts(groups.members.size(), 0);
    for (std::size_t gi = 0; gi < groups.members.size(); ++gi)
      parts[gi] = groups.members[gi].size() >= 2 && blockable(groups.members[gi]);
    std::vector<std::vector<graph::Node*>> concats(groups.members.size());
    std::unordered_set<const graph::Node*> absorbed;
    // A concat reads the members it is made of, so (as for any outside reader) it and its readers run after
    // the group's last member, where the fused node goes.
    for (const auto& sp : g.nodes()) {
      graph::Node* c = sp.get();
      if (c->op != &concat_op() || c->inputs.empty() || !c->control_inputs.empty()) continue;
      const int gid = groups.group_of(c->inputs[0].node);
      if (gid < 0 || !parts[static_cast<std::size_t>(gid)]) continue;
      bool ok = part_of(c->outputs[0].shape, groups.members[static_cast<std::size_t>(gid)].front()->outputs[0].shape,
                        c->attrs.i("axis"), 0)
                    .has_value();
      for (const auto& v : c->inputs) ok = ok && groups.group_of(v.node) == gid;
      if (!ok) continue;
      concats[static_cast<std::size_t>(gid)].push_back(c);
      absorbed.insert(c);
    }
    std::unordered_set<const graph::Node*> used_outside;  // values read outside their group, or returned
    for (const auto& sp : g.nodes()) {
      if (absorbed.count(sp.get())) continue;
      for (const auto& v : sp->inputs) {
        int gid = groups.group_of(v.node);
        if (gid >= 0 && groups.group_of(sp.get()) != gid) used_outside.insert(v.node);
      }
    }
    for (const auto& v : g.outputs()) used_outside.insert(v.node);

    int fused_groups = 0, fused_nodes = 0, concat_parts = 0;
    std::unordered_map<const graph::Node*, graph::Node*> replaced_by;  // last member -> fused node
    std::unordered_set<const graph::Node*> removed;
    std::unordered_set<graph::Node*> splits;  // read in place by some group: removed if nothing else reads them
    for (std::size_t gi = 0; gi < groups.members.size(); ++gi) {
      auto& members = groups.members[gi];
      if (members.size() < 2) continue;
      Built b = build_program(members, concats[gi], used_outside, parts[gi]);
      graph::Node* f = g.add(&fused_elementwise_op(), b.externals, {{"program", FnRef(b.prog)}}, b.prog->output_specs);
      f->scope = members.back()->scope;
      for (graph::Node* o : b.outs) f->origin.push_back(o->origin.empty() ? o->name : o->origin[0]);
      for (std::size_t k = 0; k < b.outs.size(); ++k) g.replace_uses({b.outs[k], 0}, {f, static_cast<int>(k)});
      replaced_by[members.back()] = f;
      for (graph::Node* m : members) {
        removed.insert(m);
        for (const auto& v : m->inputs)
          if (v.node->op == &split_op()) splits.insert(v.node);
      }
      for (graph::Node* c : concats[gi]) removed.insert(c);
      ++fused_groups;
      fused_nodes += static_cast<int>(members.size());
      concat_parts += static_cast<int>(concats[gi].size());
    }
    if (!fused_groups) return "fused 0 groups";
    std::unordered_set<const graph::Node*> still_read;
    for (const auto& sp : g.nodes())
      if (!removed.count(sp.get()))
        for (const auto& v : sp->inputs) still_read.insert(v.node);
    for (const auto& v : g.outputs()) still_read.insert(v.node);
    int splits_gone = 0;
    for (graph::Node* s : splits)
      if (!still_read.count(s)) {
        removed.insert(s);
        ++splits_gone;
      }
    g.place_replacements(replaced_by, removed);
    std::string what =
        "fused " + std::to_string(fused_nodes) + " nodes into " + std::to_string(fused_groups) + " groups";
    if (concat_parts || splits_gone)
      what += " (" + std::to_string(concat_parts) + " concats written in parts; " + std::to_string(splits_gone) +
              " splits read in place and removed)";
    return what;
  }

 private:
  std::int64_t min_elements_;
};

}  // namespace

std::unique_ptr<Pass> elementwise_fusion(std::int64_t min_elements) { return std::make_unique<Fusion>(min_elements); }

}  // namespace duet::passes
