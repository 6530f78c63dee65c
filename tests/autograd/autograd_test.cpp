#include "fovea/autograd.h"

#include <gtest/gtest.h>

#include "fovea/error.h"
#include "fovea/functional/conv.h"
#include "fovea/functional/elementwise.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

TEST(Autograd, ConvGradientsMatchExplicitBackward) {
  Tensor x = Tensor::randn({2, 3, 6, 5}).requires_grad_();
  Tensor w = Tensor::randn({4, 3, 3, 3}).requires_grad_();
  Tensor b = Tensor::randn({4}).requires_grad_();
  const F::Conv2dOptions o{.stride = 2, .padding = 1};
  Tensor y = F::conv2d(x, w, b, o);
  ASSERT_TRUE(y.requires_grad());
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_EQ(y.grad_fn()->name(), "conv2d");
  const Tensor gy = Tensor::randn(y.shape());
  y.backward(gy);
  const F::ConvGradients g = F::conv2d_backward(gy, x.detach(), w.detach(), true, o);
  EXPECT_TRUE(allclose(x.grad(), g.input, 1e-5f, 1e-6f));
  EXPECT_TRUE(allclose(w.grad(), g.weight, 1e-5f, 1e-6f));
  EXPECT_TRUE(allclose(b.grad(), g.bias, 1e-5f, 1e-6f));
}

TEST(Autograd, TensorUsedTwiceSumsItsGradients) {
  // conv2d(x, x) with a 3x3 input and 3x3 kernel is sum(x^2): d/dx = 2x, one half through the
  // input edge and one through the weight edge.
  Tensor x = Tensor::randn({1, 1, 3, 3}).requires_grad_();
  Tensor y = F::conv2d(x, x);
  y.backward();
  for (int64_t i = 0; i < 9; ++i) EXPECT_NEAR(x.grad().data()[i], 2 * x.data()[i], 1e-5f);
}

TEST(Autograd, ReshapeAndClonePassGradientsAndLeavesAccumulate) {
  Tensor x = Tensor::randn({2, 3}).requires_grad_();
  Tensor y = x.reshape({6}).clone().reshape({3, 2});
  y.backward(Tensor::full({3, 2}, 2.0f));
  EXPECT_TRUE(allclose(x.grad(), Tensor::full({2, 3}, 2.0f)));
  x.reshape({6}).backward(Tensor::ones({6}));  // a second graph accumulates into .grad
  EXPECT_TRUE(allclose(x.grad(), Tensor::full({2, 3}, 3.0f)));
}

// Backward takes a fresh gradient over instead of copying it, but never one another tensor
// still holds: an op handing one gradient tensor to two inputs, or passing the seed through
// (clone), leaves each leaf a gradient of its own.
TEST(Autograd, GradientsNeverShareStorageWithEachOtherOrTheSeed) {
  Tensor a = Tensor::randn({2, 3}).requires_grad_(), b = Tensor::randn({2, 3}).requires_grad_();
  Tensor y = F::add(a, b).detach();
  autograd::record("twin", {a, b}, y, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g, g};
  });
  const Tensor seed = Tensor::full({2, 3}, 2.0f);
  y.backward(seed);
  EXPECT_FALSE(a.grad().is_same(b.grad()));
  EXPECT_FALSE(a.grad().is_same(seed));
  a.grad().fill_(0.0f);  // an optimizer's zero_grad of one leaves the other and the seed
  EXPECT_TRUE(allclose(b.grad(), Tensor::full({2, 3}, 2.0f)));
  EXPECT_TRUE(allclose(seed, Tensor::full({2, 3}, 2.0f)));
  Tensor c = Tensor::randn({4}).requires_grad_();
  const Tensor ones = Tensor::ones({4});
  c.clone().backward(ones);
  c.grad().fill_(5.0f);
  EXPECT_TRUE(allclose(ones, Tensor::ones({4}))) << "the seed passed through clone was shared";
  // A fresh gradient (mul's) becomes the leaf's, and later passes add into it.
  Tensor d = Tensor::randn({4}).requires_grad_();
  F::mul(d, 3.0f).backward(ones);
  F::mul(d, 3.0f).backward(ones);
  EXPECT_TRUE(allclose(d.grad(), Tensor::full({4}, 6.0f)));
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = Tensor::randn({1, 1, 3, 3}).requires_grad_();
  Tensor y = F::conv2d(x, x);
  y.backward(Tensor::ones(y.shape()), /*retain_graph=*/true);
  y.backward();  // retained: allowed, and the two passes accumulate 2x each
  for (int64_t i = 0; i < 9; ++i) EXPECT_NEAR(x.grad().data()[i], 4 * x.data()[i], 1e-5f);
  try {
    y.backward();
    FAIL() << "second backward through a freed graph succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = Tensor::randn({1, 1, 4, 4}).requires_grad_();
  {
    autograd::NoGradGuard guard;
    Tensor y = F::conv2d(x, Tensor::randn({1, 1, 3, 3}));
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_THROW(y.backward(Tensor::ones(y.shape())), ValueError);
  }
  EXPECT_TRUE(autograd::grad_enabled());
}

TEST(Autograd, GradientShapeErrors) {
  Tensor x = Tensor::randn({1, 1, 4, 4}).requires_grad_();
  Tensor y = F::conv2d(x, Tensor::randn({2, 1, 3, 3}));
  EXPECT_THROW(y.backward(), ShapeError);  // not one element: grad must be given
  EXPECT_THROW(y.backward(Tensor::ones({1, 2, 3, 3})), ShapeError);
  // A node whose closure returns the wrong shape is caught at the node.
  Tensor z = Tensor::empty({3});
  autograd::record("bad_op", {x}, z, [](const Tensor&, const std::vector<bool>&) {
    return std::vector<Tensor>{Tensor::ones({5})};
  });
  try {
    z.backward(Tensor::ones({3}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("bad_op"), std::string::npos) << e.what();
  }
}

TEST(Autograd, OnlyNeededGradientsAreComputed) {
  Tensor x = Tensor::randn({1, 2, 5, 5});  // data: no grad
  Tensor w = Tensor::randn({3, 2, 3, 3}).requires_grad_();
  Tensor y = F::conv2d(x, w);
  y.backward(Tensor::ones(y.shape()));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());
}

TEST(Autograd, OpObserverSeesOpsWithoutRecording) {
  std::vector<std::string> ops;
  autograd::NoGradGuard no_grad;
  autograd::OpObserverGuard guard(
      [&](const std::string& op, const std::vector<Tensor>& inputs, const Tensor& out) {
        ops.push_back(op);
        EXPECT_FALSE(inputs.empty());
        EXPECT_TRUE(out.defined());
      });
  Tensor y = F::conv2d(Tensor::randn({1, 1, 4, 4}), Tensor::randn({1, 1, 3, 3}));
  y.reshape({4});
  EXPECT_EQ(ops, (std::vector<std::string>{"conv2d", "reshape"}));
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(Autograd, DetachAndRequiresGradOnNonLeaf) {
  Tensor x = Tensor::randn({2, 2}).requires_grad_();
  Tensor y = x.reshape({4});
  EXPECT_THROW(y.requires_grad_(), ValueError);
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_same(x));
}

}  // namespace
}  // namespace fovea
