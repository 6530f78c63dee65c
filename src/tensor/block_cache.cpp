#include "tensor/block_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fovea/error.h"

namespace fovea::detail {
namespace {

constexpr size_t kAlignment = 64;

// Free blocks by size, plus their order of arrival so the oldest leave first when full.
class BlockCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard lock(mutex_);
    auto it = by_size_.find(bytes);
    if (it == by_size_.end() || it->second.empty()) return nullptr;
    const auto entry = it->second.back();
    it->second.pop_back();
    void* block = entry->second;
    order_.erase(entry);
    held_ -= bytes;
    return block;
  }

  void give(void* block, size_t bytes) {
    std::lock_guard lock(mutex_);
    while (held_ + bytes > kMaxCachedBytes && !order_.empty()) {
      auto& [old_bytes, old_block] = order_.front();
      auto& same = by_size_[old_bytes];
      std::erase(same, order_.begin());
      std::free(old_block);
      held_ -= old_bytes;
      order_.pop_front();
    }
    if (held_ + bytes > kMaxCachedBytes) {
      std::free(block);
      return;
    }
    order_.emplace_back(bytes, block);
    by_size_[bytes].push_back(std::prev(order_.end()));
    held_ += bytes;
  }

  size_t held() {
    std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  using Order = std::list<std::pair<size_t, void*>>;
  std::mutex mutex_;
  Order order_;
  std::unordered_map<size_t, std::vector<Order::iterator>> by_size_;
  size_t held_ = 0;
};

BlockCache& cache() {
  static BlockCache* c = new BlockCache;  // never destroyed: tensors may die after main
  return *c;
}

}  // namespace

std::shared_ptr<float[]> allocate_block(size_t bytes) {
  bytes = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  if (bytes < kMinCachedBytes) {
    auto* p = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
    if (p == nullptr) throw Error(fmt::format("tensor: could not allocate {} bytes", bytes));
    return std::shared_ptr<float[]>(p, [](float* q) { std::free(q); });
  }
  void* block = cache().take(bytes);
  if (block == nullptr) block = std::aligned_alloc(kAlignment, bytes);
  if (block == nullptr) throw Error(fmt::format("tensor: could not allocate {} bytes", bytes));
  return std::shared_ptr<float[]>(static_cast<float*>(block),
                                  [bytes](float* q) { cache().give(q, bytes); });
}

size_t cached_block_bytes() {
  return cache().held();
}

}  // namespace fovea::detail
