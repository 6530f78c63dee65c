#include "fovea/analysis/summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>

#include "analysis/report_format.h"
#include "fovea/autograd.h"
#include "fovea/conv_arithmetic.h"
#include "fovea/error.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/pool.h"
#include "kernels/rounding.h"

namespace fovea::analysis {
namespace {

namespace F = functional;
using kernels::ceil_div;

// --- receptive-field rules beyond propagate(), one axis at a time (docs/analysis.md) ---

// The whole map of n units seen as one unit: a pool with k = s = n.
AxisRf whole_axis(const AxisRf& rf, int64_t n) {
  return propagate(rf, {.k = n, .s = n});
}

// Per axis, the field with the larger size, with its jump and start: the rule for merges.
ReceptiveField widest(ReceptiveField a, const ReceptiveField& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (b[i].size > a[i].size) a[i] = b[i];
  return a;
}

// Resampling n_in units to n_out (upsampling, unpooling): output o is centred on input
// coordinate (o + 0.5)·n_in/n_out − 0.5 (the half-pixel mapping) and reads `taps` neighbouring
// inputs along the axis (1 nearest, 2 linear, 4 cubic).
AxisRf resample_axis(const AxisRf& rf, int64_t n_in, int64_t n_out, int64_t taps) {
  const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
  return {.size = rf.size + static_cast<double>(taps - 1) * rf.jump,
          .jump = rf.jump * scale,
          .start = rf.start + (0.5 * scale - 0.5) * rf.jump};
}

// Adaptive pooling: window i covers [floor(i·n_in/n_out), ceil((i+1)·n_in/n_out)). Divisible
// sizes make a plain pool (k = s = n_in/n_out); otherwise windows differ in width, so the size
// is the widest window's, the jump n_in/n_out and the start window 0's centre.
AxisRf adaptive_axis(const AxisRf& rf, int64_t n_in, int64_t n_out) {
  if (n_in % n_out == 0) return propagate(rf, {.k = n_in / n_out, .s = n_in / n_out});
  int64_t widest_window = 0;
  for (int64_t i = 0; i < n_out; ++i)
    widest_window = std::max(widest_window, ceil_div((i + 1) * n_in, n_out) - i * n_in / n_out);
  return {.size = rf.size + static_cast<double>(widest_window - 1) * rf.jump,
          .jump = rf.jump * static_cast<double>(n_in) / static_cast<double>(n_out),
          .start = rf.start + static_cast<double>(ceil_div(n_in, n_out) - 1) / 2 * rf.jump};
}

// A transposed convolution, the adjoint of a convolution with geometry l: output o sums the
// inputs i = (o + p − t·d)/s over the taps t for which that is an integer. Those taps step by
// s/g (g = gcd(s, d)), so o reads at most ceil(k·g/s) inputs spaced d/g apart, centred on
// (o + p − d(k−1)/2)/s.
AxisRf transposed_axis(const AxisRf& rf, const RfLayer& l) {
  const int64_t g = std::gcd(l.s, l.d);
  const int64_t span = (ceil_div(l.k * g, l.s) - 1) * (l.d / g);
  const double s = static_cast<double>(l.s);
  return {
      .size = rf.size + static_cast<double>(span) * rf.jump,
      .jump = rf.jump / s,
      .start = rf.start +
               (static_cast<double>(l.p) - static_cast<double>(l.d * (l.k - 1)) / 2) / s * rf.jump};
}

// The geometry of a window op seen without its options (a functional call outside any
// module; modules replace it with their exact options): stride n_in/n_out rounded, a pooling
// kernel (k = 0) as wide as its stride, dilation 1, and the least padding giving n_out, half
// of it before the axis.
RfLayer inferred_window(int64_t n_in, int64_t n_out, int64_t k) {
  const int64_t s =
      std::max<int64_t>(1, std::llround(static_cast<double>(n_in) / static_cast<double>(n_out)));
  if (k == 0) k = s;
  return {.k = k, .s = s, .p = std::max<int64_t>(0, (n_out - 1) * s + k - n_in) / 2};
}

// The same for a transposed convolution, n_out = (n_in − 1)·s − 2p + k.
RfLayer inferred_transposed(int64_t n_in, int64_t n_out, int64_t k) {
  const int64_t s =
      std::max<int64_t>(1, std::llround(static_cast<double>(n_out) / static_cast<double>(n_in)));
  return {.k = k, .s = s, .p = std::max<int64_t>(0, (n_in - 1) * s + k - n_out) / 2};
}

int64_t interpolation_taps(F::InterpolateMode mode) {
  switch (mode) {
    case F::InterpolateMode::kNearest:
    case F::InterpolateMode::kNearestExact:
      return 1;
    case F::InterpolateMode::kBicubic:
      return 4;
    default:
      return 2;
  }
}

// The output field of a module whose options fix its geometry, from its input's field.
template <int D>
std::optional<ReceptiveField> module_rf_nd(const nn::Module& m, const ReceptiveField& in,
                                           const Tensor& x, const Tensor& y) {
  auto per_axis = [&](auto&& axis_rf) {
    ReceptiveField rf(D);
    for (int a = 0; a < D; ++a) rf[a] = axis_rf(a, x.size(2 + a), y.size(2 + a));
    return rf;
  };
  if (const auto* conv = dynamic_cast<const nn::ConvNd<D>*>(&m)) {
    const auto& o = conv->options();
    return per_axis([&](int a, int64_t, int64_t) {
      const int64_t k = o.kernel_size[a], s = o.stride[a], d = o.dilation[a];
      const PadAmount pad =
          resolve_padding(o.padding.mode(), o.padding.lo()[a], o.padding.hi()[a], k, d, s);
      return propagate(in[a], {.k = k, .s = s, .p = pad.lo, .d = d});
    });
  }
  if (const auto* conv = dynamic_cast<const nn::ConvTransposeNd<D>*>(&m)) {
    const auto& o = conv->options();
    return per_axis([&](int a, int64_t, int64_t) {
      return transposed_axis(
          in[a], {.k = o.kernel_size[a], .s = o.stride[a], .p = o.padding[a], .d = o.dilation[a]});
    });
  }
  if (const auto* pool = dynamic_cast<const nn::MaxPool<D>*>(&m)) {
    const auto& o = pool->options();
    return per_axis([&](int a, int64_t, int64_t) {
      return propagate(
          in[a], {.k = o.kernel_size[a], .s = o.stride[a], .p = o.padding[a], .d = o.dilation[a]});
    });
  }
  if (const auto* pool = dynamic_cast<const nn::AvgPool<D>*>(&m)) {
    const auto& o = pool->options();
    return per_axis([&](int a, int64_t, int64_t) {
      return propagate(in[a], {.k = o.kernel_size[a], .s = o.stride[a], .p = o.padding[a]});
    });
  }
  if constexpr (D < 3) {  // Lp pooling exists in 1 and 2 dimensions
    if (const auto* pool = dynamic_cast<const nn::LPPool<D>*>(&m)) {
      const auto& o = pool->options();
      return per_axis([&](int a, int64_t, int64_t) {
        return propagate(in[a], {.k = o.kernel_size[a], .s = o.stride[a]});
      });
    }
  }
  if (const auto* up = dynamic_cast<const nn::Upsample<D>*>(&m)) {
    const int64_t taps = interpolation_taps(up->options().mode);
    return per_axis([&](int a, int64_t n_in, int64_t n_out) {
      return resample_axis(in[a], n_in, n_out, taps);
    });
  }
  return std::nullopt;
}

std::optional<ReceptiveField> module_rf(const nn::Module& m, const ReceptiveField& in,
                                        const Tensor& x, const Tensor& y) {
  switch (in.size()) {
    case 1:
      return module_rf_nd<1>(m, in, x, y);
    case 2:
      return module_rf_nd<2>(m, in, x, y);
    case 3:
      return module_rf_nd<3>(m, in, x, y);
    default:
      return std::nullopt;
  }
}

bool is_conv(const std::string& op) {
  return op == "conv1d" || op == "conv2d" || op == "conv3d";
}

// Multiply-adds of one op at batch size 1.
int64_t op_macs(const std::string& op, const std::vector<Tensor>& in, const Tensor& out) {
  auto per_unit = [](const Tensor& w) { return w.numel() / w.size(0); };
  if (is_conv(op)) return out.numel() * per_unit(in[1]);  // w (C_out, C_in/g, *k)
  if (op.starts_with("conv_transpose")) return in[0].numel() * per_unit(in[1]);  // (C_in, ...)
  if (op == "linear") return out.numel() * in[1].size(1);                        // w (out, in)
  return 0;
}

// Follows receptive fields through one forward pass and writes the rows.
class Tracer {
 public:
  Tracer(const nn::Module& model, const Tensor& input) : spatial_(input.dim() - 2) {
    // A module registered under two names keeps its first.
    for (auto& [name, m] : model.named_modules())
      if (m != &model) names_.emplace(m, std::move(name));
    fields_[input.autograd_meta()] = ReceptiveField(spatial_);
  }

  void observe(const std::string& op, const std::vector<Tensor>& inputs, const Tensor& output) {
    const int64_t macs = op_macs(op, inputs, output);
    total_macs_ += macs;
    pending_macs_ += macs;
    if (auto rf = op_rf(op, inputs, output)) fields_[output.autograd_meta()] = std::move(*rf);
  }

  void hook(const nn::Module& m, const Tensor& input, const Tensor& output) {
    if (!m.named_children().empty()) return;  // containers: their leaves have the rows
    const ReceptiveField* in = find(input);
    if (in && spatial(input) && spatial(output))
      if (auto rf = module_rf(m, *in, input, output)) fields_[output.autograd_meta()] = *rf;
    const auto named = names_.find(&m);  // the root, or a module made inside a forward()
    LayerSummary row{.name = named == names_.end() ? m.type_name() : named->second,
                     .type = m.type_name()};
    row.output_shape.assign(output.shape().begin() + 1, output.shape().end());
    for (const Tensor& p : m.parameters(false)) row.params += p.numel();
    row.macs = std::exchange(pending_macs_, 0);
    const ReceptiveField* out = find(output);
    row.rf = out ? *out : in ? *in : ReceptiveField(spatial_);
    rows_.push_back(std::move(row));
  }

  std::vector<LayerSummary>& rows() { return rows_; }
  int64_t total_macs() const { return total_macs_; }

 private:
  const ReceptiveField* find(const Tensor& t) const {
    if (!t.defined()) return nullptr;
    const auto it = fields_.find(t.autograd_meta());
    return it == fields_.end() ? nullptr : &it->second;
  }
  // Batched with every spatial axis of the input: (1, C, *spatial).
  bool spatial(const Tensor& t) const { return t.dim() == 2 + spatial_; }
  std::span<const int64_t> spatial_sizes(const Tensor& t) const {
    return std::span(t.shape()).subspan(2);
  }

  ReceptiveField whole_map(const Tensor& t, const ReceptiveField& rf) const {
    if (!spatial(t)) return rf;  // already one unit
    ReceptiveField out(spatial_);
    for (int a = 0; a < spatial_; ++a) out[a] = whole_axis(rf[a], t.size(2 + a));
    return out;
  }

  std::optional<ReceptiveField> op_rf(const std::string& op, const std::vector<Tensor>& inputs,
                                      const Tensor& output) const {
    std::vector<std::pair<const Tensor*, const ReceptiveField*>> known;
    for (const Tensor& t : inputs)
      if (const ReceptiveField* rf = find(t)) known.emplace_back(&t, rf);
    if (known.empty()) return std::nullopt;  // parameters, constants
    auto union_of_maps = [&] {
      ReceptiveField u = whole_map(*known[0].first, *known[0].second);
      for (size_t i = 1; i < known.size(); ++i)
        u = widest(u, whole_map(*known[i].first, *known[i].second));
      return u;
    };
    // Spatial axes gone (flatten, linear, global pooling to (N, C)): each unit sees the map.
    if (!spatial(output)) return union_of_maps();
    const ReceptiveField* x = find(inputs[0]);
    if (x && spatial(inputs[0]))
      if (auto rf = geometry_rf(op, inputs, *x, output)) return rf;
    // Pointwise ops and merges: inputs laid on the output's grid; broadcast inputs (gates,
    // scalars) are constant along the map and do not count.
    std::optional<ReceptiveField> merged;
    for (const auto& [t, rf] : known)
      if (spatial(*t) && std::ranges::equal(spatial_sizes(*t), spatial_sizes(output)))
        merged = merged ? widest(*merged, *rf) : *rf;
    if (merged) return merged;
    return union_of_maps();  // an op we cannot follow (a reshape across spatial axes...)
  }

  // Ops that change the grid, from their shapes (see inferred_window).
  std::optional<ReceptiveField> geometry_rf(const std::string& op, const std::vector<Tensor>& in,
                                            const ReceptiveField& x, const Tensor& y) const {
    const bool window = is_conv(op) || op.starts_with("max_pool") || op.starts_with("avg_pool") ||
                        op.starts_with("lp_pool");
    const bool transposed = op.starts_with("conv_transpose");
    const bool adaptive = op.starts_with("adaptive_") || op.starts_with("global_");
    const bool resample = op == "interpolate" || op.starts_with("max_unpool");
    if (!window && !transposed && !adaptive && !resample && op != "pad") return std::nullopt;
    ReceptiveField rf(spatial_);
    for (int a = 0; a < spatial_; ++a) {
      const int64_t n_in = in[0].size(2 + a), n_out = y.size(2 + a);
      const int64_t k = is_conv(op) || transposed ? in[1].size(2 + a) : 0;
      if (window)
        rf[a] = propagate(x[a], inferred_window(n_in, n_out, k));
      else if (transposed)
        rf[a] = transposed_axis(x[a], inferred_transposed(n_in, n_out, k));
      else if (adaptive)
        rf[a] = adaptive_axis(x[a], n_in, n_out);
      else if (resample)
        rf[a] = resample_axis(x[a], n_in, n_out, 1);
      else  // pad: the new units come half before, half after
        rf[a] = {x[a].size, x[a].jump,
                 x[a].start - static_cast<double>((n_out - n_in) / 2) * x[a].jump};
    }
    return rf;
  }

  int spatial_;
  std::unordered_map<std::shared_ptr<autograd::Meta>, ReceptiveField> fields_;
  std::unordered_map<const nn::Module*, std::string> names_;
  std::vector<LayerSummary> rows_;
  int64_t total_macs_ = 0, pending_macs_ = 0;
};

// Puts a model in eval mode and restores every module's own training flag afterwards (even
// mixed ones, like a frozen batch norm in a training model).
class EvalModeGuard {
 public:
  explicit EvalModeGuard(nn::Module& model) {
    for (const auto& [name, m] : model.named_modules()) flags_.emplace_back(m, m->is_training());
    model.eval();
  }
  // train() recurses, so parents first (named_modules() order), then each child over them.
  ~EvalModeGuard() {
    for (const auto& [m, training] : flags_) m->train(training);
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  std::vector<std::pair<nn::Module*, bool>> flags_;
};

// A value per axis when the axes differ, else one number.
nlohmann::ordered_json rf_value(const ReceptiveField& rf, double AxisRf::*field) {
  nlohmann::ordered_json values = nlohmann::ordered_json::array();
  for (const AxisRf& a : rf) values.push_back(json_number(a.*field));
  const bool same =
      std::ranges::all_of(rf, [&](const AxisRf& a) { return a.*field == rf[0].*field; });
  return same && !rf.empty() ? values[0] : values;
}

std::string rf_text(const ReceptiveField& rf, double AxisRf::*field) {
  std::vector<std::string> parts;
  for (const AxisRf& a : rf) parts.push_back(format_number(a.*field));
  if (std::ranges::all_of(parts, [&](const std::string& p) { return p == parts[0]; }))
    parts.resize(std::min<size_t>(parts.size(), 1));
  return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, "x"));
}

// 37.4 KiB, 109.4 MiB.
std::string binary_size(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.1f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  return fmt::format("{:.1f} KiB", b / 1024);
}

std::string shape_text(const Shape& s) {
  return fmt::format("{}", fmt::join(s, "x"));
}

}  // namespace

Summary summarize(nn::Module& model, const Shape& input_shape, const std::string& model_name) {
  if (input_shape.empty() || input_shape.size() > 4 ||
      std::ranges::any_of(input_shape, [](int64_t n) { return n < 1; }))
    throw ValueError(
        fmt::format("summary: input shape expects C, CxL, CxHxW or CxDxHxW with sizes >= 1, got {}",
                    shape_str(input_shape)));
  Shape batched = input_shape;
  batched.insert(batched.begin(), 1);
  const Tensor x = Tensor::zeros(batched);
  Tracer tracer(model, x);
  {
    EvalModeGuard eval(model);
    autograd::NoGradGuard no_grad;
    autograd::OpObserverGuard observe([&](const std::string& op, const std::vector<Tensor>& in,
                                          const Tensor& out) { tracer.observe(op, in, out); });
    nn::ForwardHookGuard hook(
        [&](const nn::Module& m, const Tensor& in, const Tensor& out) { tracer.hook(m, in, out); });
    auto where = [&] {
      return tracer.rows().empty() ? std::string("before its first layer completed")
                                   : fmt::format("after layer '{}' ({})", tracer.rows().back().name,
                                                 tracer.rows().back().type);
    };
    try {
      model(x);
    } catch (const ShapeError& e) {
      throw ShapeError(fmt::format("summary: the forward pass failed {}: {}", where(), e.what()));
    } catch (const ValueError& e) {
      throw ValueError(fmt::format("summary: the forward pass failed {}: {}", where(), e.what()));
    }
  }
  Summary s{.model = model_name, .input = input_shape, .layers = std::move(tracer.rows())};
  s.total_macs = tracer.total_macs();
  for (const Tensor& p : model.parameters()) {
    s.total_params += p.numel();
    if (p.requires_grad()) s.trainable_params += p.numel();
  }
  for (const LayerSummary& l : s.layers)
    s.activation_bytes += shape_numel(l.output_shape) * static_cast<int64_t>(sizeof(float));
  return s;
}

std::string summary_json(const Summary& s) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerSummary& l : s.layers)
    layers.push_back({{"name", l.name},
                      {"type", l.type},
                      {"output_shape", l.output_shape},
                      {"params", l.params},
                      {"macs", l.macs},
                      {"rf",
                       {{"size", rf_value(l.rf, &AxisRf::size)},
                        {"jump", rf_value(l.rf, &AxisRf::jump)},
                        {"start", rf_value(l.rf, &AxisRf::start)}}}});
  return nlohmann::ordered_json{{"model", s.model},
                                {"input", s.input},
                                {"layers", layers},
                                {"total_params", s.total_params},
                                {"trainable_params", s.trainable_params},
                                {"total_macs", s.total_macs},
                                {"activation_bytes", s.activation_bytes}}
      .dump();
}

std::string format_summary(const Summary& s) {
  size_t name_width = 4, type_width = 4;
  for (const LayerSummary& l : s.layers) {
    name_width = std::max(name_width, l.name.size());
    type_width = std::max(type_width, l.type.size());
  }
  std::string out = fmt::format("{}: input {}\n\n", s.model, shape_text(s.input));
  out += fmt::format("{:<{}}  {:<{}}  {:>14}  {:>11}  {:>15}  {:>7}  {:>5}  {:>7}\n", "name",
                     name_width, "type", type_width, "output shape", "params", "MACs", "r", "j",
                     "start");
  for (const LayerSummary& l : s.layers)
    out += fmt::format("{:<{}}  {:<{}}  {:>14}  {:>11}  {:>15}  {:>7}  {:>5}  {:>7}\n", l.name,
                       name_width, l.type, type_width, shape_text(l.output_shape),
                       with_commas(l.params), with_commas(l.macs), rf_text(l.rf, &AxisRf::size),
                       rf_text(l.rf, &AxisRf::jump), rf_text(l.rf, &AxisRf::start));
  out += fmt::format(
      "\ntotal params      {}\ntrainable params  {}\ntotal MACs        {}\nactivations       "
      "{} bytes ({}) for one example\n",
      with_commas(s.total_params), with_commas(s.trainable_params), with_commas(s.total_macs),
      with_commas(s.activation_bytes), binary_size(s.activation_bytes));
  return out;
}

}  // namespace fovea::analysis
