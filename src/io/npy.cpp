#include "fovea/io/npy.h"

#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fovea/error.h"
#include "fovea/io/atomic_file.h"

namespace fovea::io {
namespace {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr char kMagic[] = "\x93NUMPY";

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// The value text after 'key': in the header's Python-literal dict, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }. Empty when the key is absent.
std::string header_value(const std::string& text, const std::string& key) {
  const size_t k = text.find("'" + key + "'");
  if (k == std::string::npos) return "";
  size_t v = text.find(':', k);
  if (v == std::string::npos) return "";
  v = text.find_first_not_of(' ', v + 1);
  if (v == std::string::npos) return "";
  const char open = text[v];
  const char close = open == '\'' ? '\'' : open == '(' ? ')' : ',';
  const size_t end = text.find(close, v + 1);
  if (end == std::string::npos) return "";
  return open == '\'' || open == '(' ? text.substr(v + 1, end - v - 1) : text.substr(v, end - v);
}

Header parse_header(const std::string& text, const std::string& file) {
  Header h;
  h.descr = header_value(text, "descr");
  const std::string fortran = header_value(text, "fortran_order");
  const bool has_shape = text.find("'shape'") != std::string::npos;
  if (h.descr.empty() || (fortran != "True" && fortran != "False") || !has_shape)
    throw IoError(fmt::format(
        "load_npy: '{}' header expects 'descr', 'fortran_order' and 'shape', got {}", file, text));
  h.fortran_order = fortran == "True";
  const std::string dims = header_value(text, "shape");
  for (size_t i = 0; i < dims.size();) {
    if (!std::isdigit(static_cast<unsigned char>(dims[i]))) {
      ++i;
      continue;
    }
    size_t used = 0;
    h.shape.push_back(std::stoll(dims.substr(i), &used));
    i += used;
  }
  return h;
}

template <class T>
void convert(std::istream& in, Tensor& t) {
  std::vector<T> raw(static_cast<size_t>(t.numel()));
  in.read(reinterpret_cast<char*>(raw.data()),
          static_cast<std::streamsize>(raw.size() * sizeof(T)));
  for (size_t i = 0; i < raw.size(); ++i) t.data()[i] = static_cast<float>(raw[i]);
}

}  // namespace

Tensor load_npy(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("load_npy: cannot open '{}'", file));
  char magic[6];
  unsigned char version[2];
  in.read(magic, 6);
  in.read(reinterpret_cast<char*>(version), 2);
  if (!in || std::memcmp(magic, kMagic, 6) != 0)
    throw IoError(fmt::format("load_npy: '{}' is not a .npy file (bad magic)", file));
  uint32_t header_len = 0;
  if (version[0] == 1) {
    uint16_t len16 = 0;
    in.read(reinterpret_cast<char*>(&len16), 2);
    header_len = len16;
  } else if (version[0] == 2 || version[0] == 3) {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  } else {
    throw IoError(fmt::format("load_npy: '{}' has format version {}.{}; expected 1.0, 2.0 or 3.0",
                              file, version[0], version[1]));
  }
  std::string text(header_len, '\0');
  in.read(text.data(), header_len);
  if (!in) throw IoError(fmt::format("load_npy: '{}' is truncated inside its header", file));
  const Header h = parse_header(text, file);
  if (h.fortran_order)
    throw IoError(fmt::format("load_npy: '{}' is in Fortran order; expected C order", file));
  if (static_cast<int64_t>(h.shape.size()) > kMaxRank)
    throw IoError(fmt::format("load_npy: '{}' has rank {}; expected at most {}", file,
                              h.shape.size(), kMaxRank));
  Tensor t = Tensor::empty(h.shape);
  const auto start = in.tellg();
  in.seekg(0, std::ios::end);
  const auto available = static_cast<int64_t>(in.tellg() - start);
  in.seekg(start);
  const int64_t item = h.descr == "<f4" ? 4 : (h.descr == "<f8" || h.descr == "<i8") ? 8 : 0;
  if (item == 0)
    throw IoError(fmt::format("load_npy: '{}' has dtype '{}'; expected '<f4', '<f8' or '<i8'", file,
                              h.descr));
  if (available < t.numel() * item)
    throw IoError(
        fmt::format("load_npy: '{}' is truncated: shape {} needs {} bytes of data, "
                    "the file has {}",
                    file, shape_str(h.shape), t.numel() * item, available));
  if (h.descr == "<f4") {
    in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(t.numel() * 4));
  } else if (h.descr == "<f8") {
    convert<double>(in, t);
  } else {
    convert<int64_t>(in, t);
  }
  return t;
}

void save_npy(const std::filesystem::path& path, const Tensor& t) {
  if (!t.defined()) throw ValueError("save_npy: tensor is undefined");
  std::string dims;
  for (int64_t s : t.shape()) dims += fmt::format("{}, ", s);
  if (t.dim() > 1) dims.resize(dims.size() - 2);  // (3,) keeps its comma; (2, 3) does not
  std::string header =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // Pad with spaces so magic + version + length + header + '\n' is a multiple of 64.
  const size_t unpadded = 6 + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(kMagic, 6);
    const char version[2] = {1, 0};
    out.write(version, 2);
    const auto len = static_cast<uint16_t>(header.size());
    out.write(reinterpret_cast<const char*>(&len), 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(t.data()), static_cast<std::streamsize>(t.numel() * 4));
  });
}

}  // namespace fovea::io
