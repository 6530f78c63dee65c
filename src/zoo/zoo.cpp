#include "fovea/zoo/zoo.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>

#include "fovea/autograd.h"
#include "fovea/error.h"

namespace fovea::zoo {
namespace {

using Factory = std::function<std::shared_ptr<nn::Module>(int64_t num_classes)>;

// A typed factory (resnet18 returns shared_ptr<ResNet>) as a Module factory.
template <class M>
Factory factory(std::shared_ptr<M> (*make)(int64_t)) {
  return [make](int64_t num_classes) -> std::shared_ptr<nn::Module> { return make(num_classes); };
}

const std::map<std::string, Factory>& imagenet_models() {
  static const std::map<std::string, Factory> models = {
      {"alexnet", factory(alexnet)},
      {"vgg11", factory(vgg11)},
      {"vgg11_bn", factory(vgg11_bn)},
      {"vgg16", factory(vgg16)},
      {"vgg16_bn", factory(vgg16_bn)},
      {"resnet18", factory(resnet18)},
      {"resnet34", factory(resnet34)},
      {"resnet50", factory(resnet50)},
      {"googlenet", factory(googlenet)},
      {"densenet121", factory(densenet121)},
      {"mobilenet_v1", factory(mobilenet_v1)},
      {"mobilenet_v2", factory(mobilenet_v2)},
      {"efficientnet_b0", factory(efficientnet_b0)},
  };
  return models;
}

void check_name(const std::string& op, const std::string& name) {
  if (!is_model_name(name))
    throw ValueError(fmt::format("{}: name expects a zoo model ({}), got '{}'", op,
                                 fmt::join(model_names(), ", "), name));
}

void check_num_classes(const std::string& op, int64_t num_classes) {
  if (num_classes < 1)
    throw ValueError(fmt::format("{}: num_classes expects a value >= 1, got {}", op, num_classes));
}

// A spec network's string with its last linear layer's width set to num_classes.
std::string spec_with_classes(const std::string& spec, int64_t num_classes) {
  const size_t start = spec.rfind("linear(") + std::string("linear(").size();
  const size_t end = spec.find_first_of(",)", start);
  return spec.substr(0, start) + std::to_string(num_classes) + spec.substr(end);
}

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {
      "lenet5",      "alexnet",      "vgg11",        "vgg11_bn",        "vgg16",
      "vgg16_bn",    "resnet18",     "resnet34",     "resnet50",        "googlenet",
      "densenet121", "mobilenet_v1", "mobilenet_v2", "efficientnet_b0", "fmnist-cnn"};
  return names;
}

bool is_model_name(const std::string& name) {
  return std::ranges::find(model_names(), name) != model_names().end();
}

Shape model_input_shape(const std::string& name) {
  check_name("model_input_shape", name);
  return nn::zoo_spec(name) ? Shape{1, 28, 28} : Shape{3, 224, 224};
}

std::shared_ptr<nn::Module> create_model(const std::string& name, int64_t num_classes) {
  check_name("create_model", name);
  check_num_classes("create_model", num_classes);
  if (auto spec = nn::zoo_spec(name))
    return nn::build_from_spec(spec_with_classes(*spec, num_classes), model_input_shape(name))
        .model;
  return imagenet_models().at(name)(num_classes);
}

nn::SpecModel build_model(const std::string& spec_or_name, const Shape& input_shape,
                          int64_t num_classes) {
  const std::string& name = spec_or_name;  // when it is a zoo name
  if (is_model_name(name)) {
    check_num_classes("build_model", num_classes);
    if (auto spec = nn::zoo_spec(name))
      return nn::build_from_spec(spec_with_classes(*spec, num_classes), input_shape);
    if (input_shape.size() != 3 || input_shape[0] != 3)
      throw ValueError(fmt::format("build_model: input shape of {} expects (3, H, W), got {}", name,
                                   shape_str(input_shape)));
    nn::SpecModel out{create_model(name, num_classes), name, input_shape, {}};
    Shape batched = input_shape;
    batched.insert(batched.begin(), 1);
    try {
      autograd::NoGradGuard no_grad;
      out.model->eval();
      const Tensor y = (*out.model)(Tensor::zeros(batched));
      out.output_shape.assign(y.shape().begin() + 1, y.shape().end());
    } catch (const Error& e) {
      throw ValueError(
          fmt::format("build_model: input shape of {} expects a larger image, got {} ({})", name,
                      shape_str(input_shape), e.what()));
    }
    out.model->train();
    return out;
  }
  // A single word that is no layer either was most likely meant as a zoo name.
  const bool one_word = spec_or_name.find_first_of("( \t\n") == std::string::npos;
  try {
    return nn::build_from_spec(spec_or_name, input_shape);
  } catch (const ValueError&) {
    if (!one_word) throw;
    throw ValueError(
        fmt::format("build_model: model expects a zoo name ({}) or a spec string, got '{}'",
                    fmt::join(model_names(), ", "), spec_or_name));
  }
}

}  // namespace fovea::zoo
