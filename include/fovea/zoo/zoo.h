// The model zoo: classic CNNs by name, with torchvision 0.14's architectures and state-dict
// keys (so its checkpoints load key for key), plus MobileNet v1 and the two networks defined
// as spec strings (nn::zoo_spec: "lenet5", "fmnist-cnn").
//
//   auto net = zoo::create_model("resnet18");               // (N, 3, H, W) -> (N, 1000)
//   auto built = zoo::build_model("mobilenet_v2", {3, 96, 96}, 10);  // output_shape {10}
//   auto spec = zoo::build_model("conv(8,3) relu gap flatten linear(2)", {1, 28, 28});
//
// Every model takes num_classes, its last layer's width (the spec networks too: their final
// linear layer is resized). ImageNet models expect (3, 224, 224) but, ending in adaptive
// pooling, accept smaller inputs down to a model-dependent minimum; the spec networks are
// built for (1, 28, 28) by create_model. Models start in training mode.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fovea/nn/module.h"
#include "fovea/nn/spec.h"
#include "fovea/zoo/alexnet.h"
#include "fovea/zoo/densenet.h"
#include "fovea/zoo/efficientnet.h"
#include "fovea/zoo/googlenet.h"
#include "fovea/zoo/mobilenet_v1.h"
#include "fovea/zoo/mobilenet_v2.h"
#include "fovea/zoo/resnet.h"
#include "fovea/zoo/vgg.h"

namespace fovea::zoo {

// The zoo's names, in DESIGN.md's order: lenet5 alexnet vgg11 vgg11_bn vgg16 vgg16_bn
// resnet18 resnet34 resnet50 googlenet densenet121 mobilenet_v1 mobilenet_v2 efficientnet_b0
// fmnist-cnn.
const std::vector<std::string>& model_names();
bool is_model_name(const std::string& name);

// The input shape (C, H, W) the model is designed for: (3, 224, 224), or (1, 28, 28) for
// lenet5 and fmnist-cnn. ValueError listing the names for an unknown name.
Shape model_input_shape(const std::string& name);

// A new model with freshly initialised weights (torchvision's initialisation). ValueError for
// an unknown name (listing the zoo) or num_classes < 1.
std::shared_ptr<nn::Module> create_model(const std::string& name, int64_t num_classes = 1000);

// A zoo name: the model (spec = the name; for lenet5 and fmnist-cnn the expanded spec string),
// output_shape found by one forward pass of a zero example in eval mode without gradients.
// Anything else is a spec string for nn::build_from_spec (num_classes is then unused: the spec
// gives every width). A single word that is neither a zoo name nor a one-layer spec raises
// ValueError listing the zoo names. input_shape is (C, H, W); too small or wrong-channel
// inputs raise ValueError naming the model and the shape.
nn::SpecModel build_model(const std::string& spec_or_name, const Shape& input_shape,
                          int64_t num_classes = 1000);

}  // namespace fovea::zoo
