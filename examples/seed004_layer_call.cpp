// Seed 004, "Why isn't Layer.call executed eagerly?", in duet: layers record on symbolic tensors and
// compute on concrete ones.
#include <duet/duet.h>

#include <iostream>

using namespace duet;

class MyModel : public SubclassedModel {
 public:
  MyModel() : SubclassedModel("my_model") {}
  Tensor call(const Tensor& inputs, bool) override {
    Tensor x = dense1(inputs);
    return dense2(x);
  }
  LayerRef dense1 = layers::Dense(32, "relu");
  LayerRef dense2 = layers::Dense(10);
};

int main() {
  std::cout << "== Example 1: a layer on a symbolic Input\n";
  auto dense_layer = layers::Dense(10);
  Tensor input_tensor = Input({5});
  Tensor output_tensor = dense_layer(input_tensor);
  std::cout << "Input Tensor: " << input_tensor << "\n";
  std::cout << "Output Tensor: " << output_tensor << "\n";
  Model model(input_tensor, output_tensor);
  Tensor result = model(random::normal(Shape{1, 5}));
  std::cout << "Result Tensor: " << result << "\n";

  std::cout << "\n== Example 2: a subclassed model\n";
  auto my_model = make_layer<MyModel>();
  std::cout << "Output Tensor from symbolic pass: " << my_model(Input({100})) << "\n";
  std::cout << "Result tensor after eager execution: " << my_model(random::normal(Shape{1, 100})).shape().str() << "\n";

  std::cout << "\n== Example 3: run_functions_eagerly does not change a layer called on concrete data\n";
  config::run_functions_eagerly(true);
  auto layer = layers::Dense(10);
  Tensor data = random::normal(Shape{1, 5});
  std::cout << "Output Tensor (run_functions_eagerly=true): symbolic=" << layer(data).is_symbolic() << "\n";
  config::run_functions_eagerly(false);
  std::cout << "Output Tensor (run_functions_eagerly=false): symbolic=" << layer(data).is_symbolic() << "\n";
  return 0;
}
