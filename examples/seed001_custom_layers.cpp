// Seed 001, "How do I compile lambda functions when migrating to tf.keras?", in duet.
#include <duet/duet.h>

#include <iostream>

using namespace duet;

class ElementWiseLambda : public Layer {
 public:
  explicit ElementWiseLambda(std::function<Tensor(const Tensor&)> f)
      : Layer("ElementWiseLambda"), func_(std::move(f)) {}
  Tensor call(const Tensor& inputs, bool) override { return func_(inputs); }

 private:
  std::function<Tensor(const Tensor&)> func_;
};

class WeightedLambda : public Layer {
 public:
  explicit WeightedLambda(std::function<Tensor(const Tensor&, const Tensor&)> f)
      : Layer("WeightedLambda"), func_(std::move(f)) {
    weight_ = add_weight("weight", Shape{1}, {.initializer = "ones", .trainable = true});
  }
  Tensor call(const Tensor& inputs, bool) override { return func_(inputs, weight_); }

 private:
  std::function<Tensor(const Tensor&, const Tensor&)> func_;
  Variable weight_;
};

class ComplexLambda : public Layer {
 public:
  explicit ComplexLambda(std::function<Tensor(const Tensor&, const Tensor&)> f)
      : Layer("ComplexLambda"), func_(std::move(f)) {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool) override { return {func_(inputs[0], inputs[1])}; }

 private:
  std::function<Tensor(const Tensor&, const Tensor&)> func_;
};

int main() {
  std::cout << "== Example 1: a custom layer wrapping a function\n";
  Sequential model1(Input({10}),
                    {make_layer<ElementWiseLambda>([](const Tensor& x) { return sqrt(x); }), layers::Dense(5)});
  model1.compile({.optimizer = "adam", .loss = "mse"});
  model1.summary();

  std::cout << "\n== Example 2: a Lambda with a trainable weight\n";
  auto weighted = make_layer<WeightedLambda>([](const Tensor& x, const Tensor& w) { return x * w; });
  Sequential model2(Input({10}), {weighted, layers::Dense(5)});
  model2.compile({.optimizer = "adam", .loss = "mse"});
  model2.summary();
  Tensor x = random::normal(Shape{256, 10}, 0, 1, DType::Float32, 1);
  auto h = model2.fit(x, random::normal(Shape{256, 5}, 0, 1, DType::Float32, 2),
                      {.epochs = 3, .batch_size = 32, .verbose = 0});
  std::cout << "loss after 3 epochs: " << h.history["loss"].back()
            << " (trainable weights: " << model2.trainable_weights().size() << ")\n";

  std::cout << "\n== Example 3: several inputs\n";
  auto complex_layer = make_layer<ComplexLambda>([](const Tensor& a, const Tensor& b) {
    return concat({sin(a), cos(b)}, -1);
  });
  Tensor input1 = Input({10}), input2 = Input({5});
  Tensor output = complex_layer({input1, input2})[0];
  Model model3({input1, input2}, {output});
  model3.compile({.optimizer = "adam", .loss = "mse"});
  model3.summary();
  std::cout << "output: " << output << "\n";
  return 0;
}
