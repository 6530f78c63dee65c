#include "fovea/analysis/receptive_field.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "analysis/report_format.h"
#include "fovea/error.h"

namespace fovea::analysis {
namespace {

std::string describe(const RfLayer& l) {
  return fmt::format("k={},s={},p={},d={}", l.k, l.s, l.p, l.d);
}

}  // namespace

AxisRf propagate(const AxisRf& in, const RfLayer& layer) {
  const double k_eff = static_cast<double>(layer.d * (layer.k - 1) + 1);
  return {.size = in.size + (k_eff - 1) * in.jump,
          .jump = in.jump * static_cast<double>(layer.s),
          .start = in.start + ((k_eff - 1) / 2 - static_cast<double>(layer.p)) * in.jump};
}

std::vector<RfStep> receptive_field(int64_t n, const std::vector<RfLayer>& layers) {
  if (n < 1) throw ValueError(fmt::format("rf: input expects a size >= 1, got {}", n));
  std::vector<RfStep> steps{{.layer = {}, .n = n, .rf = {}}};
  for (size_t i = 0; i < layers.size(); ++i) {
    const RfLayer& l = layers[i];
    const RfStep& prev = steps.back();
    auto fail = [&](const std::string& what) {
      throw ValueError(fmt::format("rf: layer {} ({}) {}", i + 1, describe(l), what));
    };
    if (l.k < 1 || l.s < 1 || l.d < 1)
      fail(fmt::format("expects k, s and d >= 1, got k={}, s={}, d={}", l.k, l.s, l.d));
    if (l.p < 0) fail(fmt::format("expects p >= 0, got {}", l.p));
    const int64_t k_eff = l.d * (l.k - 1) + 1;
    const int64_t span = prev.n + 2 * l.p - k_eff;
    if (span < 0)
      fail(fmt::format(
          "does not fit: its effective kernel {} exceeds the padded input {} + 2·{} = {}, so "
          "the output would have no positions",
          k_eff, prev.n, l.p, prev.n + 2 * l.p));
    steps.push_back({.layer = l, .n = span / l.s + 1, .rf = propagate(prev.rf, l)});
  }
  return steps;
}

std::string rf_json(const std::vector<RfStep>& steps) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const RfStep& s : steps)
    layers.push_back({{"k", s.layer.k},
                      {"s", s.layer.s},
                      {"p", s.layer.p},
                      {"d", s.layer.d},
                      {"n", s.n},
                      {"j", json_number(s.rf.jump)},
                      {"r", json_number(s.rf.size)},
                      {"start", json_number(s.rf.start)}});
  return nlohmann::ordered_json{{"layers", layers}}.dump();
}

std::string format_rf(const std::vector<RfStep>& steps) {
  std::string out = fmt::format("{:>5}  {:>3} {:>3} {:>3} {:>3}  {:>6} {:>6} {:>6} {:>7}\n",
                                "layer", "k", "s", "p", "d", "n", "j", "r", "start");
  for (size_t i = 0; i < steps.size(); ++i) {
    const RfStep& s = steps[i];
    const std::string geometry =
        i == 0 ? fmt::format("{:>15}", "input")
               : fmt::format("{:>3} {:>3} {:>3} {:>3}", s.layer.k, s.layer.s, s.layer.p, s.layer.d);
    out +=
        fmt::format("{:>5}  {}  {:>6} {:>6} {:>6} {:>7}\n", i, geometry, s.n,
                    format_number(s.rf.jump), format_number(s.rf.size), format_number(s.rf.start));
  }
  return out;
}

}  // namespace fovea::analysis
