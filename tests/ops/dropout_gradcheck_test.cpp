// Dropout's backward held equal to central differences of the forward with the mask fixed
// by reseeding the generator on every call.
#include <gtest/gtest.h>

#include <vector>

#include "fovea/functional/dropout.h"
#include "fovea/random.h"
#include "gradcheck.h"

namespace fovea {
namespace {

namespace F = fovea::functional;

TEST(DropoutGradcheck, ThroughAFixedMask) {
  constexpr uint64_t kSeed = 77;
  const F::DropoutOptions o{.p = 0.4};
  const auto f = [&](const std::vector<Tensor>& in) {
    Generator gen(kSeed);
    return F::dropout(in[0], o, &gen).output;
  };
  Generator data(5);
  const Tensor x = Tensor::randn({3, 4, 5}, &data), r = Tensor::randn({3, 4, 5}, &data);
  Generator gen(kSeed);
  const Tensor dx = F::dropout_backward(r, F::dropout(x, o, &gen).mask);
  EXPECT_EQ(testing::check_gradients(f, {x}, {dx}, r), "");
}

}  // namespace
}  // namespace fovea
