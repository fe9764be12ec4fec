// Seed 000, "How can eager execution be implemented within a TensorFlow lambda layer?", in duet.
#include <duet/duet.h>

#include <iostream>

using namespace duet;

int main() {
  std::cout << "== Example 1: an element-wise Lambda\n";
  auto lambda_layer = layers::Lambda([](const Tensor& x) { return square(x) + sin(x); });
  Tensor input_tensor = constant({{1.f, 2.f}, {3.f, 4.f}});
  std::cout << lambda_layer(input_tensor) << "\n";

  std::cout << "\n== Example 2: conditional logic\n";
  // The article passes a two-element predicate to cond; a predicate must have one element, and duet says so:
  auto cond_layer = layers::Lambda([](const Tensor& x) {
    return cond(
        x > 2.f, [&] { return log(x); }, [&] { return exp(x); });
  });
  Tensor v = constant({1.f, 3.f});
  try {
    cond_layer(v);
  } catch (const Error& e) {
    std::cout << "cond with a vector predicate: " << e.what() << "\n";
  }
  // Element-wise choice is where(); cond is for one decision (here: on the largest element).
  auto where_layer = layers::Lambda([](const Tensor& x) { return where(x > 2.f, log(x), exp(x)); });
  std::cout << "where: " << where_layer(v) << "\n";
  auto scalar_cond = layers::Lambda([](const Tensor& x) {
    return cond(
        max(x) > 2.f, [&] { return log(x); }, [&] { return exp(x); });
  });
  auto compiled = function([&](const Tensor& x) { return scalar_cond(x); });
  std::cout << "cond, eager:    " << scalar_cond(v) << "\n";
  std::cout << "cond, compiled: " << compiled(v) << "\n";

  std::cout << "\n== Example 3: a Lambda that reads values (the NumPy example)\n";
  auto custom_eager_op = layers::Lambda(
      [](const Tensor& x) {
        auto values = x.to_vector<float>();  // like .numpy(): needs a concrete tensor
        for (auto& e : values) e = e > 1 ? e * 2 : e / 2;
        return constant(values, x.shape());
      },
      {.name = "custom_eager_op"});
  std::cout << "eager: " << custom_eager_op(v) << "\n";
  // Compiled, the value read is detected while tracing; that layer runs as a host step (one warning).
  auto model_fn = function([&](const Tensor& x) { return custom_eager_op(x) * 10.f; });
  std::cout << "compiled: " << model_fn(v) << "\n";
  std::cout << "runs as host step: " << (custom_eager_op->runs_as_host_step() ? "yes" : "no") << "\n";
  return 0;
}
