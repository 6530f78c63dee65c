#include "fovea/optim/sgd.h"

#include <fmt/format.h>

#include <cmath>

#include "fovea/error.h"
#include "optim/update_kernels.h"

namespace fovea::optim {
namespace {

constexpr const char* kName = "SGD";

// torch.optim.SGD's checks (plus NaN, which its comparisons let through).
const SGDOptions& checked(const SGDOptions& o) {
  if (std::isnan(o.lr))
    throw ValueError("SGD: lr expects a value >= 0 (it is required: there is no default), got nan");
  if (!(o.lr >= 0)) throw ValueError(fmt::format("SGD: lr expects a value >= 0, got {}", o.lr));
  if (!(o.momentum >= 0))
    throw ValueError(fmt::format("SGD: momentum expects a value >= 0, got {}", o.momentum));
  if (!(o.weight_decay >= 0))
    throw ValueError(fmt::format("SGD: weight_decay expects a value >= 0, got {}", o.weight_decay));
  if (std::isnan(o.dampening)) throw ValueError("SGD: dampening expects a number, got nan");
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    throw ValueError(fmt::format(
        "SGD: nesterov expects momentum > 0 and dampening = 0, got momentum {} and dampening {}",
        o.momentum, o.dampening));
  return o;
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : Optimizer(kName, std::move(params)), options_(checked(options)) {}

void SGD::set_lr(double lr) {
  SGDOptions o = options_;
  o.lr = lr;
  options_ = checked(o);
}

void SGD::set_momentum(double momentum) {
  SGDOptions o = options_;
  o.momentum = momentum;
  options_ = checked(o);
}

void SGD::update() {
  const SGDOptions& o = options_;
  for (size_t i = 0; i < params().size(); ++i) {
    Tensor p = params()[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    kernels::SgdStep s{.lr = static_cast<float>(o.lr),
                       .momentum = static_cast<float>(o.momentum),
                       .dampening = static_cast<float>(o.dampening),
                       .weight_decay = static_cast<float>(o.weight_decay),
                       .nesterov = o.nesterov};
    float* buf = nullptr;
    if (o.momentum != 0) {
      Tensor& b = state(i)["momentum_buffer"];
      s.first = !b.defined();
      if (s.first) b = Tensor::empty(p.shape());
      buf = b.data();
    }
    kernels::sgd_step(s, p.data(), g.data(), buf, p.numel());
  }
}

std::map<std::string, double> SGD::hyper_parameters() const {
  return {{"lr", options_.lr},
          {"momentum", options_.momentum},
          {"dampening", options_.dampening},
          {"weight_decay", options_.weight_decay},
          {"nesterov", options_.nesterov ? 1.0 : 0.0}};
}

void SGD::set_hyper_parameters(const std::map<std::string, double>& values) {
  options_ = checked({.lr = hyper(values, "lr"),
                      .momentum = hyper(values, "momentum"),
                      .dampening = hyper(values, "dampening"),
                      .weight_decay = hyper(values, "weight_decay"),
                      .nesterov = hyper(values, "nesterov") != 0});
}

}  // namespace fovea::optim
