#include "zcluster/bus/line_budget.h"

#include <catch2/catch.hpp>

using namespace zcluster::bus;
using namespace std::chrono_literals;

TEST_CASE("a line budget allows one line per key per interval and a fixed number in all",
          "[bus][log]") {
  LineBudget budget(30s, 3, 100);
  auto t0 = LineBudget::Clock::now();
  CHECK(budget.Take("10.0.0.1", t0).log);
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(budget.Take("10.0.0.1", t0 + 1s).log);
  // Other addresses get their first line until the interval's budget is spent.
  CHECK(budget.Take("10.0.0.2", t0 + 2s).log);
  CHECK(budget.Take("10.0.0.3", t0 + 2s).log);
  CHECK_FALSE(budget.Take("10.0.0.4", t0 + 2s).log);
  // Next interval: the first address's line says what was held back.
  LineBudget::Verdict later = budget.Take("10.0.0.1", t0 + 31s);
  CHECK(later.log);
  CHECK(later.unlogged == 1000);
  CHECK(budget.Take("10.0.0.4", t0 + 31s).unlogged == 1);
}

TEST_CASE("a flood of keys cannot grow the budget's table past its bound", "[bus][log]") {
  LineBudget budget(30s, 5, 100);
  auto t0 = LineBudget::Clock::now();
  std::size_t lines = 0;
  for (int i = 0; i < 100000; ++i) lines += budget.Take("k" + std::to_string(i), t0).log;
  CHECK(lines == 5);
}
