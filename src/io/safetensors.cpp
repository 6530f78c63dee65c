#include "fovea/io/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "fovea/error.h"
#include "fovea/io/atomic_file.h"

namespace fovea::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

// Headers beyond this are not checkpoints but damage (the format's own reader caps at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400u) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

// Bytes per element of a dtype Fovea can read, 0 for others.
int64_t dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

void convert(const std::string& dtype, const char* src, Tensor& t) {
  float* dst = t.data();
  const int64_t n = t.numel();
  auto each = [&](auto type_tag, auto&& to_float) {
    using T = decltype(type_tag);
    for (int64_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, src + i * sizeof(T), sizeof(T));
      dst[i] = to_float(v);
    }
  };
  if (dtype == "F32") std::memcpy(dst, src, n * sizeof(float));
  if (dtype == "F64") each(double{}, [](double v) { return static_cast<float>(v); });
  if (dtype == "I64") each(int64_t{}, [](int64_t v) { return static_cast<float>(v); });
  if (dtype == "I32") each(int32_t{}, [](int32_t v) { return static_cast<float>(v); });
  if (dtype == "F16") each(uint16_t{}, half_to_float);
  if (dtype == "BF16")
    each(uint16_t{}, [](uint16_t v) { return std::bit_cast<float>(uint32_t{v} << 16); });
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const NamedTensorList& tensors,
                      const Metadata& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (!t.defined())
      throw ValueError(fmt::format("save_safetensors: tensor '{}' is undefined", name));
    if (name == "__metadata__" || !seen.insert(name).second)
      throw ValueError(
          fmt::format("save_safetensors: tensor names expect unique names other "
                      "than __metadata__, got '{}' twice or reserved",
                      name));
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
    header[name] = {
        {"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the reference writer aligns data to 8 bytes
  write_file_atomically(path, [&](std::ostream& out) {
    const uint64_t len = text.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : tensors)
      out.write(reinterpret_cast<const char*>(t.data()),
                static_cast<std::streamsize>(t.numel() * sizeof(float)));
  });
}

SafetensorsContents load_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("load_safetensors: cannot open '{}'", file));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  if (!in || file_size < 8)
    throw IoError(
        fmt::format("load_safetensors: '{}' is too short to be a safetensors file", file));
  if (header_len > kMaxHeaderBytes || header_len > file_size - 8)
    throw IoError(
        fmt::format("load_safetensors: '{}' declares a {}-byte header but the file has "
                    "{} bytes; not a safetensors file, or truncated",
                    file, header_len, file_size));
  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(
        fmt::format("load_safetensors: '{}' has an invalid JSON header: {}", file, e.what()));
  }
  if (!header.is_object())
    throw IoError(fmt::format("load_safetensors: '{}' header is not a JSON object", file));
  const uint64_t data_size = file_size - 8 - header_len;
  std::vector<char> data(data_size);
  in.read(data.data(), static_cast<std::streamsize>(data_size));
  if (!in) throw IoError(fmt::format("load_safetensors: '{}' could not be read", file));

  SafetensorsContents out;
  std::vector<std::pair<uint64_t, std::pair<std::string, Tensor>>> by_offset;
  for (const auto& [name, entry] : header.items()) {
    try {
      if (name == "__metadata__") {
        for (const auto& [key, value] : entry.items()) out.metadata[key] = value.get<std::string>();
        continue;
      }
      const std::string dtype = entry.at("dtype").get<std::string>();
      const Shape shape = entry.at("shape").get<Shape>();
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      const int64_t item = dtype_size(dtype);
      if (item == 0)
        throw IoError(
            fmt::format("load_safetensors: '{}' tensor '{}' has dtype {}; Fovea reads "
                        "F32, F64, F16, BF16, I64 and I32",
                        file, name, dtype));
      if (static_cast<int64_t>(shape.size()) > kMaxRank)
        throw IoError(fmt::format("load_safetensors: '{}' tensor '{}' has rank {}; at most {}",
                                  file, name, shape.size(), kMaxRank));
      Tensor t = Tensor::empty(shape);
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size ||
          offsets[1] - offsets[0] != static_cast<uint64_t>(t.numel() * item))
        throw IoError(fmt::format(
            "load_safetensors: '{}' tensor '{}' data_offsets do not fit its shape {} and dtype "
            "{} inside the {}-byte data section",
            file, name, shape_str(shape), dtype, data_size));
      convert(dtype, data.data() + offsets[0], t);
      by_offset.push_back({offsets[0], {name, t}});
    } catch (const nlohmann::json::exception& e) {
      throw IoError(
          fmt::format("load_safetensors: '{}' entry '{}' is malformed: {}", file, name, e.what()));
    }
  }
  std::ranges::sort(by_offset, {}, [](const auto& p) { return p.first; });
  for (auto& [offset, named] : by_offset) out.tensors.push_back(std::move(named));
  return out;
}

}  // namespace fovea::io
