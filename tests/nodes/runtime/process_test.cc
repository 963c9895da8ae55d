#include "zcluster/nodes/process.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>

using namespace zcluster::nodes;

TEST_CASE("a node takes every open file its hard limit allows", "[nodes][process]") {
  rlimit before{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  rlimit lowered = before;
  lowered.rlim_cur = std::min<rlim_t>(before.rlim_max, 256);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  std::uint64_t now = RaiseOpenFileLimit();
  rlimit after{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
  CHECK(after.rlim_cur == before.rlim_max);
  CHECK(now == after.rlim_cur);
  ::setrlimit(RLIMIT_NOFILE, &before);
}
