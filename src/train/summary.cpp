// Keras-style summary(): a table of layers, output shapes and parameter counts.
#include <algorithm>
#include <iomanip>
#include <sstream>

#include "core/tensor_impl.h"
#include "duet/ops.h"
#include "train/model_impl.h"

namespace duet {
namespace {

std::string shape_text(const std::vector<TensorSpec>& specs) {
  if (specs.size() == 1) return specs[0].shape.str();
  std::string s = "[";
  for (std::size_t i = 0; i < specs.size(); ++i) s += (i ? ", " : "") + specs[i].shape.str();
  return s + "]";
}

std::string with_commas(std::int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

// Splits a cell into lines of at most `width` characters, at spaces where it can (as Keras wraps), so a
// mark like "[host step]" stays whole.
std::vector<std::string> wrap(const std::string& cell, std::size_t width) {
  std::vector<std::string> lines;
  std::string rest = cell;
  while (rest.size() > width) {
    std::size_t cut = rest.rfind(' ', width);
    if (cut == std::string::npos || cut == 0) cut = width;
    lines.push_back(rest.substr(0, cut));
    rest = rest.substr(cut);
    if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
  }
  lines.push_back(rest);
  return lines;
}

}  // namespace

std::string Model::summary_string() {
  struct Row {
    std::string layer, shape;
    std::int64_t params;
  };
  std::vector<Row> rows;
  auto label = [](const Layer& l) {
    return l.name() + " (" + l.type() + ")" + (l.runs_as_host_step() || l.dynamic() ? " [host step]" : "");
  };
  const Structure& st = *structure_;
  if (st.functional) {
    for (const Tensor& in : st.inputs)
      rows.push_back({in.impl()->node->name + " (InputLayer)", "[" + in.shape().str() + "]", 0});
    for (const graph::Node* n : st.program.nodes)
      if (Layer* l = functional::layer_of(n)) rows.push_back({label(*l), shape_text(n->outputs), l->count_params()});
  } else if (!st.seq.empty()) {
    // Shapes come from running the layers on a symbolic Input of the known input spec.
    std::optional<Tensor> x;
    if (const auto spec = st.input_spec()) {
      std::vector<std::int64_t> per_example(spec->shape.begin() + 1, spec->shape.end());
      x = Input(per_example, spec->dtype, "summary_input");  // named: no input_N is used up
    }
    for (auto& l : st.seq) {
      std::string shape = "?";
      if (x) {
        *x = l(*x);
        shape = x->shape().str();
      }
      rows.push_back({label(*l), l->built() ? shape : "(unbuilt)", l->count_params()});
    }
  } else {
    for (const auto& c : sublayers()) rows.push_back({label(*c), "multiple", c->count_params()});
  }
  std::int64_t total = count_params(), trainable = 0;
  for (const auto& w : trainable_weights()) trainable += w.shape().num_elements();
  std::ostringstream os;
  const std::string rule(65, '_'), dbl(65, '=');
  os << "Model: \"" << name() << "\"\n" << rule << "\n";
  os << " " << std::left << std::setw(28) << "Layer (type)" << std::setw(26) << "Output Shape"
     << "Param #\n"
     << dbl << "\n";
  auto print_row = [&os](const std::vector<std::string>& cells) {
    const std::size_t widths[] = {27, 25, 20};
    std::vector<std::vector<std::string>> parts;
    std::size_t lines = 1;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      parts.push_back(wrap(cells[c], widths[c]));
      lines = std::max(lines, parts.back().size());
    }
    for (std::size_t l = 0; l < lines; ++l) {
      std::string line = " ";
      for (std::size_t c = 0; c < cells.size(); ++c) {
        std::string part = l < parts[c].size() ? parts[c][l] : "";
        if (c + 1 < cells.size()) part.resize(widths[c] + 1, ' ');
        line += part;
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      os << line << "\n";
    }
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    print_row({rows[i].layer, rows[i].shape, with_commas(rows[i].params)});
    os << (i + 1 < rows.size() ? "\n" : "");
  }
  os << dbl << "\n";
  os << "Total params: " << with_commas(total) << "\n";
  os << "Trainable params: " << with_commas(trainable) << "\n";
  os << "Non-trainable params: " << with_commas(total - trainable) << "\n" << rule << "\n";
  return os.str();
}

void Model::summary(std::ostream& os) { os << summary_string(); }

}  // namespace duet
