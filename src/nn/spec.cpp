#include "fovea/nn/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <vector>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/conv.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/norm.h"
#include "fovea/nn/pool.h"

namespace fovea::nn {
namespace {

namespace F = functional;

const std::map<std::string, std::string>& zoo_specs() {
  static const std::map<std::string, std::string> specs = {
      {"fmnist-cnn",
       "conv(32,3,pad=1) bn relu maxpool(2) conv(64,3,pad=1) bn relu maxpool(2) flatten "
       "linear(128) relu dropout(0.3) linear(10)"},
      // LeCun et al. 1998: 5x5 convolutions, average-pool subsampling, tanh, 120-84-10.
      // The 28x28 inputs of MNIST are padded to the paper's 32x32 by the first convolution.
      {"lenet5",
       "conv(6,5,pad=2) tanh avgpool(2) conv(16,5) tanh avgpool(2) flatten linear(120) tanh "
       "linear(84) tanh linear(10)"},
  };
  return specs;
}

// One layer token: name(args...) with its column in the spec string.
struct Token {
  std::string text, name;
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;
  size_t column = 0;
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<Token> tokenize(const std::string& spec) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < spec.size()) {
    if (std::isspace(static_cast<unsigned char>(spec[i]))) {
      ++i;
      continue;
    }
    // A token runs to the next whitespace outside parentheses.
    const size_t start = i;
    int depth = 0;
    while (i < spec.size() && (depth > 0 || !std::isspace(static_cast<unsigned char>(spec[i])))) {
      if (spec[i] == '(') ++depth;
      if (spec[i] == ')') --depth;
      if (depth < 0) throw ValueError(fmt::format("spec: unbalanced ')' at column {}", i + 1));
      ++i;
    }
    if (depth != 0)
      throw ValueError(fmt::format("spec: '(' at column {} is never closed", start + 1));
    Token t;
    t.text = spec.substr(start, i - start);
    t.column = start + 1;
    const size_t open = t.text.find('(');
    t.name = t.text.substr(0, open);
    if (open != std::string::npos) {
      if (t.text.back() != ')')
        throw ValueError(
            fmt::format("spec: layer '{}' at column {} has text after its ')'", t.text, t.column));
      const std::string inner = t.text.substr(open + 1, t.text.size() - open - 2);
      size_t pos = 0;
      while (pos <= inner.size() && !trim(inner).empty()) {
        const size_t comma = inner.find(',', pos);
        const std::string arg =
            trim(inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
        if (arg.empty())
          throw ValueError(
              fmt::format("spec: layer '{}' at column {} has an empty argument", t.text, t.column));
        const size_t eq = arg.find('=');
        if (eq == std::string::npos) {
          if (!t.named.empty())
            throw ValueError(fmt::format(
                "spec: layer '{}' at column {}: positional argument '{}' after a named one", t.text,
                t.column, arg));
          t.positional.push_back(arg);
        } else {
          t.named[trim(arg.substr(0, eq))] = trim(arg.substr(eq + 1));
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

// Reads a layer's arguments by position or name, with defaults, and checks none are left over.
class Args {
 public:
  Args(const Token& t, std::vector<std::string> names) : t_(t), names_(std::move(names)) {
    if (t.positional.size() > names_.size())
      fail(fmt::format("takes at most {} positional arguments ({}), got {}", names_.size(),
                       fmt::join(names_, ", "), t.positional.size()));
    for (const auto& [key, value] : t.named)
      if (std::ranges::find(names_, key) == names_.end())
        fail(fmt::format("has no argument '{}' (it takes {})", key, fmt::join(names_, ", ")));
  }

  std::optional<std::string> raw(const std::string& name) const {
    const auto idx = static_cast<size_t>(std::ranges::find(names_, name) - names_.begin());
    if (idx < t_.positional.size()) return t_.positional[idx];
    auto it = t_.named.find(name);
    if (it != t_.named.end()) return it->second;
    return std::nullopt;
  }

  int64_t integer(const std::string& name, std::optional<int64_t> fallback = std::nullopt) const {
    const auto r = raw(name);
    if (!r) {
      if (!fallback) fail(fmt::format("needs argument '{}'", name));
      return *fallback;
    }
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(r->data(), r->data() + r->size(), v);
    if (ec != std::errc() || end != r->data() + r->size())
      fail(fmt::format("argument '{}' expects an integer, got '{}'", name, *r));
    return v;
  }

  double real(const std::string& name, std::optional<double> fallback = std::nullopt) const {
    const auto r = raw(name);
    if (!r) {
      if (!fallback) fail(fmt::format("needs argument '{}'", name));
      return *fallback;
    }
    try {
      size_t used = 0;
      const double v = std::stod(*r, &used);
      if (used == r->size()) return v;
    } catch (const std::exception&) {
    }
    fail(fmt::format("argument '{}' expects a number, got '{}'", name, *r));
  }

  bool boolean(const std::string& name, bool fallback) const {
    const auto r = raw(name);
    if (!r) return fallback;
    if (*r == "true" || *r == "1") return true;
    if (*r == "false" || *r == "0") return false;
    fail(fmt::format("argument '{}' expects true or false, got '{}'", name, *r));
  }

  std::string word(const std::string& name, const std::string& fallback) const {
    return raw(name).value_or(fallback);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw ValueError(fmt::format("'{}' at column {} {}", t_.text, t_.column, what));
  }

 private:
  const Token& t_;
  std::vector<std::string> names_;
};

template <int D>
Padding<D> conv_padding(const Args& a, const std::string& fallback) {
  const std::string p = a.word("pad", fallback);
  if (p == "same") return Same{};
  if (p == "valid") return Valid{};
  if (p == "full") return Full{};
  return Padding<D>(a.raw("pad") ? a.integer("pad") : std::stoll(fallback));
}

int spatial_rank(const Shape& shape) {
  return static_cast<int>(shape.size()) - 1;
}

template <int D>
std::shared_ptr<Module> make_conv(const Args& a, int64_t channels, const std::string& default_pad,
                                  int64_t groups, int64_t out) {
  return std::make_shared<ConvNd<D>>(ConvOptions<D>{.in_channels = channels,
                                                    .out_channels = out,
                                                    .kernel_size = a.integer("k"),
                                                    .stride = a.integer("stride", 1),
                                                    .padding = conv_padding<D>(a, default_pad),
                                                    .dilation = a.integer("dilation", 1),
                                                    .groups = groups,
                                                    .bias = a.boolean("bias", true)});
}

// Dispatches on the spatial rank of the current shape (1, 2 or 3) for layers that follow it.
template <template <int> class Maker, class... Args_>
std::shared_ptr<Module> by_rank(const Token& t, int rank, Args_&&... args) {
  switch (rank) {
    case 1:
      return Maker<1>::make(std::forward<Args_>(args)...);
    case 2:
      return Maker<2>::make(std::forward<Args_>(args)...);
    case 3:
      return Maker<3>::make(std::forward<Args_>(args)...);
  }
  throw ValueError(
      fmt::format("'{}' at column {} expects an input with 1 to 3 spatial axes, got {}", t.text,
                  t.column, rank));
}

template <int D>
struct ConvMaker {
  static std::shared_ptr<Module> make(const Args& a, int64_t c, const std::string& pad, int64_t g,
                                      int64_t out) {
    return make_conv<D>(a, c, pad, g, out);
  }
};
template <int D>
struct MaxPoolMaker {
  static std::shared_ptr<Module> make(const Args& a) {
    const int64_t k = a.integer("k");
    return std::make_shared<MaxPool<D>>(
        F::MaxPoolOptions<D>{.kernel_size = k,
                             .stride = ExpandingArray<D>(a.integer("stride", k)),
                             .padding = a.integer("pad", 0),
                             .ceil_mode = a.boolean("ceil", false)});
  }
};
template <int D>
struct AvgPoolMaker {
  static std::shared_ptr<Module> make(const Args& a) {
    const int64_t k = a.integer("k");
    return std::make_shared<AvgPool<D>>(
        F::AvgPoolOptions<D>{.kernel_size = k,
                             .stride = ExpandingArray<D>(a.integer("stride", k)),
                             .padding = a.integer("pad", 0),
                             .ceil_mode = a.boolean("ceil", false)});
  }
};
template <int D>
struct ConvTMaker {
  static std::shared_ptr<Module> make(const Args& a, int64_t c) {
    return std::make_shared<ConvTransposeNd<D>>(
        ConvTransposeOptions<D>{.in_channels = c,
                                .out_channels = a.integer("out"),
                                .kernel_size = a.integer("k"),
                                .stride = a.integer("stride", 1),
                                .padding = a.integer("pad", 0),
                                .output_padding = a.integer("outpad", 0),
                                .dilation = a.integer("dilation", 1),
                                .groups = a.integer("groups", 1),
                                .bias = a.boolean("bias", true)});
  }
};

std::shared_ptr<Module> make_layer(const Token& t, const Shape& in) {
  const int rank = spatial_rank(in);
  const int64_t channels = in.empty() ? 0 : in[0];
  const std::string& n = t.name;
  auto no_args = [&](const std::shared_ptr<Module>& m) {
    Args(t, {});
    return m;
  };
  if (n == "conv" || n == "conv1d" || n == "conv2d" || n == "conv3d") {
    const Args a(t, {"out", "k", "stride", "pad", "dilation", "groups", "bias"});
    const int want = n == "conv1d" ? 1 : n == "conv3d" ? 3 : n == "conv2d" ? 2 : rank;
    if (want != rank)
      a.fail(
          fmt::format("expects an input with {} spatial axes, got shape {}", want, shape_str(in)));
    return by_rank<ConvMaker>(t, rank, a, channels, std::string("0"), a.integer("groups", 1),
                              a.integer("out"));
  }
  if (n == "dwconv") {
    const Args a(t, {"k", "stride", "pad", "mult", "dilation", "bias"});
    return by_rank<ConvMaker>(t, rank, a, channels, std::string("same"), channels,
                              channels * a.integer("mult", 1));
  }
  if (n == "convT")
    return by_rank<ConvTMaker>(
        t, rank, Args(t, {"out", "k", "stride", "pad", "outpad", "dilation", "groups", "bias"}),
        channels);
  if (n == "maxpool")
    return by_rank<MaxPoolMaker>(t, rank, Args(t, {"k", "stride", "pad", "ceil"}));
  if (n == "avgpool")
    return by_rank<AvgPoolMaker>(t, rank, Args(t, {"k", "stride", "pad", "ceil"}));
  if (n == "lppool") {
    const Args a(t, {"p", "k", "stride"});
    const int64_t k = a.integer("k");
    if (rank == 1)
      return std::make_shared<LPPool1d>(
          a.real("p"), F::LpPoolOptions<1>{.kernel_size = k,
                                           .stride = ExpandingArray<1>(a.integer("stride", k))});
    if (rank == 2)
      return std::make_shared<LPPool2d>(
          a.real("p"), F::LpPoolOptions<2>{.kernel_size = k,
                                           .stride = ExpandingArray<2>(a.integer("stride", k))});
    a.fail(fmt::format("expects an input with 1 or 2 spatial axes, got shape {}", shape_str(in)));
  }
  if (n == "gap" || n == "gmp") {
    Args(t, {});
    const auto fn = n == "gap" ? F::global_avg_pool : F::global_max_pool;
    return std::make_shared<Lambda>(n == "gap" ? "GlobalAvgPool" : "GlobalMaxPool", fn);
  }
  if (n == "adaptiveavg" || n == "adaptivemax") {
    const Args a(t, {"h", "w"});
    if (rank != 2) a.fail(fmt::format("expects a C×H×W input, got shape {}", shape_str(in)));
    const ExpandingArray<2> size(a.integer("h"), a.integer("w", a.integer("h")));
    if (n == "adaptiveavg") return std::make_shared<AdaptiveAvgPool2d>(size);
    return std::make_shared<AdaptiveMaxPool2d>(size);
  }
  if (n == "upsample") {
    const Args a(t, {"scale", "mode"});
    const std::string mode = a.word("mode", "nearest");
    F::InterpolateMode m = F::InterpolateMode::kNearest;
    if (mode == "bilinear")
      m = F::InterpolateMode::kBilinear;
    else if (mode == "bicubic")
      m = F::InterpolateMode::kBicubic;
    else if (mode != "nearest")
      a.fail(fmt::format("argument 'mode' expects nearest, bilinear or bicubic, got '{}'", mode));
    if (rank != 2) a.fail(fmt::format("expects a C×H×W input, got shape {}", shape_str(in)));
    const double s = a.real("scale");
    F::InterpolateOptions<2> o;
    o.scale_factor = std::array<double, 2>{s, s};
    o.mode = m;
    if (m != F::InterpolateMode::kNearest) o.align_corners = false;
    return std::make_shared<Upsample<2>>(o);
  }
  if (n == "bn") {
    Args(t, {});
    const BatchNormOptions o{.num_features = channels};
    if (in.size() == 1 || rank == 1) return std::make_shared<BatchNorm1d>(o);
    if (rank == 2) return std::make_shared<BatchNorm2d>(o);
    return std::make_shared<BatchNorm3d>(o);
  }
  if (n == "relu") return no_args(std::make_shared<ReLU>());
  if (n == "relu6") return no_args(std::make_shared<ReLU6>());
  if (n == "sigmoid") return no_args(std::make_shared<Sigmoid>());
  if (n == "tanh") return no_args(std::make_shared<Tanh>());
  if (n == "gelu") return no_args(std::make_shared<GELU>());
  if (n == "silu") return no_args(std::make_shared<SiLU>());
  if (n == "hardswish") return no_args(std::make_shared<Hardswish>());
  if (n == "softmax") return no_args(std::make_shared<Softmax>(1));
  if (n == "logsoftmax") return no_args(std::make_shared<LogSoftmax>(1));
  if (n == "flatten") return no_args(std::make_shared<Flatten>());
  if (n == "leakyrelu") return std::make_shared<LeakyReLU>(Args(t, {"slope"}).real("slope", 0.01));
  if (n == "elu") return std::make_shared<ELU>(Args(t, {"alpha"}).real("alpha", 1.0));
  if (n == "dropout") return std::make_shared<Dropout>(Args(t, {"p"}).real("p", 0.5));
  if (n == "linear") {
    const Args a(t, {"out", "bias"});
    if (in.size() != 1)
      a.fail(fmt::format("expects a flat input (add 'flatten' before it), got shape {}",
                         shape_str(in)));
    return std::make_shared<Linear>(channels, a.integer("out"), a.boolean("bias", true));
  }
  throw ValueError(fmt::format(
      "'{}' at column {} is not a layer; known: conv conv1d conv3d convT dwconv maxpool avgpool "
      "lppool gap gmp adaptiveavg adaptivemax upsample bn relu relu6 leakyrelu elu sigmoid tanh "
      "gelu silu hardswish softmax logsoftmax dropout flatten linear",
      t.text, t.column));
}

}  // namespace

std::optional<std::string> zoo_spec(const std::string& name) {
  auto it = zoo_specs().find(name);
  if (it == zoo_specs().end()) return std::nullopt;
  return it->second;
}

SpecModel build_from_spec(const std::string& spec_or_name, const Shape& input_shape) {
  const std::string spec = zoo_spec(spec_or_name).value_or(spec_or_name);
  if (input_shape.empty() || input_shape.size() > 4)
    throw ValueError(fmt::format("spec: input shape expects C, C×L, C×H×W or C×D×H×W, got {}",
                                 shape_str(input_shape)));
  const std::vector<Token> tokens = tokenize(spec);
  if (tokens.empty()) throw ValueError("spec: expects at least one layer, got an empty spec");
  auto layers = std::make_shared<Sequential>();
  SpecModel out{layers, spec, input_shape, {}};
  Shape shape = input_shape;
  autograd::NoGradGuard no_grad;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    try {
      auto layer = make_layer(t, shape);
      // Shape inference: run the layer on one zero example in eval mode.
      Shape batched = shape;
      batched.insert(batched.begin(), 1);
      layer->eval();
      const Tensor y = layer->forward(Tensor::zeros(batched));
      layer->train();
      shape.assign(y.shape().begin() + 1, y.shape().end());
      layers->push_back(std::move(layer));
    } catch (const Error& e) {
      const std::string msg = e.what();
      // Messages from Args already start with the token; others get it prefixed.
      throw ValueError(
          msg.starts_with("'" + t.text + "'")
              ? fmt::format("spec: layer {} {}", i + 1, msg)
              : fmt::format("spec: layer {} '{}' at column {}: {}", i + 1, t.text, t.column, msg));
    }
  }
  out.output_shape = shape;
  return out;
}

}  // namespace fovea::nn
