#include "ops/checks.h"

#include <fmt/format.h>

#include "fovea/error.h"

namespace fovea::ops {

void check_defined(std::string_view op, std::string_view arg, const Tensor& t) {
  if (!t.defined()) throw ValueError(fmt::format("{}: {} is undefined", op, arg));
}

}  // namespace fovea::ops
