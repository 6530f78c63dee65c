#include "fovea/tensor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <sstream>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/random.h"
#include "tensor/block_cache.h"

namespace fovea {
namespace {

void check_shape(const Shape& shape) {
  if (static_cast<int64_t>(shape.size()) > kMaxRank)
    throw ShapeError(fmt::format("tensor: shape expects at most {} dimensions, got {} ({})",
                                 kMaxRank, shape.size(), shape_str(shape)));
  for (int64_t s : shape)
    if (s < 0)
      throw ShapeError(fmt::format("tensor: shape expects sizes >= 0, got {}", shape_str(shape)));
}

std::shared_ptr<float[]> allocate(int64_t numel) {
  return detail::allocate_block(static_cast<size_t>(numel) * sizeof(float));
}

}  // namespace

std::string shape_str(std::span<const int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

int64_t shape_numel(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Tensor::Tensor(std::shared_ptr<float[]> storage, Shape shape)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      numel_(shape_numel(shape_)),
      meta_(std::make_shared<autograd::Meta>()) {}

Tensor Tensor::empty(Shape shape) {
  check_shape(shape);
  auto storage = allocate(shape_numel(shape));
  return Tensor(std::move(storage), std::move(shape));
}

Tensor Tensor::zeros(Shape shape) {
  return full(std::move(shape), 0.0f);
}
Tensor Tensor::ones(Shape shape) {
  return full(std::move(shape), 1.0f);
}

Tensor Tensor::full(Shape shape, float value) {
  Tensor t = empty(std::move(shape));
  t.fill_(value);
  return t;
}

Tensor Tensor::arange(int64_t n) {
  return arange(0.0f, static_cast<float>(n), 1.0f);
}

Tensor Tensor::arange(float start, float end, float step) {
  if (step == 0.0f) throw ValueError("arange: step expects a non-zero value, got 0");
  const double count = std::ceil((static_cast<double>(end) - start) / step);
  Tensor t = empty({std::max<int64_t>(0, static_cast<int64_t>(count))});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + step * static_cast<float>(i);
  return t;
}

Tensor Tensor::from_vector(Shape shape, std::span<const float> values) {
  Tensor t = empty(std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw ShapeError(fmt::format("from_vector: values expects {} elements for shape {}, got {}",
                                 t.numel(), shape_str(t.shape()), values.size()));
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::rand(Shape shape, float lo, float hi, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = empty(std::move(shape));
  for (float& v : t.span()) v = g.uniform(lo, hi);
  return t;
}

Tensor Tensor::randn(Shape shape, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = empty(std::move(shape));
  for (float& v : t.span()) v = g.normal();
  return t;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t r = dim();
  if (d < -r || d >= r)
    throw ShapeError(fmt::format("size: dim expects a value in [{}, {}), got {}", -r, r, d));
  return shape_[d < 0 ? d + r : d];
}

Shape Tensor::strides() const {
  Shape s(shape_.size());
  int64_t acc = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    s[i] = acc;
    acc *= shape_[i];
  }
  return s;
}

float Tensor::at(std::span<const int64_t> index) const {
  return const_cast<Tensor*>(this)->at(index);
}

float& Tensor::at(std::span<const int64_t> index) {
  if (!defined()) throw ValueError("at: tensor is undefined");
  if (static_cast<int64_t>(index.size()) != dim())
    throw ShapeError(fmt::format("at: index expects {} coordinates for shape {}, got {}", dim(),
                                 shape_str(shape_), index.size()));
  int64_t offset = 0;
  for (size_t i = 0; i < index.size(); ++i) {
    if (index[i] < 0 || index[i] >= shape_[i])
      throw ShapeError(
          fmt::format("at: index {} expects a value in [0, {}) at dimension {}, got {}",
                      shape_str(index), shape_[i], i, index[i]));
    offset = offset * shape_[i] + index[i];
  }
  return storage_[offset];
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: shape expects at most one -1, got two");
      infer = static_cast<int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0 && numel_ % known == 0) shape[infer] = numel_ / known;
  check_shape(shape);
  if (shape_numel(shape) != numel_)
    throw ShapeError(fmt::format("reshape: shape {} expects {} elements, tensor {} has {}",
                                 shape_str(shape), shape_numel(shape), shape_str(shape_), numel_));
  Tensor view(storage_, std::move(shape));
  autograd::record("reshape", {*this}, view,
                   [in_shape = shape_](const Tensor& g, const std::vector<bool>&) {
                     return std::vector<Tensor>{g.reshape(in_shape)};
                   });
  return view;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_);
  std::copy_n(data(), numel_, t.data());
  autograd::record("clone", {*this}, t, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g};
  });
  return t;
}

Tensor& Tensor::requires_grad_(bool on) {
  if (!defined()) throw ValueError("requires_grad_: tensor is undefined");
  if (!is_leaf())
    throw ValueError(
        "requires_grad_: expects a leaf tensor, got the result of an operation; use detach() "
        "first");
  meta_->requires_grad = on;
  return *this;
}

bool Tensor::requires_grad() const {
  return meta_ && (meta_->requires_grad || meta_->grad_fn);
}

Tensor Tensor::grad() const {
  return meta_ ? meta_->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) {
  if (!defined()) throw ValueError("set_grad: tensor is undefined");
  if (grad.defined() && grad.shape() != shape_)
    throw ShapeError(fmt::format("set_grad: grad expects shape {}, got {}", shape_str(shape_),
                                 shape_str(grad.shape())));
  meta_->grad = grad;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  return meta_ ? meta_->grad_fn : nullptr;
}

Tensor Tensor::detach() const {
  if (!defined()) return {};
  return Tensor(storage_, shape_);
}

void Tensor::backward() const {
  autograd::backward(*this, Tensor(), false);
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  autograd::backward(*this, grad, retain_graph);
}

const std::shared_ptr<autograd::Meta>& Tensor::autograd_meta() const {
  return meta_;
}

Tensor& Tensor::fill_(float value) {
  std::fill_n(data(), numel_, value);
  return *this;
}

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  // Print the last dimension as rows; summarise beyond 6 items per dimension.
  constexpr int64_t kEdge = 3;
  const Shape st = strides();
  auto print = [&](auto&& self, int64_t d, int64_t offset, int indent) -> void {
    if (d == dim()) {
      os << fmt::format("{:.4g}", storage_[offset]);
      return;
    }
    os << '[';
    const int64_t n = shape_[d];
    for (int64_t i = 0; i < n; ++i) {
      if (n > 2 * kEdge && i == kEdge) {
        os << (d + 1 == dim() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
        i = n - kEdge;
      }
      self(self, d + 1, offset + i * st[d], indent + 1);
      if (i + 1 < n) os << (d + 1 == dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
    }
    os << ']';
  };
  os << "tensor(";
  print(print, 0, 0, 7);
  os << ", shape=" << shape_str(shape_) << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  return os << t.to_string();
}

bool allclose(const Tensor& a, const Tensor& b, float rtol, float atol) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data()[i], y = b.data()[i];
    if (!(std::fabs(x - y) <= atol + rtol * std::fabs(y))) return false;
  }
  return true;
}

}  // namespace fovea
