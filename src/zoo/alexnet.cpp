#include "fovea/zoo/alexnet.h"

#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/pool.h"

namespace fovea::zoo {
namespace {

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel_size, int64_t stride,
                                 int64_t padding) {
  return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = in,
                                                        .out_channels = out,
                                                        .kernel_size = kernel_size,
                                                        .stride = stride,
                                                        .padding = padding});
}

std::shared_ptr<nn::MaxPool2d> max_pool() {
  return std::make_shared<nn::MaxPool2d>(
      functional::MaxPool2dOptions{.kernel_size = 3, .stride = 2});
}

}  // namespace

AlexNet::AlexNet(int64_t num_classes, double dropout) : Module("AlexNet") {
  auto relu = [] { return std::make_shared<nn::ReLU>(); };
  features_ = register_module(
      "features", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                      conv(3, 64, 11, 4, 2), relu(), max_pool(),   //
                      conv(64, 192, 5, 1, 2), relu(), max_pool(),  //
                      conv(192, 384, 3, 1, 1), relu(),             //
                      conv(384, 256, 3, 1, 1), relu(),             //
                      conv(256, 256, 3, 1, 1), relu(), max_pool()}));
  avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(6));
  classifier_ = register_module(
      "classifier",
      std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
          std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(256 * 6 * 6, 4096),
          relu(), std::make_shared<nn::Dropout>(dropout), std::make_shared<nn::Linear>(4096, 4096),
          relu(), std::make_shared<nn::Linear>(4096, num_classes)}));
}

Tensor AlexNet::forward(const Tensor& x) {
  return (*classifier_)(functional::flatten((*avgpool_)((*features_)(x)), 1));
}

std::shared_ptr<AlexNet> alexnet(int64_t num_classes) {
  return std::make_shared<AlexNet>(num_classes);
}

}  // namespace fovea::zoo
