#include "fovea/nn/spec.h"

#include <gtest/gtest.h>

#include "fovea/error.h"

namespace fovea::nn {
namespace {

std::string spec_error(const std::string& spec, const Shape& input = {1, 28, 28}) {
  try {
    build_from_spec(spec, input);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

TEST(Spec, CourseNotesModelShapesAndParameters) {
  // 28x28x1 -> conv 8@3x3 -> maxpool 2 -> conv 16@3x3 -> maxpool 2 -> flatten -> fc 64 -> fc 10
  const SpecModel m = build_from_spec(
      "conv(8,3) maxpool(2) conv(16,3) maxpool(2) flatten linear(64) linear(10)", {1, 28, 28});
  EXPECT_EQ(m.output_shape, (Shape{10}));
  EXPECT_EQ(m.model->num_parameters(), 27562);
  const Tensor y = m.model->forward(Tensor::zeros({2, 1, 28, 28}));
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
  std::vector<std::string> names;
  for (auto& [name, t] : m.model->state_dict()) names.push_back(name);
  EXPECT_EQ(names.front(), "0.weight");
  EXPECT_EQ(names.back(), "6.bias");
}

TEST(Spec, DefaultNetworkAndZooNames) {
  const SpecModel m = build_from_spec("fmnist-cnn", {1, 28, 28});
  EXPECT_EQ(m.spec, *zoo_spec("fmnist-cnn"));
  // 320 + 64 (bn) + 18,496 + 128 (bn) + 401,536 + 1,290
  EXPECT_EQ(m.model->num_parameters(), 421834);
  bool has_running_mean = false;
  for (auto& [name, t] : m.model->state_dict()) has_running_mean |= name == "1.running_mean";
  EXPECT_TRUE(has_running_mean);
  EXPECT_EQ(build_from_spec("lenet5", {1, 28, 28}).model->num_parameters(), 61706);
  EXPECT_FALSE(zoo_spec("nonexistent").has_value());
}

TEST(Spec, EveryLayerKindBuilds) {
  const SpecModel m = build_from_spec(
      "conv(8,3,stride=1,pad=same,dilation=1,groups=1,bias=false) bn relu6 dwconv(3,mult=2) "
      "leakyrelu(0.1) maxpool(2,stride=2,pad=0,ceil=true) avgpool(3,stride=1,pad=1) "
      "upsample(2,mode=bilinear) convT(4,2,stride=2) elu sigmoid tanh gelu silu hardswish "
      "lppool(2,2) adaptiveavg(3,3) gap flatten linear(5) dropout(0.2) softmax",
      {3, 16, 16});
  EXPECT_EQ(m.output_shape, (Shape{5}));
  EXPECT_EQ(build_from_spec("conv1d(4,3,pad=1) bn relu maxpool(2) gap flatten linear(2)", {2, 10})
                .output_shape,
            (Shape{2}));
  EXPECT_EQ(build_from_spec("conv3d(2,3) bn gmp", {1, 5, 5, 5}).output_shape, (Shape{2, 1, 1, 1}));
}

TEST(Spec, ErrorsPointAtTheToken) {
  std::string e = spec_error("conv(32,3) relu conv(8,3,stride=0)");
  EXPECT_NE(e.find("layer 3"), std::string::npos) << e;
  EXPECT_NE(e.find("column 17"), std::string::npos) << e;
  EXPECT_NE(e.find("stride"), std::string::npos) << e;
  e = spec_error("conv(32) relu");
  EXPECT_NE(e.find("'conv(32)' at column 1 needs argument 'k'"), std::string::npos) << e;
  e = spec_error("relu frobnicate");
  EXPECT_NE(e.find("'frobnicate' at column 6 is not a layer"), std::string::npos) << e;
  e = spec_error("conv(8,3) linear(10)");
  EXPECT_NE(e.find("flatten"), std::string::npos) << e;
  e = spec_error("conv(8,3,strid=2)");
  EXPECT_NE(e.find("has no argument 'strid'"), std::string::npos) << e;
  e = spec_error("conv(8,x)");
  EXPECT_NE(e.find("expects an integer, got 'x'"), std::string::npos) << e;
  EXPECT_NE(spec_error("conv(8,3").find("never closed"), std::string::npos);
  EXPECT_NE(spec_error("").find("at least one layer"), std::string::npos);
  // A layer whose output would be smaller than 1 names the layer.
  e = spec_error("conv(8,3) maxpool(2) conv(8,3) maxpool(2) conv(8,7)");
  EXPECT_NE(e.find("layer 5"), std::string::npos) << e;
  EXPECT_NE(spec_error("conv(8,3)", {1, 2, 2, 2, 2}).find("input shape"), std::string::npos);
}

}  // namespace
}  // namespace fovea::nn
