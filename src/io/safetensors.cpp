// The safetensors format (see duet/saving.h), written and read with every claim of the file checked against
// the file itself before it is trusted.
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <nlohmann/json.hpp>

#include "core/tensor_impl.h"
#include "duet/saving.h"

namespace duet::saving {
namespace {

static_assert(std::endian::native == std::endian::little, "duet's files are little-endian, as its hosts");

using json = nlohmann::json;

const char* st_dtype(DType d) {
  switch (d) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int32:
      return "I32";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      return "BOOL";
  }
  return "?";
}

std::string errno_text() { return std::strerror(errno); }

// Reads exactly n bytes at `offset`.
void read_at(int fd, void* dst, std::uint64_t n, std::uint64_t offset, const std::string& path, const char* what) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(n, 1u << 30));
    ssize_t got = ::pread(fd, p, chunk, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      throw IOError("[load_safetensors] " + path + ": cannot read the " + what +
                    (got < 0 ? " (" + errno_text() + ")" : std::string(" (the file is shorter than it was)")));
    }
    p += got;
    n -= static_cast<std::uint64_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

// One tensor's header entry, checked: a known dtype, a shape whose byte size does not overflow and equals
// its offsets' span, offsets inside the data section.
Entry parse_entry(const std::string& name, const json& v, std::uint64_t data_bytes, const std::string& path) {
  auto bad = [&](const std::string& what) {
    return IOError("[load_safetensors] " + path + ": tensor '" + name + "' " + what);
  };
  if (!v.is_object()) throw bad("is not described by a JSON object");
  for (const auto& [key, _] : v.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      throw bad("has an unknown field '" + key + "' (expected dtype, shape, data_offsets)");
    }
  }
  if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad("has no dtype string");
  const std::string ds = v["dtype"].get<std::string>();
  Entry e{name, DType::Float32, Shape{}, 0, 0};
  if (ds == "F32") {
    e.dtype = DType::Float32;
  } else if (ds == "F64") {
    e.dtype = DType::Float64;
  } else if (ds == "I32") {
    e.dtype = DType::Int32;
  } else if (ds == "I64") {
    e.dtype = DType::Int64;
  } else if (ds == "BOOL") {
    e.dtype = DType::Bool;
  } else {
    throw bad("has dtype '" + ds.substr(0, 32) + "', which duet does not read (it reads F32, F64, I32, I64, BOOL)");
  }
  if (!v.contains("shape") || !v["shape"].is_array()) throw bad("has no shape array");
  const json& sh = v["shape"];
  if (sh.size() > static_cast<std::size_t>(Shape::kMaxRank)) {
    throw bad("has rank " + std::to_string(sh.size()) + "; duet tensors have at most " +
              std::to_string(Shape::kMaxRank) + " dims");
  }
  std::vector<std::int64_t> dims;
  std::uint64_t bytes = dtype_size(e.dtype);
  bool overflow = false;
  for (const json& d : sh) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      throw bad("has a shape entry " + d.dump().substr(0, 32) + " that is not a non-negative integer");
    }
    auto n = d.get<std::uint64_t>();
    overflow = __builtin_mul_overflow(bytes, n, &bytes) || overflow;
    dims.push_back(static_cast<std::int64_t>(n));
  }
  if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2 ||
      !v["data_offsets"][0].is_number_unsigned() || !v["data_offsets"][1].is_number_unsigned()) {
    throw bad("has no data_offsets pair of non-negative integers");
  }
  e.begin = v["data_offsets"][0].get<std::uint64_t>();
  e.end = v["data_offsets"][1].get<std::uint64_t>();
  if (e.begin > e.end || e.end > data_bytes) {
    throw bad("has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
              "] outside the file's data section of " + std::to_string(data_bytes) + " bytes");
  }
  if (overflow || bytes != e.end - e.begin) {
    throw bad("of dtype " + ds + " and shape [" + std::to_string(dims.size()) + " dims] needs " +
              (overflow ? std::string("more than 2^64") : std::to_string(bytes)) + " bytes, but its offsets span " +
              std::to_string(e.end - e.begin));
  }
  e.shape = Shape(dims);
  return e;
}

}  // namespace

const Tensor* TensorFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write) {
  std::string dir = ".";
  if (auto slash = path.find_last_of('/'); slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) throw IOError("cannot write " + path + ": cannot create a file in " + dir + " (" + errno_text() + ")");
  std::string tmp(name.data());
  std::FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw IOError("cannot write " + path + " (" + errno_text() + ")");
  }
  auto fail = [&](const std::string& why) {
    std::fclose(f);
    ::unlink(tmp.c_str());
    return IOError("cannot write " + path + ": " + why);
  };
  try {
    write(f);
  } catch (...) {
    std::fclose(f);
    ::unlink(tmp.c_str());
    throw;
  }
  if (std::fflush(f) != 0 || std::ferror(f)) throw fail(errno_text() + " (is the disk full?)");
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) throw fail(errno_text());
  if (std::fclose(f) != 0) {
    ::unlink(tmp.c_str());
    throw IOError("cannot write " + path + ": " + errno_text());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw IOError("cannot write " + path + ": rename failed (" + why + ")");
  }
  // The rename itself is durable once the directory is synced.
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::set<std::string> seen;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__") {
      throw ValueError("[save_safetensors] " + path + ": tensor name '" + name + "' is reserved or empty");
    }
    if (!seen.insert(name).second) {
      throw ValueError("[save_safetensors] " + path + ": two tensors are named '" + name +
                       "'; names must be unique (rename a layer or a weight)");
    }
    if (!t.defined() || t.is_symbolic()) {
      throw ValueError("[save_safetensors] " + path + ": tensor '" + name + "' is " +
                       (t.defined() ? "symbolic (inside a trace); save concrete values" : "undefined"));
    }
    std::uint64_t bytes = static_cast<std::uint64_t>(t.num_elements()) * dtype_size(t.dtype());
    header[name] = {{"dtype", st_dtype(t.dtype())},
                    {"shape", std::vector<std::int64_t>(t.shape().begin(), t.shape().end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned, as the reference writes
  write_file_atomically(path, [&](std::FILE* f) {
    std::uint64_t n = text.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    std::fwrite(len, 1, 8, f);
    std::fwrite(text.data(), 1, text.size(), f);
    for (const auto& [name, t] : tensors) {
      std::size_t bytes = static_cast<std::size_t>(t.num_elements()) * dtype_size(t.dtype());
      if (bytes && std::fwrite(raw(t), 1, bytes, f) != bytes) return;  // ferror is checked by the caller
    }
  });
}

TensorFile load_safetensors(const std::string& path) {
  auto fail = [&](const std::string& what) { return IOError("[load_safetensors] " + path + ": " + what); };
  Fd fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) throw fail("cannot open it (" + errno_text() + ")");
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) throw fail("cannot stat it (" + errno_text() + ")");
  if (!S_ISREG(st.st_mode)) throw fail("is not a regular file (a directory, FIFO or device)");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < 8) throw fail("is " + std::to_string(size) + " bytes long; a safetensors file starts with 8 bytes");
  unsigned char len[8];
  read_at(fd.fd, len, 8, 0, path, "header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  if (n > kMaxHeaderBytes || n > size - 8) {
    throw fail("claims a " + std::to_string(n) + "-byte header, but " +
               (n > kMaxHeaderBytes ? "the limit is " + std::to_string(kMaxHeaderBytes)
                                    : "the file has " + std::to_string(size - 8) + " bytes after the length") +
               ": it is not a safetensors file, or it is truncated or corrupt");
  }
  std::string text(static_cast<std::size_t>(n), '\0');
  read_at(fd.fd, text.data(), n, 8, path, "header");
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    throw fail(std::string("its header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw fail("its header is not a JSON object");
  const std::uint64_t data_start = 8 + n, data_bytes = size - data_start;
  TensorFile out;
  std::vector<Entry> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("its __metadata__ is not a JSON object");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) throw fail("its __metadata__ entry '" + k + "' is not a string");
        out.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    if (name.empty()) throw fail("a tensor has an empty name");
    entries.push_back(parse_entry(name, v, data_bytes, path));
  }
  // The data section is the tensors back to back: no gaps, no overlaps, nothing after the last one.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t at = 0;
  for (const Entry& e : entries) {
    if (e.begin != at) {
      throw fail("tensor '" + e.name + "' starts at byte " + std::to_string(e.begin) + " of the data section, " +
                 (e.begin < at ? "inside the previous tensor"
                               : "leaving a gap after the previous one (at " + std::to_string(at) + ")"));
    }
    at = e.end;
  }
  if (at != data_bytes) {
    throw fail("its tensors cover " + std::to_string(at) + " bytes of a " + std::to_string(data_bytes) +
               "-byte data section: the file is corrupt or has trailing bytes");
  }
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (e.end > e.begin) read_at(fd.fd, raw(t), e.end - e.begin, data_start + e.begin, path, "data");
    if (e.dtype == DType::Bool) {
      const auto* b = static_cast<const unsigned char*>(raw(t));
      for (std::uint64_t i = 0; i < e.end - e.begin; ++i) {
        if (b[i] > 1)
          throw fail("bool tensor '" + e.name + "' holds the byte " + std::to_string(b[i]) + " (not 0 or 1)");
      }
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace duet::saving
