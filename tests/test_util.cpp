#include "test_util.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace duet::testing {

std::int64_t numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> s(shape.size());
  std::int64_t st = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    s[d] = st;
    st *= shape[d];
  }
  return s;
}

Arr ref_broadcast(const std::vector<Arr>& in, const std::function<double(const std::vector<double>&)>& f) {
  std::size_t r = 0;
  for (auto& a : in) r = std::max(r, a.shape.size());
  std::vector<std::int64_t> out(r, 1);
  for (auto& a : in)
    for (std::size_t i = 0; i < a.shape.size(); ++i) {
      auto& o = out[r - a.shape.size() + i];
      if (a.shape[i] != 1) o = a.shape[i];
    }
  Arr res{out, std::vector<double>(static_cast<std::size_t>(numel(out)))};
  auto os = strides_of(out);
  std::vector<double> vals(in.size());
  for (std::int64_t i = 0; i < numel(out); ++i) {
    for (std::size_t k = 0; k < in.size(); ++k) {
      const Arr& a = in[k];
      auto as = strides_of(a.shape);
      std::int64_t off = 0;
      for (std::size_t d = 0; d < a.shape.size(); ++d) {
        std::int64_t od = d + r - a.shape.size();
        std::int64_t idx = (i / os[od]) % out[od];
        if (a.shape[d] != 1) off += idx * as[d];
      }
      vals[k] = a.v[static_cast<std::size_t>(off)];
    }
    res.v[static_cast<std::size_t>(i)] = f(vals);
  }
  return res;
}

Arr ref_unary(const Arr& a, const std::function<double(double)>& f) {
  return ref_broadcast({a}, [&](const std::vector<double>& v) { return f(v[0]); });
}

Arr ref_binary(const Arr& a, const Arr& b, const std::function<double(double, double)>& f) {
  return ref_broadcast({a, b}, [&](const std::vector<double>& v) { return f(v[0], v[1]); });
}

Arr ref_reduce(const Arr& a, std::vector<std::int64_t> axes, bool keepdims, double init,
               const std::function<double(double, double)>& combine) {
  const std::size_t r = a.shape.size();
  std::vector<bool> red(r, axes.empty());
  for (auto ax : axes) red[static_cast<std::size_t>(ax < 0 ? ax + static_cast<std::int64_t>(r) : ax)] = true;
  std::vector<std::int64_t> kept_shape, out_shape;
  for (std::size_t d = 0; d < r; ++d) {
    kept_shape.push_back(red[d] ? 1 : a.shape[d]);
    if (!red[d])
      out_shape.push_back(a.shape[d]);
    else if (keepdims)
      out_shape.push_back(1);
  }
  Arr res{out_shape, std::vector<double>(static_cast<std::size_t>(numel(kept_shape)), init)};
  auto as = strides_of(a.shape), ks = strides_of(kept_shape);
  for (std::int64_t i = 0; i < a.size(); ++i) {
    std::int64_t o = 0;
    for (std::size_t d = 0; d < r; ++d)
      if (!red[d]) o += ((i / as[d]) % a.shape[d]) * ks[d];
    res.v[static_cast<std::size_t>(o)] = combine(res.v[static_cast<std::size_t>(o)], a.v[static_cast<std::size_t>(i)]);
  }
  return res;
}

void expect_close(const Arr& got, const Arr& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.shape, want.shape) << what << ": shape differs";
  ASSERT_EQ(got.v.size(), want.v.size()) << what;
  int reported = 0;
  for (std::size_t i = 0; i < got.v.size(); ++i) {
    double g = got.v[i], w = want.v[i];
    bool ok = (std::isnan(g) && std::isnan(w)) || g == w || std::fabs(g - w) <= atol + rtol * std::fabs(w);
    if (!ok && reported++ < 5) ADD_FAILURE() << what << ": element " << i << " is " << g << ", expected " << w;
  }
}

void check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& xs,
                     const std::vector<bool>& differentiable, double tol, const std::string& what) {
  std::vector<Tensor> inputs = xs;
  Tensor probe = fn(inputs);
  ASSERT_TRUE(is_floating(probe.dtype())) << what;
  Tensor w = random::uniform(probe.shape(), 0.5, 1.5, probe.dtype(), 1234);
  auto loss_of = [&](const std::vector<Tensor>& in) { return sum(fn(in) * w).item<double>(); };

  std::vector<Source> sources;
  GradientTape tape;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (differentiable[i]) {
      tape.watch(inputs[i]);
      sources.emplace_back(inputs[i]);
    }
  }
  Tensor loss = sum(fn(inputs) * w);
  auto grads = tape.gradient(loss, sources, {.unconnected = UnconnectedGradients::Zero});

  std::size_t gi = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!differentiable[i]) continue;
    ASSERT_EQ(inputs[i].dtype(), DType::Float64) << what << ": gradient checks run in float64";
    Arr analytic = to_arr(grads[gi++]);
    ASSERT_EQ(analytic.shape, inputs[i].shape().to_vector()) << what << ": gradient shape of input " << i;
    std::vector<double> base = inputs[i].to_vector<double>();
    Arr numeric{analytic.shape, std::vector<double>(base.size())};
    const double eps = 1e-6;
    for (std::size_t k = 0; k < base.size(); ++k) {
      std::vector<Tensor> plus = inputs, minus = inputs;
      auto vp = base, vm = base;
      vp[k] += eps;
      vm[k] -= eps;
      plus[i] = constant(vp, inputs[i].shape(), DType::Float64);
      minus[i] = constant(vm, inputs[i].shape(), DType::Float64);
      numeric.v[k] = (loss_of(plus) - loss_of(minus)) / (2 * eps);
    }
    expect_close(analytic, numeric, tol, tol, what + " d/dinput" + std::to_string(i));
  }
}

Scratch::Scratch() {
  char tmpl[] = "/tmp/duet_test_XXXXXX";
  const char* d = mkdtemp(tmpl);
  if (!d) throw std::runtime_error("mkdtemp failed");
  dir = d;
}
Scratch::~Scratch() { std::system(("rm -rf '" + dir + "'").c_str()); }

std::string Scratch::write(const std::string& name, const std::string& bytes) const {
  std::string p = path(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string Scratch::write_gz(const std::string& name, const std::string& bytes) const {
  std::string p = path(name);
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return p;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

void expect_files_refused(const std::vector<std::pair<std::string, std::string>>& cases,
                          const std::function<void(const std::string&)>& load) {
  for (const auto& [what, path] : cases) {
    try {
      load(path);
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": not a duet::Error: " << e.what();
    }
  }
}

std::string Scratch::read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace duet::testing
