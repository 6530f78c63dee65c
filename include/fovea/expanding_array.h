// ExpandingArray<D>: D integers given either as one value for every axis or one per axis,
// so options read like PyTorch's: {.stride = 2} or {.stride = {2, 1}}.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>

namespace fovea {

template <int D>
class ExpandingArray {
 public:
  ExpandingArray(int64_t all) { values_.fill(all); }  // NOLINT: implicit by design
  template <std::integral... I>
  requires(sizeof...(I) == D && D > 1) ExpandingArray(I... each)
      : values_{static_cast<int64_t>(each)...} {}                        // NOLINT
  ExpandingArray(const std::array<int64_t, D>& each) : values_(each) {}  // NOLINT

  int64_t operator[](size_t i) const { return values_[i]; }
  const std::array<int64_t, D>& values() const { return values_; }
  static constexpr int size() { return D; }

 private:
  std::array<int64_t, D> values_;
};

}  // namespace fovea
