// Seed 003, "Why does tf.py_function fail to enable eager execution temporarily within a graph?", in duet.
// It does not fail: host_function hands its callable concrete tensors, so value reads and `x + 1` work,
// eagerly and inside a traced function (duet has no sessions: a traced function is the graph).
#include <duet/duet.h>

#include <iostream>

using namespace duet;

int main() {
  Tensor x = scalar(5);  // int32, so the declared output type is int32 (the article's int64 would be rejected)
  auto plus_one = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] + 1}; };
  auto add_one = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{add(in[0], scalar(1))}; };
  auto graph = [](HostFn fn, const Tensor& v, TensorSpec spec) {
    auto f = function([fn, spec](const Tensor& t) { return host_function(fn, {t}, {spec})[0]; });
    return f(v);
  };

  std::cout << "== Example 1: x + 1 inside the host function\n";
  std::cout << "eager: " << host_function(plus_one, {x}, {{DType::Int32, Shape{}}})[0] << "\n";
  std::cout << "graph: " << graph(plus_one, x, {DType::Int32, Shape{}}) << "\n";

  std::cout << "\n== Example 2: add(x, 1)\n";
  std::cout << "graph: " << graph(add_one, x, {DType::Int32, Shape{}}) << "\n";
  try {
    host_function(plus_one, {x}, {{DType::Int64, Shape{}}});
  } catch (const DTypeError& e) {
    std::cout << "declaring int64 for an int32 result: " << e.what() << "\n";
  }

  std::cout << "\n== Example 3: NumPy-style processing of the values\n";
  auto np_square = [](const std::vector<Tensor>& in) {
    auto v = in[0].to_vector<std::int64_t>();  // concrete values (like .numpy())
    for (auto& e : v) e = e * e;
    return std::vector<Tensor>{constant(v, in[0].shape())};
  };
  Tensor arr = constant(std::vector<std::int64_t>{1, 2, 3}, Shape{3});
  std::cout << "graph: " << graph(np_square, arr, {DType::Int64, Shape{3}}) << "\n";
  return 0;
}
