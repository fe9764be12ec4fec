// Seed 002, "Why is TensorFlow 2 eager execution disabled within a custom layer?", in duet. Eager
// execution is not disabled in custom layers: on concrete tensors they compute now, traced they record.
#include <duet/duet.h>

#include <chrono>
#include <iostream>

using namespace duet;

// Example 1, corrected: the weight is (input_dim, units), created in build() from the input shape.
class MyCustomLayer : public Layer {
 public:
  explicit MyCustomLayer(std::int64_t units) : Layer("MyCustomLayer"), units_(units) {}
  void build(const std::vector<Shape>& input_shape) override {
    w_ = add_weight("w", Shape{input_shape[0][1], units_}, {.initializer = "random_normal"});
  }
  Tensor call(const Tensor& inputs, bool) override { return matmul(inputs, w_); }

 private:
  std::int64_t units_;
  Variable w_;
};

class MySquareLayer : public Layer {
 public:
  MySquareLayer() : Layer("MySquareLayer") {}
  Tensor call(const Tensor& x, bool) override { return square(x); }
};

// Example 3, corrected: a stateful layer needs no dynamic flag.
class MyStatefulLayer : public Layer {
 public:
  MyStatefulLayer() : Layer("MyStatefulLayer") {
    state_ = add_weight("state", Shape{1}, {.initializer = "zeros", .trainable = false});
  }
  Tensor call(const Tensor& inputs, bool) override { return state_.assign_add(inputs); }

 private:
  Variable state_;
};

int main() {
  std::cout << "== Example 1: a custom layer in a Sequential model\n";
  Sequential model({make_layer<MyCustomLayer>(10), layers::Dense(1)});
  model.compile({.optimizer = "adam", .loss = "mse"});
  Tensor x = random::normal(Shape{8, 4});
  std::cout << "output shape: " << model(x).shape().str() << "\n";
  // The article's (units,) weight is a rank error, named with both shapes:
  try {
    static_cast<void>(matmul(x, ones({10})));
  } catch (const ShapeError& e) {
    std::cout << "a (10,) weight: " << e.what() << "\n";
  }

  std::cout << "\n== Example 2: eager vs graph timing\n";
  auto layer = make_layer<MySquareLayer>();
  Tensor input_tensor = random::normal(Shape{1000, 1000});
  auto traced = function([&](const Tensor& t) { return layer(t); });
  traced(input_tensor);  // trace once
  auto t0 = std::chrono::steady_clock::now();
  layer(input_tensor);
  auto t1 = std::chrono::steady_clock::now();
  traced(input_tensor);
  auto t2 = std::chrono::steady_clock::now();
  std::cout << "Eager execution time: " << std::chrono::duration<double>(t1 - t0).count() << " seconds\n";
  std::cout << "Graph execution time: " << std::chrono::duration<double>(t2 - t1).count() << " seconds\n";
  // Flipping run_functions_eagerly inside a traced call (as the article does) is an error that says why:
  auto flips = function([](const Tensor& t) {
    config::run_functions_eagerly(true);
    return t;
  });
  try {
    flips(input_tensor);
  } catch (const StateError& e) {
    std::cout << "run_functions_eagerly inside a trace: " << e.what() << "\n";
  }

  std::cout << "\n== Example 3: a stateful layer\n";
  auto stateful = make_layer<MyStatefulLayer>();
  Sequential smodel({stateful});
  smodel.compile({.optimizer = "adam", .loss = "mse"});
  for (int i = 1; i <= 3; ++i) std::cout << "eager call " << i << ": " << smodel(constant({1.f})) << "\n";
  auto compiled = function([&](const Tensor& t) { return smodel(t); });
  for (int i = 1; i <= 2; ++i) std::cout << "compiled call " << i << ": " << compiled(constant({10.f})) << "\n";
  return 0;
}
