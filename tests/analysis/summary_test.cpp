// Model summaries: the course notes' small CNN, receptive fields through stacks, branches and
// merges, published receptive fields of standard architectures, the JSON contract, errors,
// and `fovea summary`.
#include "fovea/analysis/summary.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "expect_error.h"
#include "fovea/analysis/separable.h"
#include "fovea/error.h"
#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/spec.h"
#include "fovea/train/checkpoint.h"
#include "fovea/zoo/zoo.h"
#include "run_cli.h"
#include "temp_dir.h"

namespace fovea::analysis {
namespace {

using fovea::testing::expect_error;
using fovea::testing::run_fovea;

// The course notes' network: 28×28×1 → conv 8@3×3 → maxpool 2 → conv 16@3×3 → maxpool 2 →
// flatten → fc 64 → fc 10.
constexpr const char* kCourseSpec =
    "conv(8,3) maxpool(2) conv(16,3) maxpool(2) flatten linear(64) linear(10)";

Summary summarize_spec(const std::string& spec, const Shape& input) {
  nn::SpecModel m = nn::build_from_spec(spec, input);
  return summarize(*m.model, input, spec);
}

void expect_rf(const ReceptiveField& rf, double size, double jump, double start) {
  for (const AxisRf& a : rf) {
    EXPECT_EQ(a.size, size);
    EXPECT_EQ(a.jump, jump);
    EXPECT_EQ(a.start, start);
  }
}

TEST(Summary, CourseNetwork) {
  const Summary s = summarize_spec(kCourseSpec, {1, 28, 28});
  ASSERT_EQ(s.layers.size(), 7u);
  const std::vector<Shape> shapes = {{8, 26, 26}, {8, 13, 13}, {16, 11, 11}, {16, 5, 5},
                                     {400},       {64},        {10}};
  const std::vector<int64_t> params = {80, 0, 1168, 0, 0, 25664, 650};
  const std::vector<int64_t> macs = {8 * 26 * 26 * 9, 0,      16 * 11 * 11 * 8 * 9, 0, 0,
                                     400 * 64,        64 * 10};
  const std::vector<std::string> types = {"Conv2d",  "MaxPool2d", "Conv2d", "MaxPool2d",
                                          "Flatten", "Linear",    "Linear"};
  for (size_t i = 0; i < s.layers.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(s.layers[i].name, std::to_string(i));
    EXPECT_EQ(s.layers[i].type, types[i]);
    EXPECT_EQ(s.layers[i].output_shape, shapes[i]);
    EXPECT_EQ(s.layers[i].params, params[i]);
    EXPECT_EQ(s.layers[i].macs, macs[i]);
  }
  EXPECT_EQ(s.total_params, 27562);
  EXPECT_EQ(s.trainable_params, 27562);
  EXPECT_EQ(s.total_macs, 48672 + 139392 + 25600 + 640);
  EXPECT_EQ(s.activation_bytes, 4 * (8 * 26 * 26 + 8 * 13 * 13 + 16 * 11 * 11 + 400 * 2 + 64 + 10));
  // r, j, start: conv 3/1/1.5, pool 4/2/2, conv 8/2/4, pool 10/4/5; flatten sees the whole
  // 5×5 map: 10 + 4·4 = 26 pixels centred at 5 + 2·4 = 13.
  expect_rf(s.layers[0].rf, 3, 1, 1.5);
  expect_rf(s.layers[1].rf, 4, 2, 2);
  expect_rf(s.layers[2].rf, 8, 2, 4);
  expect_rf(s.layers[3].rf, 10, 4, 5);
  expect_rf(s.layers[4].rf, 26, 20, 13);
  expect_rf(s.layers[6].rf, 26, 20, 13);
}

TEST(Summary, ThreeStacked3x3ConvolutionsSee7x7) {
  const Summary s = summarize_spec("conv(4,3) relu conv(4,3,pad=1) relu conv(4,3)", {1, 16, 16});
  expect_rf(s.layers.back().rf, 7, 1, 2.5);  // 0.5 + 1 + 0 + 1
  expect_rf(s.layers[1].rf, 3, 1, 1.5);      // the activation keeps its input's field
}

TEST(Summary, AxesAreTrackedSeparately) {
  nn::Sequential model;
  model.push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
      .in_channels = 1, .out_channels = 2, .kernel_size = {5, 1}, .stride = {1, 2}}));
  const Summary s = summarize(model, {1, 9, 9}, "strip");
  const ReceptiveField& rf = s.layers[0].rf;
  ASSERT_EQ(rf.size(), 2u);
  EXPECT_EQ(rf[0], (AxisRf{5, 1, 2.5}));
  EXPECT_EQ(rf[1], (AxisRf{1, 2, 0.5}));
  const auto j = nlohmann::json::parse(summary_json(s));
  EXPECT_EQ(j["layers"][0]["rf"]["size"], nlohmann::json::parse("[5, 1]"));
  EXPECT_EQ(j["layers"][0]["rf"]["jump"], nlohmann::json::parse("[1, 2]"));
  EXPECT_EQ(j["layers"][0]["rf"]["start"], nlohmann::json::parse("[2.5, 0.5]"));
}

TEST(Summary, OneAndThreeSpatialAxes) {
  const Summary signal = summarize_spec("conv(4,3) maxpool(2) conv(4,3)", {2, 32});
  ASSERT_EQ(signal.layers.back().rf.size(), 1u);
  expect_rf(signal.layers.back().rf, 8, 2, 4);
  EXPECT_EQ(signal.layers.back().output_shape, (Shape{4, 13}));
  const Summary volume = summarize_spec("conv(2,3) maxpool(2)", {1, 6, 8, 8});
  ASSERT_EQ(volume.layers.back().rf.size(), 3u);
  expect_rf(volume.layers.back().rf, 4, 2, 2);
  EXPECT_EQ(volume.layers[0].macs, 2 * 4 * 6 * 6 * 27);
}

TEST(Summary, DilationAndPaddingModes) {
  // k3 d2 (k_eff 5) with 'same' padding 2: r 5, start 0.5 + (2 − 2) = 0.5.
  const Summary s = summarize_spec("conv(2,3,dilation=2,pad=same) conv(2,3,pad=full)", {1, 9, 9});
  expect_rf(s.layers[0].rf, 5, 1, 0.5);
  expect_rf(s.layers[1].rf, 7, 1, -0.5);  // full padding 2 each side: start 0.5 + (1 − 2)
}

// A residual block with a 3×3-3×3 main path and a 1×1 projection shortcut, its merge in
// forward() (F::add, not a module), then a leaf so the merged field gets a row.
class ResidualBlock : public nn::Module {
 public:
  explicit ResidualBlock(bool shortcut_first) : Module("ResidualBlock"), first_(shortcut_first) {
    auto conv = [](int64_t k, int64_t stride) {
      return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2,
                                                            .out_channels = 2,
                                                            .kernel_size = k,
                                                            .stride = stride,
                                                            .padding = k / 2});
    };
    conv1_ = register_module("conv1", conv(3, 2));
    conv2_ = register_module("conv2", conv(3, 1));
    shortcut_ = register_module("shortcut", conv(1, 2));
    relu_ = register_module("relu", std::make_shared<nn::ReLU>());
  }
  Tensor forward(const Tensor& x) override {
    const Tensor main = (*conv2_)((*conv1_)(x)), skip = (*shortcut_)(x);
    return (*relu_)(first_ ? functional::add(skip, main) : functional::add(main, skip));
  }

 private:
  bool first_;
  std::shared_ptr<nn::Conv2d> conv1_, conv2_, shortcut_;
  std::shared_ptr<nn::ReLU> relu_;
};

TEST(Summary, ResidualMergeTakesTheLargerField) {
  for (bool shortcut_first : {false, true}) {
    ResidualBlock block(shortcut_first);
    const Summary s = summarize(block, {2, 16, 16}, "block");
    ASSERT_EQ(s.layers.size(), 4u);
    EXPECT_EQ(s.layers[0].name, "conv1");
    EXPECT_EQ(s.layers[2].name, "shortcut");
    expect_rf(s.layers[1].rf, 7, 2, 0.5);  // main path: 3 then 3 + 2·2
    expect_rf(s.layers[2].rf, 1, 2, 0.5);  // shortcut: one pixel
    EXPECT_EQ(s.layers[3].name, "relu");
    expect_rf(s.layers[3].rf, 7, 2, 0.5);
  }
}

// Inception-style: two branches of different kernels concatenated along the channels.
class TwoBranches : public nn::Module {
 public:
  TwoBranches() : Module("TwoBranches") {
    auto conv = [](int64_t in, int64_t k) {
      return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
          .in_channels = in, .out_channels = 2, .kernel_size = k, .padding = k / 2});
    };
    a_ = register_module("a", conv(1, 1));
    b_ = register_module("b", conv(1, 5));
    out_ = register_module("out", conv(4, 3));
  }
  Tensor forward(const Tensor& x) override {
    return (*out_)(functional::cat({(*a_)(x), (*b_)(x)}, 1));
  }

 private:
  std::shared_ptr<nn::Conv2d> a_, b_, out_;
};

TEST(Summary, ConcatenationTakesTheLargerField) {
  TwoBranches net;
  const Summary s = summarize(net, {1, 12, 12}, "branches");
  ASSERT_EQ(s.layers.size(), 3u);
  expect_rf(s.layers[2].rf, 7, 1, 0.5);  // 5 from branch b, + 2 for the 3×3 after the cat
  EXPECT_EQ(s.layers[2].output_shape, (Shape{2, 12, 12}));
}

TEST(Summary, GlobalPoolingSeesTheWholeMap) {
  const Summary s = summarize_spec("conv(4,3,stride=2,pad=1) gap flatten linear(3)", {1, 8, 8});
  // conv: r 3, j 2, start 0.5 on a 4×4 map; the global pool covers 3 + 3·2 = 9 pixels.
  expect_rf(s.layers[1].rf, 9, 8, 3.5);
  expect_rf(s.layers[3].rf, 9, 8, 3.5);
  EXPECT_EQ(s.layers[1].type, "GlobalAvgPool");
}

TEST(Summary, UpsamplingDividesTheJump) {
  const Summary s =
      summarize_spec("conv(2,3,stride=2,pad=1) upsample(2) upsample(2,mode=bilinear)", {1, 8, 8});
  expect_rf(s.layers[0].rf, 3, 2, 0.5);
  expect_rf(s.layers[1].rf, 3, 1, 0);        // nearest: half-pixel mapping, no extra taps
  expect_rf(s.layers[2].rf, 4, 0.5, -0.25);  // bilinear reads 2 neighbours
}

TEST(Summary, TrainingModeIsRestored) {
  nn::SpecModel m = nn::build_from_spec("conv(2,3) bn relu dropout(0.5)", {1, 8, 8});
  summarize(*m.model, {1, 8, 8}, "m");
  EXPECT_TRUE(m.model->is_training());
  m.model->eval();
  summarize(*m.model, {1, 8, 8}, "m");
  EXPECT_FALSE(m.model->is_training());
  // Mixed modes survive: a frozen batch norm in a training model.
  m.model->train();
  (*std::dynamic_pointer_cast<nn::Sequential>(m.model))[1]->eval();
  summarize(*m.model, {1, 8, 8}, "m");
  EXPECT_TRUE(m.model->is_training());
  EXPECT_FALSE((*std::dynamic_pointer_cast<nn::Sequential>(m.model))[1]->is_training());
  EXPECT_TRUE((*std::dynamic_pointer_cast<nn::Sequential>(m.model))[3]->is_training());
}

TEST(Summary, JsonFollowsTheContract) {
  const auto j = nlohmann::json::parse(summary_json(summarize_spec(kCourseSpec, {1, 28, 28})));
  for (const char* key :
       {"model", "input", "layers", "total_params", "trainable_params", "total_macs"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["model"], kCourseSpec);
  EXPECT_EQ(j["input"], nlohmann::json::parse("[1, 28, 28]"));
  EXPECT_EQ(j["total_params"], 27562);
  EXPECT_EQ(j["layers"][0], nlohmann::json::parse(R"({"name": "0", "type": "Conv2d",
      "output_shape": [8, 26, 26], "params": 80, "macs": 48672,
      "rf": {"size": 3, "jump": 1, "start": 1.5}})"));
  for (const auto& layer : j["layers"]) {
    EXPECT_TRUE(layer["params"].is_number_integer());
    EXPECT_TRUE(layer["rf"]["size"].is_number());
  }
}

TEST(Summary, TableListsLayersAndTotals) {
  const std::string table = format_summary(summarize_spec(kCourseSpec, {1, 28, 28}));
  EXPECT_NE(table.find("8x26x26"), std::string::npos) << table;
  EXPECT_NE(table.find("25,664"), std::string::npos) << table;
  EXPECT_NE(table.find("total params      27,562"), std::string::npos) << table;
}

// Receptive fields of standard architectures, hand-built as spec strings, against Google's
// receptive_field table (TF-Slim models; effective padding = size/2 − start). Channel counts
// do not change receptive fields, so the nets are narrow to keep the test fast.
TEST(Summary, Vgg16MatchesGooglesTable) {
  const std::string block2 = "conv(4,3,pad=1) relu conv(4,3,pad=1) relu maxpool(2) ";
  const std::string block3 =
      "conv(4,3,pad=1) relu conv(4,3,pad=1) relu conv(4,3,pad=1) relu "
      "maxpool(2) ";
  const Summary s = summarize_spec(
      block2 + block2 + block3 + block3 + block3 + "flatten linear(10)", {3, 64, 64});
  const ReceptiveField& pool5 = s.layers.at(30).rf;  // 13 convs + 13 relus + 5 pools
  EXPECT_EQ(s.layers.at(30).type, "MaxPool2d");
  expect_rf(pool5, 212, 32, 212.0 / 2 - 90);
  expect_rf(s.layers.at(4).rf, 6, 2, 6.0 / 2 - 2);         // pool1
  expect_rf(s.layers.at(16).rf, 44, 8, 44.0 / 2 - 18);     // pool3
  expect_rf(s.layers.at(23).rf, 100, 16, 100.0 / 2 - 42);  // pool4
}

TEST(Summary, AlexnetMatchesGooglesTableUpToConv1Padding) {
  // torchvision's AlexNet has alexnet_v2's kernels and strides (rf 195, stride 32) but pads
  // conv1 by 2 where TF-Slim's is VALID, so its effective padding is 64 + 2.
  const Summary s = summarize_spec(
      "conv(4,11,stride=4,pad=2) relu maxpool(3,stride=2) conv(4,5,pad=2) relu "
      "maxpool(3,stride=2) conv(4,3,pad=1) relu conv(4,3,pad=1) relu conv(4,3,pad=1) relu "
      "maxpool(3,stride=2)",
      {3, 224, 224});
  expect_rf(s.layers.back().rf, 195, 32, 195.0 / 2 - 66);
  EXPECT_EQ(s.layers.back().output_shape, (Shape{4, 6, 6}));
}

TEST(Summary, MobilenetV1MatchesGooglesTable) {
  // conv 3×3/2, then 13 depthwise (3×3) + pointwise pairs with strides 1,2,1,2,1,2,1,1,1,1,1,2,1.
  std::string spec = "conv(4,3,stride=2,pad=1) ";
  for (int s : {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1})
    spec += fmt::format("dwconv(3,stride={},pad=1) conv(4,1) ", s);
  const Summary s = summarize_spec(spec, {3, 224, 224});
  const std::vector<double> rf = {3, 7, 11, 19, 27, 43, 59, 91, 123, 155, 187, 219, 251, 315};
  const std::vector<double> stride = {2, 2, 4, 4, 8, 8, 16, 16, 16, 16, 16, 16, 32, 32};
  for (size_t i = 0; i < rf.size(); ++i) {  // Conv2d_0, then each pointwise conv
    SCOPED_TRACE(i);
    const ReceptiveField& got = s.layers.at(i == 0 ? 0 : 2 * i).rf;
    EXPECT_EQ(got[0].size, rf[i]);
    EXPECT_EQ(got[0].jump, stride[i]);
  }
}

// The same comparisons on the zoo's networks (torchvision's architectures).
const LayerSummary& row(const Summary& s, const std::string& name) {
  // The last row of that name: a module called several times (ResNet's shared ReLU) has one
  // row per call.
  for (auto it = s.layers.rbegin(); it != s.layers.rend(); ++it)
    if (it->name == name) return *it;
  throw std::out_of_range("no layer " + name);
}

// Google's table row: rf, effective stride and effective padding (size/2 − start).
void expect_table(const LayerSummary& l, double rf, double stride, double padding) {
  SCOPED_TRACE(l.name);
  expect_rf(l.rf, rf, stride, rf / 2 - padding);
}

// One OpenMP thread while it lives. Test machines are shared: on a loaded one, spinning
// OpenMP barriers make the zoo's thousands of small (grouped) convolutions crawl, and these
// tests are about arithmetic, not speed.
class SingleThread {
 public:
  SingleThread() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThread() { omp_set_num_threads(previous_); }
  SingleThread(const SingleThread&) = delete;
  SingleThread& operator=(const SingleThread&) = delete;

 private:
  int previous_;
};

Summary summarize_zoo(const std::string& name, const Shape& input) {
  SingleThread one_thread;
  auto model = zoo::create_model(name);
  return summarize(*model, input, name);
}

TEST(SummaryZoo, Vgg16MatchesGooglesTable) {
  // Receptive fields do not depend on the input size: 64×64 keeps the test fast.
  const Summary s = summarize_zoo("vgg16", {3, 64, 64});
  expect_table(row(s, "features.0"), 3, 1, 1);       // conv1_1
  expect_table(row(s, "features.4"), 6, 2, 2);       // pool1
  expect_table(row(s, "features.5"), 10, 2, 4);      // conv2_1
  expect_table(row(s, "features.9"), 16, 4, 6);      // pool2
  expect_table(row(s, "features.16"), 44, 8, 18);    // pool3
  expect_table(row(s, "features.23"), 100, 16, 42);  // pool4
  expect_table(row(s, "features.26"), 164, 16, 74);  // conv5_2
  expect_table(row(s, "features.30"), 212, 32, 90);  // pool5
  EXPECT_EQ(s.total_params, 138357544);
}

TEST(SummaryZoo, AlexnetMatchesGooglesTableUpToConv1Padding) {
  // alexnet_v2's conv1 is VALID, torchvision's pads 2: effective padding + 2 throughout.
  const Summary s = summarize_zoo("alexnet", {3, 224, 224});
  expect_table(row(s, "features.0"), 11, 4, 0 + 2);    // conv1
  expect_table(row(s, "features.2"), 19, 8, 0 + 2);    // pool1
  expect_table(row(s, "features.3"), 51, 8, 16 + 2);   // conv2
  expect_table(row(s, "features.6"), 99, 16, 32 + 2);  // conv3
  expect_table(row(s, "features.8"), 131, 16, 48 + 2);
  expect_table(row(s, "features.10"), 163, 16, 64 + 2);
  expect_table(row(s, "features.12"), 195, 32, 64 + 2);  // pool5
  EXPECT_EQ(row(s, "features.12").output_shape, (Shape{256, 6, 6}));
  EXPECT_EQ(s.total_params, 61100840);
}

TEST(SummaryZoo, MobilenetV1MatchesGooglesTable) {
  // TF's SAME padding of a stride-2 3×3 conv pads 1 before the axis on odd sizes (and 0 on
  // even ones), PyTorch's padding=1 always 1: the effective paddings match Google's column
  // for 321×321 inputs (at 224 TF's are smaller).
  const Summary s = summarize_zoo("mobilenet_v1", {3, 64, 64});
  expect_table(row(s, "features.0.0"), 3, 2, 1);  // Conv2d_0
  const std::vector<double> rf = {7, 11, 19, 27, 43, 59, 91, 123, 155, 187, 219, 251, 315};
  const std::vector<double> stride = {2, 4, 4, 8, 8, 16, 16, 16, 16, 16, 16, 32, 32};
  const std::vector<double> padding_321 = {3, 5, 9, 13, 21, 29, 45, 61, 77, 93, 109, 125, 157};
  for (size_t i = 0; i < rf.size(); ++i)  // Conv2d_<i+1>_pointwise
    expect_table(row(s, fmt::format("features.{}.1.0", i + 1)), rf[i], stride[i], padding_321[i]);
}

TEST(SummaryZoo, Resnet50DiffersFromTfSlimWhereStridesSit) {
  // torchvision (v1.5) strides the first bottleneck of a stage in its 3×3 conv; TF-Slim's
  // resnet_v1_50 strides the last unit of the previous block. The calculator reproduces
  // Google's numbers for TF-Slim's layout (3×3 convs only: 1×1s do not widen the field)...
  std::vector<RfLayer> tf_slim = {{.k = 7, .s = 2, .p = 3}, {.k = 3, .s = 2, .p = 1}};
  std::vector<size_t> block_ends;
  for (int units : {3, 4, 6, 3}) {
    for (int u = 1; u <= units; ++u)
      tf_slim.push_back({.k = 3, .s = u == units && block_ends.size() < 3 ? 2 : 1, .p = 1});
    block_ends.push_back(tf_slim.size());
  }
  const auto steps = receptive_field(224, tf_slim);
  const std::vector<double> google_rf = {35, 99, 291, 483}, google_stride = {8, 16, 32, 32};
  for (size_t b = 0; b < 4; ++b) {
    EXPECT_EQ(steps[block_ends[b]].rf.size, google_rf[b]);
    EXPECT_EQ(steps[block_ends[b]].rf.jump, google_stride[b]);
  }
  // ... and the zoo's torchvision layout sees 35, 91, 267, 427 at strides 4, 8, 16, 32.
  const Summary s = summarize_zoo("resnet50", {3, 64, 64});
  expect_rf(row(s, "layer1.2.relu").rf, 35, 4, 0.5);
  EXPECT_EQ(row(s, "layer2.3.relu").rf[0].size, 91);
  EXPECT_EQ(row(s, "layer3.5.relu").rf[0].size, 267);
  EXPECT_EQ(row(s, "layer4.2.relu").rf[0].size, 427);
  EXPECT_EQ(row(s, "layer4.2.relu").rf[0].jump, 32);
  EXPECT_EQ(s.total_params, 25557032);
}

TEST(SummaryZoo, EveryNetworkSummarises) {
  for (const std::string& name : zoo::model_names()) {
    SCOPED_TRACE(name);
    const Shape full = zoo::model_input_shape(name);
    const Shape input = full[0] == 3 ? Shape{3, 64, 64} : full;  // AlexNet needs 63
    auto model = zoo::create_model(name);
    SingleThread one_thread;
    const Summary s = summarize(*model, input, name);
    ASSERT_FALSE(s.layers.empty());
    EXPECT_EQ(s.total_params, model->num_parameters());
    EXPECT_GT(s.total_macs, 0);
    for (const LayerSummary& l : s.layers) {
      EXPECT_FALSE(l.name.empty());
      EXPECT_FALSE(l.name.ends_with("."));
      ASSERT_EQ(l.rf.size(), 2u) << l.name;
      EXPECT_GE(l.rf[0].size, 1) << l.name;
    }
    EXPECT_EQ(s.layers.back().output_shape, (Shape{1000}));  // create_model's default
  }
}

TEST(SummaryErrors, BadInputShapes) {
  nn::SpecModel m = nn::build_from_spec(kCourseSpec, {1, 28, 28});
  expect_error<ValueError>([&] { summarize(*m.model, {}, "m"); }, {"summary: input shape", "[]"});
  expect_error<ValueError>(
      [&] {
        summarize(*m.model, {1, 0, 28}, "m");
      },
      {"summary: input shape", "[1, 0, 28]"});
  expect_error<ValueError>(
      [&] {
        summarize(*m.model, {1, 2, 3, 4, 5}, "m");
      },
      {"summary: input shape"});
}

TEST(SummaryErrors, ImpossibleShapesNameTheLastLayerThatRan) {
  nn::SpecModel m = nn::build_from_spec(kCourseSpec, {1, 28, 28});
  // 12×12: conv 10, pool 5, conv 3, pool 1, flatten 16 features; linear(64) wants 400.
  expect_error<Error>(
      [&] {
        summarize(*m.model, {1, 12, 12}, "m");
      },
      {"summary: the forward pass failed after layer '4' (Flatten)", "linear"});
  // 4×4: conv 2, pool 1, and the second 3×3 conv does not fit.
  expect_error<Error>(
      [&] {
        summarize(*m.model, {1, 4, 4}, "m");
      },
      {"after layer '1' (MaxPool2d)", "conv2d"});
  expect_error<Error>(
      [&] {
        summarize(*m.model, {3, 28, 28}, "m");
      },
      {"before its first layer completed", "conv2d"});
}

TEST(SummaryCli, CourseNetworkAsJson) {
  FOVEA_REQUIRE_CLI();
  const auto r = run_fovea({"summary", kCourseSpec, "--input", "1x28x28", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["total_params"], 27562);
  EXPECT_EQ(j["layers"].size(), 7u);
  EXPECT_EQ(j["layers"][3]["output_shape"], nlohmann::json::parse("[16, 5, 5]"));
  EXPECT_EQ(j["layers"][3]["rf"]["size"], 10);
}

TEST(SummaryCli, ZooNameUsesItsDefaultInput) {
  FOVEA_REQUIRE_CLI();
  const auto r = run_fovea({"summary", "fmnist-cnn"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fmnist-cnn: input 1x28x28"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total params"), std::string::npos) << r.out;
}

TEST(SummaryCli, ImagenetZooNetwork) {
  FOVEA_REQUIRE_CLI();
  const auto r = run_fovea({"summary", "resnet18", "--input", "3x64x64", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], "resnet18");
  EXPECT_EQ(j["total_params"], 11689512);
  EXPECT_EQ(j["layers"].back()["output_shape"], nlohmann::json::parse("[1000]"));
}

TEST(SummaryCli, CheckpointGivesSpecAndInputShape) {
  FOVEA_REQUIRE_CLI();
  fovea::testing::TempDir dir;
  nn::SpecModel m = nn::build_from_spec(kCourseSpec, {1, 28, 28});
  train::CheckpointInfo info;
  info.spec = m.spec;
  info.classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  info.input_shape = {1, 28, 28};
  info.mean = {0.5f};
  info.std = {0.5f};
  train::save_checkpoint(dir / "course.safetensors", *m.model, info);
  const std::string path = (dir / "course.safetensors").string();
  auto r = run_fovea({"summary", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], path);
  EXPECT_EQ(j["input"], nlohmann::json::parse("[1, 28, 28]"));
  EXPECT_EQ(j["total_params"], 27562);
  // The checkpoint's own weights: the report sees them.
  r = run_fovea({"separable", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 2u);
  const auto direct =
      nlohmann::json::parse(separability_json(analyze_separability(*m.model, path, 1)));
  EXPECT_EQ(j["layers"][0]["relative_error"], direct["layers"][0]["relative_error"]);
}

TEST(SummaryCli, Errors) {
  FOVEA_REQUIRE_CLI();
  auto r = run_fovea({"summary", "conv(8,3) maxpool(2) conv(16,30)", "--input", "1x28x28"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: spec: layer 3 'conv(16,30)'"), std::string::npos) << r.err;
  r = run_fovea({"summary", "conv(8,3)"});  // a spec needs --input
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--input"), std::string::npos) << r.err;
  r = run_fovea({"summary", "conv(8,3)", "--input", "1x28xx"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("1x28xx"), std::string::npos) << r.err;
  r = run_fovea({"summary", "missing.safetensors"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fovea::analysis
