#include "fovea/data/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "fovea/error.h"

namespace fovea::data {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads the whole (decompressed) file; gzread passes plain files through unchanged.
std::vector<unsigned char> read_all(const std::filesystem::path& path) {
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) throw IoError(fmt::format("load_idx: cannot open '{}'", path.string()));
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  for (;;) {
    const int n = gzread(f.get(), chunk, sizeof(chunk));
    if (n < 0) {
      int code = 0;
      throw IoError(
          fmt::format("load_idx: '{}' is damaged: {}", path.string(), gzerror(f.get(), &code)));
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  return bytes;
}

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Big-endian values of type T, each assembled into the unsigned integer U of the same size.
template <class T, class U>
void decode(const unsigned char* src, Tensor& t) {
  static_assert(sizeof(T) == sizeof(U));
  for (int64_t i = 0; i < t.numel(); ++i, src += sizeof(U)) {
    U bits = 0;
    for (size_t b = 0; b < sizeof(U); ++b) bits = static_cast<U>((bits << 8) | src[b]);
    t.data()[i] = static_cast<float>(std::bit_cast<T>(bits));
  }
}

}  // namespace

Tensor load_idx(const std::filesystem::path& path) {
  const std::string file = path.string();
  const std::vector<unsigned char> bytes = read_all(path);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0)
    throw IoError(fmt::format(
        "load_idx: '{}' is not an IDX file (expected magic bytes 00 00 <type> <rank>)", file));
  const unsigned char type = bytes[2];
  const int rank = bytes[3];
  int64_t item = 0;
  switch (type) {
    case 0x08:
    case 0x09:
      item = 1;
      break;
    case 0x0B:
      item = 2;
      break;
    case 0x0C:
    case 0x0D:
      item = 4;
      break;
    case 0x0E:
      item = 8;
      break;
    default:
      throw IoError(fmt::format("load_idx: '{}' has unknown type code 0x{:02X}", file, type));
  }
  if (rank < 1 || rank > kMaxRank)
    throw IoError(
        fmt::format("load_idx: '{}' has {} dimensions; expected 1 to {}", file, rank, kMaxRank));
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < header)
    throw IoError(fmt::format("load_idx: '{}' is truncated inside its header", file));
  Shape shape;
  for (int d = 0; d < rank; ++d) shape.push_back(big_endian_u32(&bytes[4 + 4 * d]));
  const uint64_t expected = header + static_cast<uint64_t>(shape_numel(shape)) * item;
  if (bytes.size() != expected)
    throw IoError(fmt::format(
        "load_idx: '{}' has {} bytes but its header (shape {}, {} byte(s) per value) needs {}; "
        "the file is {}",
        file, bytes.size(), shape_str(shape), item, expected,
        bytes.size() < expected ? "truncated" : "followed by extra bytes"));
  Tensor t = Tensor::empty(shape);
  const unsigned char* src = bytes.data() + header;
  switch (type) {
    case 0x08:
      for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = src[i];
      break;
    case 0x09:
      decode<int8_t, uint8_t>(src, t);
      break;
    case 0x0B:
      decode<int16_t, uint16_t>(src, t);
      break;
    case 0x0C:
      decode<int32_t, uint32_t>(src, t);
      break;
    case 0x0D:
      decode<float, uint32_t>(src, t);
      break;
    case 0x0E:
      decode<double, uint64_t>(src, t);
      break;
  }
  return t;
}

void save_idx_u8(const std::filesystem::path& path, const Tensor& values) {
  if (!values.defined() || values.dim() < 1)
    throw ValueError("save_idx_u8: values expects a tensor of rank 1 to 5");
  std::vector<unsigned char> bytes = {0, 0, 0x08, static_cast<unsigned char>(values.dim())};
  for (int64_t s : values.shape())
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<unsigned char>(s >> shift));
  for (float v : values.span())
    bytes.push_back(static_cast<unsigned char>(std::clamp(std::lround(v), 0L, 255L)));
  const bool gz = path.extension() == ".gz";
  GzFile f(gzopen(path.c_str(), gz ? "wb" : "wbT"));  // T: write uncompressed
  if (!f || gzwrite(f.get(), bytes.data(), static_cast<unsigned>(bytes.size())) !=
                static_cast<int>(bytes.size()))
    throw IoError(fmt::format("save_idx_u8: cannot write '{}'", path.string()));
}

}  // namespace fovea::data
