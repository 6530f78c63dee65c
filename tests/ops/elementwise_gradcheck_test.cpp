// The elementwise ops' backward held equal to central differences of the forward on tiny
// shapes: broadcast binary ops, scalar mul, sum and mean over dims, cat and flatten.
#include <gtest/gtest.h>

#include <vector>

#include "fovea/functional/elementwise.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;
using testing::check_gradients;
using testing::DifferentiableFn;

struct Probe {
  std::vector<Tensor> inputs;
  Tensor r;  // random, of the output's shape
};

Probe probe(const DifferentiableFn& f, const std::vector<Shape>& shapes) {
  Generator gen(99);
  Probe p;
  for (const Shape& s : shapes) p.inputs.push_back(Tensor::randn(s, &gen));
  p.r = Tensor::randn(f(p.inputs).shape(), &gen);
  return p;
}

// op is '+', '-' or '*'.
void check_binary(char op, const Shape& a, const Shape& b) {
  const DifferentiableFn f = [&](const std::vector<Tensor>& in) {
    return op == '+'   ? F::add(in[0], in[1])
           : op == '-' ? F::sub(in[0], in[1])
                       : F::mul(in[0], in[1]);
  };
  const Probe p = probe(f, {a, b});
  const F::BinaryGradients g = op == '+'   ? F::add_backward(p.r, a, b)
                               : op == '-' ? F::sub_backward(p.r, a, b)
                                           : F::mul_backward(p.r, p.inputs[0], p.inputs[1]);
  EXPECT_EQ(check_gradients(f, p.inputs, {g.a, g.b}, p.r, {.names = {"a", "b"}}), "")
      << shape_str(a) << ' ' << op << ' ' << shape_str(b);
}

TEST(ElementwiseGradcheck, AddSubMulBroadcast) {
  for (char op : {'+', '-', '*'}) {
    check_binary(op, {2, 3, 2, 2}, {2, 3, 2, 2});
    check_binary(op, {2, 3, 2, 2}, {1, 3, 1, 1});
    check_binary(op, {1}, {2, 3});
    check_binary(op, {3, 1}, {1, 4});
  }
}

TEST(ElementwiseGradcheck, MulScalar) {
  const DifferentiableFn f = [](const std::vector<Tensor>& in) { return F::mul(in[0], -1.5f); };
  const Probe p = probe(f, {{2, 3}});
  EXPECT_EQ(check_gradients(f, p.inputs, {F::mul_backward(p.r, -1.5f)}, p.r), "");
}

TEST(ElementwiseGradcheck, SumAndMean) {
  const Shape shape = {2, 3, 2};
  for (bool average : {false, true})
    for (const std::vector<int64_t>& dim : {std::vector<int64_t>{}, {1}, {0, 2}, {-1}})
      for (bool keepdim : {false, true}) {
        const DifferentiableFn f = [&](const std::vector<Tensor>& in) {
          return average ? F::mean(in[0], dim, keepdim) : F::sum(in[0], dim, keepdim);
        };
        const Probe p = probe(f, {shape});
        const Tensor g = average ? F::mean_backward(p.r, shape, dim, keepdim)
                                 : F::sum_backward(p.r, shape, dim, keepdim);
        EXPECT_EQ(check_gradients(f, p.inputs, {g}, p.r), "")
            << (average ? "mean" : "sum") << " over " << dim.size() << " axes, keepdim " << keepdim;
      }
}

TEST(ElementwiseGradcheck, Cat) {
  for (int64_t dim : {0, 1, -1}) {
    const DifferentiableFn f = [&](const std::vector<Tensor>& in) { return F::cat(in, dim); };
    std::vector<Shape> shapes = {{2, 1, 3}, {2, 1, 3}, {2, 1, 3}};
    for (size_t i = 0; i < shapes.size(); ++i) shapes[i][dim < 0 ? 2 : dim] += i;
    const Probe p = probe(f, shapes);
    std::vector<int64_t> sizes;
    for (const Tensor& t : p.inputs) sizes.push_back(t.size(dim));
    EXPECT_EQ(check_gradients(f, p.inputs, F::cat_backward(p.r, sizes, dim), p.r), "")
        << "dim " << dim;
  }
}

TEST(ElementwiseGradcheck, Flatten) {
  const DifferentiableFn f = [](const std::vector<Tensor>& in) { return F::flatten(in[0]); };
  const Probe p = probe(f, {{2, 3, 2}});
  EXPECT_EQ(check_gradients(f, p.inputs, {F::flatten_backward(p.r, {2, 3, 2})}, p.r), "");
}

}  // namespace
}  // namespace fovea
