#pragma once
// Shared test helpers: naive reference arrays, random inputs, a float64 central-difference checker.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "duet/duet.h"
#include "duet/gradient_ops.h"

namespace duet::testing {

// A plain row-major array of doubles: what reference implementations compute on.
struct Arr {
  std::vector<std::int64_t> shape;
  std::vector<double> v;
  std::int64_t size() const { return static_cast<std::int64_t>(v.size()); }
};

inline Arr to_arr(const Tensor& t) { return {t.shape().to_vector(), t.to_vector<double>()}; }

inline Tensor to_tensor(const Arr& a, DType d) { return constant(a.v, Shape(a.shape), d); }

// Naive NumPy broadcasting of several arrays through f (element by element, index arithmetic only).
Arr ref_broadcast(const std::vector<Arr>& in, const std::function<double(const std::vector<double>&)>& f);
Arr ref_unary(const Arr& a, const std::function<double(double)>& f);
Arr ref_binary(const Arr& a, const Arr& b, const std::function<double(double, double)>& f);
// Naive reduction over axes (all when empty).
Arr ref_reduce(const Arr& a, std::vector<std::int64_t> axes, bool keepdims, double init,
               const std::function<double(double, double)>& combine);

std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& shape);
std::int64_t numel(const std::vector<std::int64_t>& shape);

// A scratch directory, removed with its files at scope exit.
struct Scratch {
  std::string dir;
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::string path(const std::string& name) const { return dir + "/" + name; }
  std::string write(const std::string& name, const std::string& bytes) const;
  std::string write_gz(const std::string& name, const std::string& bytes) const;
  static std::string read(const std::string& path);
};

// `text` with its first `from` replaced by `to` (a test failure, and `text` unchanged, when `from` is absent).
std::string replace_once(std::string text, const std::string& from, const std::string& to);
// Hostile files: load(path) must throw a duet::Error naming the path for each (what, path) case.
void expect_files_refused(const std::vector<std::pair<std::string, std::string>>& cases,
                          const std::function<void(const std::string&)>& load);

// Expects every element of got within atol + rtol*|want| of want, with a readable message.
void expect_close(const Arr& got, const Arr& want, double rtol, double atol, const std::string& what);

// Compares tape gradients of sum(fn(xs) * w) (w random) with float64 central differences.
// Inputs in `differentiable` must be float64.
void check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& xs,
                     const std::vector<bool>& differentiable, double tol, const std::string& what);

// f() throws E (a duet::Error) whose message holds every fragment.
template <class E, class F>
void expect_error(F f, std::vector<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "expected an exception containing " << ::testing::PrintToString(fragments);
  } catch (const E& e) {
    static_assert(std::is_base_of_v<Error, E>);
    for (auto& s : fragments) EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << "message: " << e.what();
  }
}

}  // namespace duet::testing
