#include "autodiff/vjp.h"

#include "duet/ops.h"

namespace duet::internal {

std::vector<Tensor> vjp(const std::function<std::vector<Tensor>()>& fn, const std::vector<Source>& sources,
                        const std::vector<Tensor>& output_grads) {
  auto zeros_for = [](const Source& s) {
    return s.variable.defined() ? zeros(s.variable.shape(), s.variable.dtype()) : zeros_like(s.tensor);
  };
  GradientTape tape({.watch_accessed_variables = false});
  std::vector<Source> watched;
  std::vector<std::size_t> where;  // index into `sources` of each watched source
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const Source& s = sources[i];
    if (s.variable.defined()) {
      tape.watch(s.variable);
    } else if (is_floating(s.tensor.dtype())) {
      tape.watch(s.tensor);
    } else {
      continue;
    }
    watched.push_back(s);
    where.push_back(i);
  }
  std::vector<Tensor> outs = fn();
  Tensor target;
  for (std::size_t k = 0; k < outs.size() && k < output_grads.size(); ++k) {
    if (!is_floating(outs[k].dtype()) || !output_grads[k].defined()) continue;
    Tensor term = sum(outs[k] * output_grads[k]);
    target = target.defined() ? target + term : term;
  }
  std::vector<Tensor> result(sources.size());
  if (target.defined() && !watched.empty()) {
    auto g = tape.gradient(target, watched, {.unconnected = UnconnectedGradients::Zero});
    for (std::size_t j = 0; j < g.size(); ++j) result[where[j]] = g[j];
  }
  for (std::size_t i = 0; i < sources.size(); ++i)
    if (!result[i].defined()) result[i] = zeros_for(sources[i]);
  return result;
}

}  // namespace duet::internal
