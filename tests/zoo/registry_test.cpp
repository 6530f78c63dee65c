// The zoo's registry (create_model, build_model, model_names) and its error messages.
#include <gtest/gtest.h>

#include "expect_error.h"
#include "fovea/error.h"
#include "fovea/zoo/zoo.h"

namespace fovea {
namespace {

using testing::expect_error;

TEST(ZooRegistry, NamesAreDesignsList) {
  const std::vector<std::string> expected = {
      "lenet5",      "alexnet",      "vgg11",        "vgg11_bn",        "vgg16",
      "vgg16_bn",    "resnet18",     "resnet34",     "resnet50",        "googlenet",
      "densenet121", "mobilenet_v1", "mobilenet_v2", "efficientnet_b0", "fmnist-cnn"};
  EXPECT_EQ(zoo::model_names(), expected);
  EXPECT_TRUE(zoo::is_model_name("resnet18"));
  EXPECT_FALSE(zoo::is_model_name("resnet19"));
  EXPECT_EQ(zoo::model_input_shape("googlenet"), (Shape{3, 224, 224}));
  EXPECT_EQ(zoo::model_input_shape("lenet5"), (Shape{1, 28, 28}));
}

TEST(ZooRegistry, NumClassesSetsTheLastLayer) {
  auto resnet = zoo::create_model("resnet18", 10);
  const nn::NamedTensors state = resnet->state_dict();
  EXPECT_EQ(state.back().first, "fc.bias");
  EXPECT_EQ(state.back().second.shape(), (Shape{10}));
  // The spec networks are resized too.
  auto lenet = zoo::create_model("lenet5", 7);
  EXPECT_EQ(lenet->state_dict().back().second.shape(), (Shape{7}));
}

TEST(ZooRegistry, BuildModelFillsOutputShape) {
  const nn::SpecModel net = zoo::build_model("mobilenet_v2", {3, 32, 32}, 5);
  EXPECT_EQ(net.spec, "mobilenet_v2");
  EXPECT_EQ(net.input_shape, (Shape{3, 32, 32}));
  EXPECT_EQ(net.output_shape, (Shape{5}));
  EXPECT_TRUE(net.model->is_training());
}

TEST(ZooRegistry, BuildModelExpandsSpecNetworks) {
  const nn::SpecModel lenet = zoo::build_model("lenet5", {1, 32, 32}, 10);
  EXPECT_EQ(lenet.spec, *nn::zoo_spec("lenet5"));
  EXPECT_EQ(lenet.output_shape, (Shape{10}));
  const nn::SpecModel wide = zoo::build_model("fmnist-cnn", {1, 28, 28}, 100);
  EXPECT_TRUE(wide.spec.ends_with("linear(100)")) << wide.spec;
  EXPECT_EQ(wide.output_shape, (Shape{100}));
}

TEST(ZooRegistry, BuildModelDelegatesSpecStrings) {
  const nn::SpecModel net = zoo::build_model("conv(4,3) relu gap flatten linear(2)", {1, 8, 8});
  EXPECT_EQ(net.output_shape, (Shape{2}));
  // One word that is a layer is a spec, not a misspelt model.
  EXPECT_EQ(zoo::build_model("flatten", {2, 3, 3}).output_shape, (Shape{18}));
}

TEST(ZooRegistry, UnknownNameListsTheZoo) {
  expect_error<ValueError>([] { zoo::create_model("resnet19"); },
                           {"create_model", "resnet19", "resnet18", "efficientnet_b0"});
  expect_error<ValueError>(
      [] {
        zoo::build_model("resnet19", {3, 224, 224});
      },
      {"build_model", "resnet19", "lenet5", "fmnist-cnn"});
  expect_error<ValueError>([] { zoo::model_input_shape("lenet"); }, {"lenet5", "'lenet'"});
  // Spec strings keep the spec parser's message, pointing at the layer.
  expect_error<ValueError>(
      [] {
        zoo::build_model("conv(4,3) resnet18", {1, 8, 8});
      },
      {"layer 2", "resnet18"});
}

TEST(ZooRegistry, RejectsBadNumClasses) {
  expect_error<ValueError>([] { zoo::create_model("alexnet", 0); }, {"num_classes", "0"});
  expect_error<ValueError>(
      [] {
        zoo::build_model("lenet5", {1, 28, 28}, -1);
      },
      {"num_classes", "-1"});
}

TEST(ZooRegistry, RejectsBadInputShapes) {
  expect_error<ValueError>(
      [] {
        zoo::build_model("resnet18", {1, 224, 224});
      },
      {"resnet18", "(3, H, W)", "[1, 224, 224]"});
  expect_error<ValueError>(
      [] {
        zoo::build_model("resnet18", {3, 224});
      },
      {"resnet18", "(3, H, W)"});
  // AlexNet's features need 63x63.
  expect_error<ValueError>(
      [] {
        zoo::build_model("alexnet", {3, 62, 62});
      },
      {"alexnet", "larger", "[3, 62, 62]"});
  EXPECT_EQ(zoo::build_model("alexnet", {3, 63, 63}).output_shape, (Shape{1000}));
}

}  // namespace
}  // namespace fovea
