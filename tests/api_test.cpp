// The op table other languages read (src/ops/api.h): its entries, their conversions of dynamic values, and
// errors that name the op, the parameter and the value.
#include "ops/api.h"
#include "test_util.h"

namespace duet {
namespace {

std::vector<Tensor> run(const std::string& name, std::vector<api::Value> args) {
  const api::Function* f = api::find(name);
  if (!f) throw std::runtime_error("no api entry " + name);
  // Defaults for the parameters not given, as a caller fills them in.
  for (std::size_t i = args.size(); i < f->params.size(); ++i) args.push_back(f->params[i].default_value.value());
  return f->call(*f, args);
}

TEST(Api, EntriesAreSortedUniqueAndDescribed) {
  const auto& fns = api::functions();
  ASSERT_GE(fns.size(), 80u);
  for (std::size_t i = 1; i < fns.size(); ++i) EXPECT_LT(fns[i - 1]->name, fns[i]->name);
  const api::Function* sum = api::find("reduce_sum");
  ASSERT_NE(sum, nullptr);
  ASSERT_EQ(sum->params.size(), 3u);
  EXPECT_EQ(sum->params[0].name, "input_tensor");
  EXPECT_EQ(sum->params[1].kind, api::Kind::Ints);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*sum->params[1].default_value));
  EXPECT_EQ(std::get<bool>(*sum->params[2].default_value), false);
  EXPECT_EQ(sum->modules, (std::vector<std::string>{"math", ""}));
  EXPECT_EQ(std::get<DType>(*api::find("normal")->params[3].default_value), DType::Float32);
}

TEST(Api, ConvertsValuesAsTensorFlowCallsReadThem) {
  Tensor x = constant({{1.f, 2.f}, {3.f, 4.f}});
  EXPECT_EQ(run("reduce_sum", {x})[0].item<float>(), 10.f);  // axis None
  EXPECT_EQ(run("reduce_sum", {x, std::int64_t{1}})[0].to_vector<float>(), (std::vector<float>{3.f, 7.f}));  // one int
  EXPECT_EQ(run("reduce_sum", {x, std::vector<std::int64_t>{0, 1}, true})[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(run("argmax", {x})[0].to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 1}));             // axis 0
  EXPECT_EQ(run("split", {x, std::int64_t{2}})[0].shape(), (Shape{1, 2}));                                   // a count
  EXPECT_EQ(run("split", {x, std::vector<std::int64_t>{1, 1}, std::int64_t{1}})[1].shape(), (Shape{2, 1}));  // sizes
  EXPECT_EQ(run("range", {std::int64_t{3}})[0].dtype(), DType::Int32);
  EXPECT_EQ(run("range", {1.0, 2.0, 0.5})[0].to_vector<float>(), (std::vector<float>{1.f, 1.5f}));
  EXPECT_EQ(run("conv2d", {ones({1, 4, 4, 1}), ones({3, 3, 1, 2}), std::int64_t{2}, std::string("SAME")})[0].shape(),
            (Shape{1, 2, 2, 2}));
  EXPECT_EQ(run("cast", {x, std::string("int32")})[0].dtype(), DType::Int32);
}

TEST(Api, WrongValuesNameTheOpAndParameter) {
  Tensor x = ones({2});
  try {
    run("reduce_sum", {x, std::monostate{}, std::string("yes")});
    ADD_FAILURE() << "no error";
  } catch (const DTypeError& e) {
    EXPECT_NE(
        std::string(e.what()).find("[reduce_sum] argument 'keepdims' must be True or False, got the string 'yes'"),
        std::string::npos)
        << e.what();
  }
  EXPECT_THROW(run("zeros", {std::vector<std::int64_t>{-1}}), ValueError);
  EXPECT_THROW(run("cast", {x, std::string("float16")}), ValueError);
  EXPECT_THROW(run("conv2d", {ones({1, 4, 4, 1}), ones({3, 3, 1, 2}), std::int64_t{1}, std::string("FULL")}),
               ValueError);
  const api::Function* f = api::find("add");
  EXPECT_THROW(f->call(*f, std::vector<api::Value>{x}), ValueError);  // too few values
}

TEST(Api, ParameterListsParse) {
  auto p = api::detail::parse_params("x, axis=None, keepdims=False, shape=[1, -1], rate=0.5, name='a, b', d=float64");
  ASSERT_EQ(p.size(), 7u);
  EXPECT_FALSE(p[0].second.has_value());
  EXPECT_EQ(std::get<std::vector<std::int64_t>>(*p[3].second), (std::vector<std::int64_t>{1, -1}));
  EXPECT_EQ(std::get<double>(*p[4].second), 0.5);
  EXPECT_EQ(std::get<DType>(*p[6].second), DType::Float64);
  EXPECT_THROW(api::detail::parse_params("x=nonsense"), std::logic_error);
}

}  // namespace
}  // namespace duet
