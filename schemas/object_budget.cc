#include <cstdint>
#include <stdexcept>
#include <string>

#include "codec.h"

namespace zcluster::schemas::codec {
namespace {

std::uint64_t ReadBigEndian(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

// Walks the headers only: each object costs one step, a container adds its entries to what is
// still to be read, and a string or bin is skipped over. Nothing is allocated, so a frame is
// judged before msgpack-c builds a single object for it.
void CheckObjectBudget(std::string_view frame) {
  const auto* p = reinterpret_cast<const unsigned char*>(frame.data());
  const std::size_t size = frame.size();
  const std::uint64_t budget = ObjectBudget(size);
  std::size_t at = 0;
  std::uint64_t to_read = 1;
  std::uint64_t objects = 0;
  auto need = [&](std::uint64_t bytes) {
    if (bytes > size - at) throw std::runtime_error("insufficient bytes");
  };
  auto take = [&](int bytes) {  // a big-endian length or count after the first byte
    need(static_cast<std::uint64_t>(bytes));
    std::uint64_t v = ReadBigEndian(p + at, bytes);
    at += static_cast<std::size_t>(bytes);
    return v;
  };
  while (to_read > 0) {
    need(1);
    if (++objects > budget) {
      throw std::runtime_error("more objects than " + std::to_string(size) +
                               " bytes of an honest message hold");
    }
    --to_read;
    const unsigned char b = p[at++];
    std::uint64_t skip = 0;     // payload bytes after the header
    std::uint64_t entries = 0;  // objects a container adds
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
      // fixints, nil and booleans are whole in their first byte
    } else if (b <= 0x8f) {
      entries = 2u * (b & 0x0fu);
    } else if (b <= 0x9f) {
      entries = b & 0x0fu;
    } else if (b <= 0xbf) {
      skip = b & 0x1fu;
    } else if (b == 0xc4 || b == 0xd9) {
      skip = take(1);  // bin8, str8
    } else if (b == 0xc5 || b == 0xda) {
      skip = take(2);
    } else if (b == 0xc6 || b == 0xdb) {
      skip = take(4);
    } else if (b == 0xca || b == 0xcb) {
      skip = b == 0xca ? 4 : 8;  // float32, float64
    } else if (b >= 0xcc && b <= 0xd3) {
      skip = std::uint64_t{1} << ((b - 0xcc) % 4);  // uint8 to uint64, then int8 to int64
    } else if (b == 0xdc || b == 0xdd) {
      entries = take(b == 0xdc ? 2 : 4);
    } else if (b == 0xde || b == 0xdf) {
      entries = 2 * take(b == 0xde ? 2 : 4);
    } else {
      throw std::runtime_error("ext types and the reserved byte 0xc1 are not used");
    }
    need(skip);
    at += skip;
    to_read += entries;
    // Each object still to be read takes at least one byte of what is left.
    if (to_read > size - at) throw std::runtime_error("insufficient bytes");
  }
}

}  // namespace zcluster::schemas::codec
