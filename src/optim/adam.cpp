#include "fovea/optim/adam.h"

#include <fmt/format.h>

#include <cmath>

#include "fovea/error.h"
#include "optim/update_kernels.h"

namespace fovea::optim {

void Adam::check(const AdamOptions& o) const {
  // torch.optim.Adam's checks, written so that NaN fails them too.
  if (!(o.lr >= 0))
    throw ValueError(fmt::format("{}: lr expects a value >= 0, got {}", name(), o.lr));
  if (!(o.eps >= 0))
    throw ValueError(fmt::format("{}: eps expects a value >= 0, got {}", name(), o.eps));
  for (int i = 0; i < 2; ++i)
    if (!(o.betas[i] >= 0 && o.betas[i] < 1))
      throw ValueError(
          fmt::format("{}: betas[{}] expects a value in [0, 1), got {}", name(), i, o.betas[i]));
  if (!(o.weight_decay >= 0))
    throw ValueError(
        fmt::format("{}: weight_decay expects a value >= 0, got {}", name(), o.weight_decay));
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam("Adam", std::move(params), options, false) {}

Adam::Adam(std::string name, std::vector<Tensor> params, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(name), std::move(params)), options_(options), decoupled_(decoupled) {
  check(options_);
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& o)
    : Adam("AdamW", std::move(params),
           {.lr = o.lr,
            .betas = o.betas,
            .eps = o.eps,
            .weight_decay = o.weight_decay,
            .amsgrad = o.amsgrad},
           true) {}

void Adam::set_lr(double lr) {
  AdamOptions o = options_;
  o.lr = lr;
  check(o);
  options_ = o;
}

void Adam::set_momentum(double beta1) {
  AdamOptions o = options_;
  o.betas[0] = beta1;
  check(o);
  options_ = o;
}

std::vector<std::string> Adam::state_keys() const {
  if (options_.amsgrad) return {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"step", "exp_avg", "exp_avg_sq"};
}

void Adam::update() {
  const AdamOptions& o = options_;
  for (size_t i = 0; i < params().size(); ++i) {
    Tensor p = params()[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    ParamState& st = state(i);
    if (st.empty()) {
      st["step"] = Tensor::zeros({});
      st["exp_avg"] = Tensor::zeros(p.shape());
      st["exp_avg_sq"] = Tensor::zeros(p.shape());
      if (o.amsgrad) st["max_exp_avg_sq"] = Tensor::zeros(p.shape());
    }
    // The step count is a float32 tensor, incremented and then read back as a double, as in
    // torch 1.13; the bias corrections are computed in double.
    float& step = st["step"].data()[0];
    step += 1.0f;
    const double bias1 = 1.0 - std::pow(o.betas[0], static_cast<double>(step));
    const double bias2 = 1.0 - std::pow(o.betas[1], static_cast<double>(step));
    const kernels::AdamStep s{
        .beta1 = static_cast<float>(o.betas[0]),
        .beta2 = static_cast<float>(o.betas[1]),
        .eps = static_cast<float>(o.eps),
        .l2 = decoupled_ ? 0.0f : static_cast<float>(o.weight_decay),
        .decay = decoupled_ ? static_cast<float>(1.0 - o.lr * o.weight_decay) : 1.0f,
        .step_size = static_cast<float>(o.lr / bias1),
        .bias2_sqrt = static_cast<float>(std::sqrt(bias2))};
    float* v_max = o.amsgrad ? st["max_exp_avg_sq"].data() : nullptr;
    kernels::adam_step(s, p.data(), g.data(), st["exp_avg"].data(), st["exp_avg_sq"].data(), v_max,
                       p.numel());
  }
}

std::map<std::string, double> Adam::hyper_parameters() const {
  return {{"lr", options_.lr},
          {"beta1", options_.betas[0]},
          {"beta2", options_.betas[1]},
          {"eps", options_.eps},
          {"weight_decay", options_.weight_decay},
          {"amsgrad", options_.amsgrad ? 1.0 : 0.0}};
}

void Adam::set_hyper_parameters(const std::map<std::string, double>& values) {
  const AdamOptions o{.lr = hyper(values, "lr"),
                      .betas = {hyper(values, "beta1"), hyper(values, "beta2")},
                      .eps = hyper(values, "eps"),
                      .weight_decay = hyper(values, "weight_decay"),
                      .amsgrad = hyper(values, "amsgrad") != 0};
  check(o);
  options_ = o;
}

}  // namespace fovea::optim
