#include "streams/stream_follower.h"

#include <catch2/catch.hpp>

using namespace zcluster::nodes;

namespace {

struct C {
  std::uint64_t seq;
  bool operator==(const C&) const = default;
};

std::vector<C> Seqs(std::initializer_list<std::uint64_t> s) {
  std::vector<C> out;
  for (auto v : s) out.push_back({v});
  return out;
}

std::vector<std::uint64_t> Of(const std::vector<C>& v) {
  std::vector<std::uint64_t> out;
  for (const C& c : v) out.push_back(c.seq);
  return out;
}

}  // namespace

TEST_CASE("deltas at or below the sync are dropped, the rest applied", "[nodes][streams]") {
  StreamFollower<C> f(0);
  CHECK(f.Start().request_sync);
  // Arrive while the sync is under way: kept.
  CHECK(f.OnDelta(Seqs({4, 5})).apply.empty());
  CHECK(f.OnDelta(Seqs({6})).apply.empty());
  auto step = f.OnSynced(5);  // the sync covered up to 5
  CHECK(Of(step.apply) == std::vector<std::uint64_t>{6});
  CHECK_FALSE(step.request_sync);
  CHECK(f.applied() == 6);
  CHECK_FALSE(f.syncing());
}

TEST_CASE("in-order deltas apply and duplicates are ignored", "[nodes][streams]") {
  StreamFollower<C> f(10);
  CHECK(Of(f.OnDelta(Seqs({11, 12})).apply) == std::vector<std::uint64_t>{11, 12});
  CHECK(f.OnDelta(Seqs({11, 12})).apply.empty());
  CHECK(Of(f.OnDelta(Seqs({12, 13})).apply) == std::vector<std::uint64_t>{13});
  CHECK(f.applied() == 13);
}

TEST_CASE("a gap leads to a sync, never to applying out of order", "[nodes][streams]") {
  StreamFollower<C> f(10);
  auto step = f.OnDelta(Seqs({13, 14}));  // 11 and 12 were dropped by PUB
  CHECK(step.apply.empty());
  CHECK(step.request_sync);
  CHECK(f.syncing());
  CHECK(f.applied() == 10);
  // More deltas while syncing are kept, not applied.
  CHECK(f.OnDelta(Seqs({15})).apply.empty());
  auto done = f.OnSynced(14);
  CHECK(Of(done.apply) == std::vector<std::uint64_t>{15});
  CHECK(f.applied() == 15);
}

TEST_CASE("a gap inside a delta applies what follows on and syncs for the rest",
          "[nodes][streams]") {
  StreamFollower<C> f(1);
  auto step = f.OnDelta(Seqs({2, 3, 5}));
  CHECK(Of(step.apply) == std::vector<std::uint64_t>{2, 3});
  CHECK(step.request_sync);
  CHECK(f.applied() == 3);
}

TEST_CASE("kept deltas with a gap after the sync ask for another sync", "[nodes][streams]") {
  StreamFollower<C> f(0);
  f.Start();
  f.OnDelta(Seqs({9}));
  auto step = f.OnSynced(5);  // 6..8 are missing
  CHECK(step.apply.empty());
  CHECK(step.request_sync);
  CHECK(f.syncing());
}

TEST_CASE("a heartbeat ahead of us is a gap on a quiet stream", "[nodes][streams]") {
  StreamFollower<C> f(7);
  CHECK_FALSE(f.OnHeartbeat(7).request_sync);
  CHECK_FALSE(f.OnHeartbeat(3).request_sync);
  CHECK(f.OnHeartbeat(9).request_sync);
  // Already syncing: no second request.
  CHECK_FALSE(f.OnHeartbeat(10).request_sync);
  CHECK(f.syncing());
}

TEST_CASE("a sync behind our position is authoritative", "[nodes][streams]") {
  // A master restored from an older state answers with a full table at its own position.
  StreamFollower<C> f(50);
  f.Start();
  auto step = f.OnSynced(20);
  CHECK(f.applied() == 20);
  CHECK_FALSE(step.request_sync);
  CHECK(Of(f.OnDelta(Seqs({21})).apply) == std::vector<std::uint64_t>{21});
}
