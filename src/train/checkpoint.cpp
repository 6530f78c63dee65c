#include "fovea/train/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fovea/error.h"
#include "fovea/io/safetensors.h"
#include "fovea/zoo/zoo.h"

namespace fovea::train {
namespace {

constexpr const char* kFormat = "fovea-checkpoint-1";
constexpr const char* kOptimizerPrefix = "optimizer.";

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const nn::Module& model,
                     const CheckpointInfo& info, const optim::Optimizer* optimizer) {
  io::NamedTensorList tensors;
  for (const auto& [name, t] : model.state_dict()) tensors.emplace_back(name, t);
  io::Metadata meta = {
      {"format", kFormat},
      {"spec", info.spec},
      {"classes", nlohmann::json(info.classes).dump()},
      {"input_shape", nlohmann::json(info.input_shape).dump()},
      {"mean", nlohmann::json(info.mean).dump()},
      {"std", nlohmann::json(info.std).dump()},
      {"epoch", std::to_string(info.epoch)},
      {"data", info.data},
      {"seed", std::to_string(info.seed)},
      {"batch_size", std::to_string(info.batch_size)},
      {"scheduler", info.scheduler},
      {"scheduler_last_epoch", std::to_string(info.scheduler_last_epoch)},
  };
  if (optimizer) {
    const optim::OptimizerState state = optimizer->state_dict();
    meta["optimizer"] = state.optimizer;
    meta["optimizer_hyper_parameters"] = nlohmann::json(state.hyper_parameters).dump();
    for (const auto& [name, t] : state.tensors) tensors.emplace_back(kOptimizerPrefix + name, t);
  }
  io::save_safetensors(path, tensors, meta);
}

LoadedCheckpoint load_checkpoint(const std::filesystem::path& path) {
  io::SafetensorsContents file = io::load_safetensors(path);
  const auto& meta = file.metadata;
  auto field = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end())
      throw IoError(
          fmt::format("load_checkpoint: '{}' is not a Fovea checkpoint (no '{}' in its "
                      "metadata)",
                      path.string(), key));
    return it->second;
  };
  if (field("format") != kFormat)
    throw IoError(fmt::format("load_checkpoint: '{}' has format '{}'; expected '{}'", path.string(),
                              field("format"), kFormat));
  LoadedCheckpoint out;
  CheckpointInfo& info = out.info;
  try {
    info.spec = field("spec");
    info.classes = nlohmann::json::parse(field("classes")).get<std::vector<std::string>>();
    info.input_shape = nlohmann::json::parse(field("input_shape")).get<Shape>();
    info.mean = nlohmann::json::parse(field("mean")).get<std::vector<float>>();
    info.std = nlohmann::json::parse(field("std")).get<std::vector<float>>();
    info.epoch = std::stoll(field("epoch"));
    info.data = field("data");
    info.seed = std::stoull(field("seed"));
    info.batch_size = std::stoll(field("batch_size"));
    info.scheduler = field("scheduler");
    info.scheduler_last_epoch = std::stoll(field("scheduler_last_epoch"));
  } catch (const std::exception& e) {
    if (dynamic_cast<const IoError*>(&e)) throw;
    throw IoError(
        fmt::format("load_checkpoint: '{}' has malformed metadata: {}", path.string(), e.what()));
  }
  out.model = zoo::build_model(info.spec, info.input_shape,
                               static_cast<int64_t>(std::max<size_t>(1, info.classes.size())));
  nn::NamedTensors model_state;
  optim::OptimizerState opt;
  for (auto& [name, t] : file.tensors) {
    if (name.starts_with(kOptimizerPrefix))
      opt.tensors[name.substr(std::string(kOptimizerPrefix).size())] = t;
    else
      model_state.emplace_back(name, t);
  }
  out.model.model->load_state_dict(model_state);
  if (meta.contains("optimizer")) {
    opt.optimizer = meta.at("optimizer");
    opt.hyper_parameters = nlohmann::json::parse(field("optimizer_hyper_parameters"))
                               .get<std::map<std::string, double>>();
    out.optimizer = std::move(opt);
  }
  return out;
}

}  // namespace fovea::train
