// Every example encoding in schemas/SCHEMAS.md is decoded with the real code and re-encoded byte
// for byte, and every message type has an example: the page cannot drift from the code.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>

#include "support/temp_dir.h"
#include "zcluster/schemas/messages.h"

using namespace zcluster;
using namespace zcluster::schemas;

namespace {

std::string FromHex(const std::string& line) {
  std::istringstream in(line);
  std::string out, byte;
  while (in >> byte) out += static_cast<char>(std::stoi(byte, nullptr, 16));
  return out;
}

// "```frames TYPE" blocks: "frame N: hex hex ..." lines until "```". A type may have several.
std::multimap<std::string, Frames> Examples(const std::string& doc) {
  std::multimap<std::string, Frames> examples;
  std::istringstream in(doc);
  std::string line;
  Frames* current = nullptr;
  while (std::getline(in, line)) {
    if (line.rfind("```frames ", 0) == 0) {
      current = &examples.emplace(line.substr(10), Frames{})->second;
    } else if (line == "```") {
      current = nullptr;
    } else if (current != nullptr && line.rfind("frame ", 0) == 0) {
      current->push_back(FromHex(line.substr(line.find(':') + 1)));
    }
  }
  return examples;
}

}  // namespace

TEST_CASE("SCHEMAS.md examples decode and re-encode byte for byte", "[schemas][doc]") {
  std::multimap<std::string, Frames> examples = Examples(testing::ReadFile(ZC_SCHEMAS_DOC));
  REQUIRE(examples.size() >= 7);
  for (const auto& [type, frames] : examples) {
    INFO("example " << type);
    Result<Message> m = Decode(frames);
    REQUIRE(m.ok());
    CHECK(TypeOf(*m) == type);
    CHECK(Encode(*m) == frames);
  }
}

TEST_CASE("SCHEMAS.md has an example of every message type", "[schemas][doc]") {
  std::multimap<std::string, Frames> examples = Examples(testing::ReadFile(ZC_SCHEMAS_DOC));
  std::set<std::string> types;
  // Default-construct each alternative of the variant to list every type the code knows.
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (types.insert(std::string(TypeOf(Message(std::in_place_index<I>)))), ...);
  }
  (std::make_index_sequence<std::variant_size_v<Message>>());
  for (const std::string& t : types) {
    INFO("message type " << t);
    CHECK(examples.count(t) >= 1);
  }
}
