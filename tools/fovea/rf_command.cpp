// `fovea rf`: the receptive-field calculator, n, j, r and start after each layer.
#include <fmt/format.h>

#include <charconv>
#include <map>

#include "commands.h"
#include "fovea/analysis/receptive_field.h"
#include "fovea/error.h"

namespace fovea::cli {
namespace {

struct RfArgs {
  int64_t input = 0;
  std::vector<std::string> layers;
  bool json = false;
};

// "k=3,s=2,p=1[,d=1]" (any order; s, p, d default to 1, 0, 1) as the layer-th layer.
analysis::RfLayer parse_layer(const std::string& text, size_t layer) {
  auto fail = [&](const std::string& what) {
    throw ValueError(fmt::format("rf: layer {} '{}' {}", layer, text, what));
  };
  std::map<std::string, int64_t> values;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) fail(fmt::format("expects key=value items, got '{}'", item));
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key != "k" && key != "s" && key != "p" && key != "d")
      fail(fmt::format("has an unknown key '{}' (expected k, s, p, d)", key));
    if (values.contains(key)) fail(fmt::format("gives '{}' twice", key));
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size())
      fail(fmt::format("expects an integer for '{}', got '{}'", key, value));
    values[key] = v;
    pos = comma + 1;
  }
  if (!values.contains("k")) fail("needs the kernel size k");
  auto get = [&](const char* key, int64_t fallback) {
    return values.contains(key) ? values[key] : fallback;
  };
  return {.k = values["k"], .s = get("s", 1), .p = get("p", 0), .d = get("d", 1)};
}

void run(const RfArgs& a) {
  std::vector<analysis::RfLayer> layers;
  for (size_t i = 0; i < a.layers.size(); ++i) layers.push_back(parse_layer(a.layers[i], i + 1));
  const auto steps = analysis::receptive_field(a.input, layers);
  if (a.json)
    fmt::print("{}\n", analysis::rf_json(steps));
  else
    fmt::print("{}", analysis::format_rf(steps));
}

}  // namespace

void add_rf_command(CLI::App& app) {
  auto args = std::make_shared<RfArgs>();
  CLI::App* cmd = app.add_subcommand(
      "rf", "Receptive-field calculator: size n, jump j, field r and start after each layer");
  cmd->add_option("--input", args->input, "Input size N along one axis")->required();
  cmd->add_option("--layer", args->layers,
                  "A layer k=K,s=S,p=P[,d=D] (s=1, p=0, d=1 by default); repeat in order")
      ->required();
  cmd->add_flag("--json", args->json, "Print one JSON document");
  cmd->callback([args] { run(*args); });
}

}  // namespace fovea::cli
