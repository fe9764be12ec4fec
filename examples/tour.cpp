// A first tour of duet: tensors, broadcasting, reductions, variables and gradients.
// (The Fashion-MNIST training job replaces this as `make demo` once the models land.)
#include <duet/duet.h>

#include <iostream>

using namespace duet;

int main() {
  Tensor x = constant({{1.f, 2.f}, {3.f, 4.f}});
  Tensor y = square(x) + sin(x);
  std::cout << "x = " << x << "\n";
  std::cout << "square(x) + sin(x) = " << y << "\n";
  std::cout << "sum over axis 0 = " << sum(y, {0}) << "\n";

  // Fit w in y = w * x by gradient descent, eagerly.
  Variable w(scalar(0.5f), {.name = "w"});
  Tensor xs = linspace(-1, 1, 32);
  Tensor ys = xs * 3.f;
  for (int step = 0; step < 50; ++step) {
    GradientTape tape;
    Tensor loss = mean(square(w * xs - ys));
    Tensor g = tape.gradient(loss, w);
    w.assign_sub(g * 0.5f);
  }
  std::cout << "learned " << w << " (target 3)\n";

  // Second-order gradient of x^3 at x = 3: d/dx = 27, d2/dx2 = 6x = 18.
  Tensor t = scalar(3.0);
  GradientTape outer;
  outer.watch(t);
  Tensor dy;
  {
    GradientTape inner;
    inner.watch(t);
    dy = inner.gradient(t * t * t, t);
  }
  std::cout << "d/dx x^3 at 3 = " << dy << ", d2/dx2 = " << outer.gradient(dy, t) << "\n";
  return 0;
}
