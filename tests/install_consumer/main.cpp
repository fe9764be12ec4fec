#include <duet/duet.h>

#include <iostream>

int main() {
  using namespace duet;
  Tensor x = constant({1.f, 2.f, 3.f});
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(x * x);
  Tensor g = tape.gradient(y, x);
  std::cout << g << "\n";
  return g.to_vector<float>() == std::vector<float>{2.f, 4.f, 6.f} ? 0 : 1;
}
