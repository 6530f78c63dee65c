// Tensor: a contiguous, row-major float32 array of rank 0 to 5 with shared storage.
//
// Copying a Tensor shares its data (like PyTorch); clone() copies. Storage is 64-byte
// aligned so kernels can use aligned vector loads. Layouts follow PyTorch: N×C×L,
// N×C×H×W, N×C×D×H×W for activations; Cout×Cin/groups×K... for convolution weights.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace fovea {

using Shape = std::vector<int64_t>;

inline constexpr int64_t kMaxRank = 5;

// "[2, 3, 4]": how shapes appear in error messages.
std::string shape_str(std::span<const int64_t> shape);
int64_t shape_numel(std::span<const int64_t> shape);

class Generator;
namespace autograd {
struct Meta;
class Node;
}  // namespace autograd

class Tensor {
 public:
  Tensor() = default;  // undefined: holds no storage; defined() is false

  // Uninitialised storage of the given shape (NaN-filled in debug-style tests is the
  // caller's business). Throws ShapeError for rank > 5 or negative sizes.
  static Tensor empty(Shape shape);
  static Tensor zeros(Shape shape);
  static Tensor ones(Shape shape);
  static Tensor full(Shape shape, float value);
  // 0, 1, ..., n-1 as a rank-1 tensor; or start, start+step, ... below end.
  static Tensor arange(int64_t n);
  static Tensor arange(float start, float end, float step = 1.0f);
  // Copies `values` (their count must equal the shape's element count).
  static Tensor from_vector(Shape shape, std::span<const float> values);
  // Uniform in [lo, hi) and standard normal, from the given generator (or the global one).
  static Tensor rand(Shape shape, float lo = 0.0f, float hi = 1.0f, Generator* gen = nullptr);
  static Tensor randn(Shape shape, Generator* gen = nullptr);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  // Size of dimension d; negative d counts from the end, as in PyTorch.
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_; }
  // Row-major strides in elements.
  Shape strides() const;

  float* data() { return storage_.get(); }
  const float* data() const { return storage_.get(); }
  std::span<float> span() & { return {data(), static_cast<size_t>(numel_)}; }
  std::span<const float> span() const& { return {data(), static_cast<size_t>(numel_)}; }
  // A temporary's span would outlive its storage (`for (float v : f(x).span())`): refused at
  // compile time; name the tensor first.
  void span() && = delete;

  // Element access with bounds checks, for tests and small programs (not hot loops).
  float& at(std::span<const int64_t> index);
  float at(std::span<const int64_t> index) const;
  template <class... I>
  float& operator()(I... index) {
    const int64_t idx[] = {static_cast<int64_t>(index)...};
    return at(idx);
  }
  template <class... I>
  float operator()(I... index) const {
    const int64_t idx[] = {static_cast<int64_t>(index)...};
    return at(idx);
  }

  // Same data, new shape; one size may be -1 (inferred). Shares storage. Differentiable.
  Tensor reshape(Shape shape) const;
  // A copy of the data. Differentiable (the gradient passes through).
  Tensor clone() const;
  // In-place fill; not recorded by autograd (like PyTorch's in-place ops on leaves in no-grad).
  Tensor& fill_(float value);
  // True when both share the same storage.
  bool is_same(const Tensor& other) const { return storage_ == other.storage_; }
  // True when no other handle (copy, view or detached alias) shares this one's storage:
  // autograd then takes a gradient over instead of copying it.
  bool sole_owner() const { return storage_.use_count() == 1; }

  // --- autograd (see fovea/autograd.h) ---
  // Marks a leaf tensor as a parameter whose gradient backward() accumulates in grad().
  Tensor& requires_grad_(bool on = true);
  // True for leaves marked with requires_grad_ and for results of recorded operations.
  bool requires_grad() const;
  // The accumulated gradient (undefined until a backward pass reaches this leaf).
  Tensor grad() const;
  void set_grad(const Tensor& grad);
  // The node that produced this tensor, or null for leaves.
  std::shared_ptr<autograd::Node> grad_fn() const;
  bool is_leaf() const { return grad_fn() == nullptr; }
  // Same storage, cut from the graph: no grad_fn, does not require grad.
  Tensor detach() const;
  // Backpropagates from this tensor. `grad` defaults to 1 for a one-element tensor; other
  // shapes need it given. retain_graph keeps saved tensors for another backward pass.
  void backward() const;
  void backward(const Tensor& grad, bool retain_graph = false) const;
  // The autograd state shared by every handle to this tensor (created on first use).
  const std::shared_ptr<autograd::Meta>& autograd_meta() const;

  // Multi-line, PyTorch-like printing; long tensors are summarised.
  std::string to_string() const;

 private:
  Tensor(std::shared_ptr<float[]> storage, Shape shape);

  std::shared_ptr<float[]> storage_;
  Shape shape_;
  int64_t numel_ = 0;
  // Created with the storage and shared by every copy of this handle, so a parameter's
  // gradient is seen by all of them.
  std::shared_ptr<autograd::Meta> meta_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Largest |a-b| / (atol + rtol*|b|) over all elements is <= 1; shapes must be equal.
bool allclose(const Tensor& a, const Tensor& b, float rtol = 1e-5f, float atol = 1e-8f);

}  // namespace fovea
