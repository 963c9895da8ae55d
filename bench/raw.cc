// The raw scenario: what this machine does with the same libraries and message sizes and no
// cluster logic (no ZAP, no sessions, no streams), in this one process. The other scenarios print
// their ratio to these figures.
#include <sys/resource.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>
#include <msgpack.hpp>

#include "bench_clock.h"
#include "zcluster/agent_sim/agent_simulator.h"
#include "zcluster/bench/scenarios.h"
#include "zcluster/bus/curve_keys.h"
#include "zcluster/nodes/agent_auth.h"
#include "zcluster/schemas/agents.h"
#include "zcluster/schemas/groups.h"
#include "zcluster/store/node_store.h"
#include "zcluster/store/records.h"

namespace zcluster::bench {
namespace {

void CurveServer(zmq::socket_t& s, const bus::CurveKeyPair& keys) {
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, keys.secret_z85);
}

void CurveClient(zmq::socket_t& s, const bus::CurveKeyPair& own, const std::string& server) {
  s.set(zmq::sockopt::curve_serverkey, server);
  s.set(zmq::sockopt::curve_publickey, own.public_z85);
  s.set(zmq::sockopt::curve_secretkey, own.secret_z85);
}

void SendFrames(zmq::socket_t& s, const schemas::Frames& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    s.send(zmq::buffer(frames[i]),
           i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

// Messages per second from one CURVE DEALER to a ROUTER, timed from the first arrival (the
// handshake is not part of it) to the last.
double DealerToRouter(const schemas::Frames& message, std::size_t count) {
  zmq::context_t ctx(1);
  bus::CurveKeyPair server = *bus::GenerateKeyPair(), client = *bus::GenerateKeyPair();
  zmq::socket_t router(ctx, zmq::socket_type::router);
  CurveServer(router, server);
  router.bind("tcp://127.0.0.1:*");
  std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::thread sender([&] {
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    CurveClient(dealer, client, server.public_z85);
    dealer.connect(endpoint);
    for (std::size_t i = 0; i < count; ++i) SendFrames(dealer, message);
    // Lingers until everything is delivered: the context's close waits.
  });
  Clock::time_point first{};
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(router, std::back_inserter(parts));
    if (i == 0) first = Clock::now();
  }
  double seconds = Seconds(Clock::now() - first);
  sender.join();
  return static_cast<double>(count - 1) / std::max(seconds, 1e-9);
}

// Group changes per second delivered to `subscribers` CURVE SUBs by one PUB, in deltas of
// `batch` changes, as the master publishes them.
double PubToSubs(std::size_t subscribers, std::size_t batch, std::size_t messages) {
  zmq::context_t ctx(1);
  bus::CurveKeyPair server = *bus::GenerateKeyPair();
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  CurveServer(pub, server);
  pub.set(zmq::sockopt::sndhwm, 0);  // nothing dropped: this is the delivery limit
  pub.bind("tcp://127.0.0.1:*");
  std::string endpoint = pub.get(zmq::sockopt::last_endpoint);
  std::vector<zmq::socket_t> subs;
  for (std::size_t i = 0; i < subscribers; ++i) {
    subs.emplace_back(ctx, zmq::socket_type::sub);
    CurveClient(subs.back(), *bus::GenerateKeyPair(), server.public_z85);
    subs.back().set(zmq::sockopt::rcvhwm, 0);
    subs.back().set(zmq::sockopt::subscribe, "");
    subs.back().connect(endpoint);
  }
  std::vector<zmq::pollitem_t> items;
  for (auto& s : subs) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
  // A subscription takes a moment to reach the PUB: publish markers until every SUB hears one.
  std::vector<bool> joined(subscribers, false);
  std::size_t joined_count = 0;
  auto warm_deadline = Clock::now() + std::chrono::seconds(30);
  while (joined_count < subscribers && Clock::now() < warm_deadline) {
    pub.send(zmq::str_buffer("w"), zmq::send_flags::none);
    zmq::poll(items, std::chrono::milliseconds(1));
    for (std::size_t i = 0; i < subscribers; ++i) {
      zmq::message_t m;
      while (subs[i].recv(m, zmq::recv_flags::dontwait)) {
        if (!joined[i]) {
          joined[i] = true;
          ++joined_count;
        }
      }
    }
  }
  schemas::GroupsDelta delta;
  for (std::size_t i = 0; i < batch; ++i) {
    delta.changes.push_back({i + 1, fmt::format("{:03}", 100000 + i), {"default", "web"}});
  }
  schemas::Frames frames = schemas::Encode(delta);
  auto start = Clock::now();
  std::thread sender([&] {
    for (std::size_t i = 0; i < messages; ++i) SendFrames(pub, frames);
  });
  std::vector<std::size_t> got(subscribers, 0);
  std::size_t done = 0;
  while (done < subscribers) {
    zmq::poll(items, std::chrono::milliseconds(100));
    for (std::size_t i = 0; i < subscribers; ++i) {
      std::vector<zmq::message_t> parts;
      while (zmq::recv_multipart(subs[i], std::back_inserter(parts), zmq::recv_flags::dontwait)) {
        if (parts.size() == 2 && ++got[i] == messages) ++done;
        parts.clear();
      }
    }
  }
  double seconds = Seconds(Clock::now() - start);
  sender.join();
  return static_cast<double>(messages * batch * subscribers) / seconds;
}

// The byte ranges of the elements of the `updates` array in an agent_info body, and each one's
// id, read in place: msgpack-c's parser over the frame, strings referencing it, nothing built.
struct RawUpdate {
  std::string_view id, bytes;
};

// Keeps the first "id" of an update's own map while msgpack-c's parser walks the update.
class UpdateIdVisitor : public msgpack::null_visitor {
 public:
  bool start_map(std::uint32_t) { return Down(); }
  bool end_map() { return Up(); }
  bool start_array(std::uint32_t) { return Down(); }
  bool end_array() { return Up(); }
  bool start_map_key() {
    in_key_ = true;
    return true;
  }
  bool end_map_key() {
    in_key_ = false;
    return true;
  }
  bool visit_str(const char* p, std::uint32_t n) {
    std::string_view s(p, n);
    if (depth_ != 1) return true;
    if (in_key_) {
      is_id_ = s == "id";
    } else if (is_id_ && id.empty()) {
      id = s;
    }
    return true;
  }
  std::string_view id;

 private:
  bool Down() {
    ++depth_;
    return true;
  }
  bool Up() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  bool in_key_ = false, is_id_ = false;
};

std::size_t ReadArrayHeader(std::string_view body, std::size_t& off) {
  auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(body.at(off + i)); };
  std::uint8_t tag = byte(0);
  if ((tag & 0xf0) == 0x90) return ++off, tag & 0x0f;
  if (tag == 0xdc) return off += 3, static_cast<std::size_t>(byte(-2) << 8 | byte(-1));
  if (tag == 0xdd) {
    std::size_t n = 0;
    for (int i = 1; i <= 4; ++i) n = n << 8 | byte(static_cast<std::size_t>(i));
    off += 5;
    return n;
  }
  throw std::runtime_error("updates is not an array");
}

std::vector<RawUpdate> SplitUpdates(std::string_view body) {
  auto reference = [](msgpack::type::object_type, std::size_t, void*) { return true; };
  std::size_t off = 0;
  msgpack::object_handle top;
  // The body is a map; its header says how many keys.
  std::uint8_t tag = static_cast<std::uint8_t>(body.at(0));
  if ((tag & 0xf0) != 0x80) throw std::runtime_error("body is not a small map");
  std::size_t keys = tag & 0x0f;
  off = 1;
  std::vector<RawUpdate> out;
  for (std::size_t k = 0; k < keys; ++k) {
    msgpack::object_handle key = msgpack::unpack(body.data(), body.size(), off, reference);
    if (key.get().as<std::string_view>() != "updates") {
      (void)msgpack::unpack(body.data(), body.size(), off, reference);
      continue;
    }
    std::size_t n = ReadArrayHeader(body, off);
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t begin = off;
      UpdateIdVisitor v;
      if (!msgpack::parse(body.data(), body.size(), off, v)) {
        throw std::runtime_error("malformed update");
      }
      out.push_back({v.id, body.substr(begin, off - begin)});
    }
  }
  return out;
}

// A fresh RocksDB in `dir` for one raw figure, with the store's memtable size and no
// compression; `insert_hint` as the agent tables have it.
Result<std::unique_ptr<rocksdb::DB>> OpenScratchDb(const std::string& dir, bool insert_hint) {
  std::filesystem::remove_all(dir);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kNoCompression;
  options.write_buffer_size = 8 << 20;
  if (insert_hint) {
    options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return Status::Unavailable("raw: rocksdb: " + s.ToString());
  return std::unique_ptr<rocksdb::DB>(raw);
}

// Agent records per second with libmsgpack and RocksDB alone: an agent_info batch frame parsed
// in place, and one synced WriteBatch of its records (each update's bytes as they came) in key
// order, into a table whose memtable keeps an insert hint, as the store's agent table does. No
// zcluster code between the frame and the disk: the limit the master's drain is measured
// against.
Result<double> ParseAndStore(const schemas::Frames& frames, std::size_t batches) {
  std::string dir =
      std::filesystem::temp_directory_path() / fmt::format("zcb-raw-db-{}", ::getpid());
  double rate = 0;
  {
    Result<std::unique_ptr<rocksdb::DB>> opened = OpenScratchDb(dir, true);
    if (!opened.ok()) return opened.status();
    std::unique_ptr<rocksdb::DB> db = std::move(*opened);
    rocksdb::Status s;
    rocksdb::WriteOptions sync;
    sync.sync = true;
    std::size_t records = 0;
    auto start = Clock::now();
    for (std::size_t b = 0; b < batches; ++b) {
      std::vector<RawUpdate> updates;
      try {
        updates = SplitUpdates(frames[1]);
      } catch (const std::exception& e) {
        return Status::Internal(std::string("raw: parse: ") + e.what());
      }
      std::sort(updates.begin(), updates.end(),
                [](const RawUpdate& x, const RawUpdate& y) { return x.id < y.id; });
      rocksdb::WriteBatch batch;
      for (const RawUpdate& u : updates) {
        batch.Put(rocksdb::Slice(u.id.data(), u.id.size()),
                  rocksdb::Slice(u.bytes.data(), u.bytes.size()));
      }
      s = db->Write(sync, &batch);
      if (!s.ok()) return Status::Unavailable("raw: rocksdb: " + s.ToString());
      records += updates.size();
    }
    rate = static_cast<double>(records) / Seconds(Clock::now() - start);
  }
  std::filesystem::remove_all(dir);
  return rate;
}

// Keepalive-sized rows per second with RocksDB alone: `updates` rows of 28 bytes, one per agent
// of `agents`, in synced WriteBatches of 8,000 agents taken at random and sorted, into a table
// whose memtable keeps an insert hint (the best RocksDB offers for that). What one row per
// keepalive can reach on this machine, against which the master's keepalive drain is measured.
Result<double> SeenRowsStore(std::size_t agents, std::size_t updates) {
  std::string dir =
      std::filesystem::temp_directory_path() / fmt::format("zcb-raw-seen-{}", ::getpid());
  double rate = 0;
  {
    Result<std::unique_ptr<rocksdb::DB>> opened = OpenScratchDb(dir, true);
    if (!opened.ok()) return opened.status();
    std::unique_ptr<rocksdb::DB> db = std::move(*opened);
    rocksdb::Status s;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < agents; ++i) ids.push_back(fmt::format("{:06}", i + 1));
    std::mt19937_64 rng(1);
    const std::string row(28, 'k');
    rocksdb::WriteOptions sync;
    sync.sync = true;
    constexpr std::size_t kGroup = 8000;
    std::vector<std::string> group;
    auto start = Clock::now();
    for (std::size_t done = 0; done < updates; done += group.size()) {
      group.clear();
      for (std::size_t i = 0; i < kGroup && done + i < updates; ++i) {
        group.push_back(ids[rng() % agents]);
      }
      std::sort(group.begin(), group.end());
      rocksdb::WriteBatch batch;
      for (const std::string& id : group) batch.Put(id, row);
      s = db->Write(sync, &batch);
      if (!s.ok()) return Status::Unavailable("raw: rocksdb: " + s.ToString());
    }
    rate = static_cast<double>(updates) / Seconds(Clock::now() - start);
  }
  std::filesystem::remove_all(dir);
  return rate;
}

// The same batches as the master reads and stores them: ReadAgentInfo of the body, each record's
// row around its state's bytes, one synced NodeStore write. What zcluster's code costs against
// the figure above.
Result<double> DecodeAndStore(const schemas::Frames& frames, std::size_t batches) {
  std::string dir = std::filesystem::temp_directory_path() / fmt::format("zcb-raw-{}", ::getpid());
  std::filesystem::remove_all(dir);
  double rate = 0;
  {
    Result<std::unique_ptr<store::NodeStore>> db =
        store::NodeStore::Open(dir, {"bench", "raw", "master"});
    if (!db.ok()) return db.status();
    std::size_t records = 0;
    auto start = Clock::now();
    for (std::size_t b = 0; b < batches; ++b) {
      Result<schemas::AgentInfoView> view = schemas::ReadAgentInfo(frames[1]);
      if (!view.ok()) return view.status();
      store::StoreBatch writes;
      for (const schemas::AgentUpdateView& u : view->updates) {
        if (!u.state_as_is) return Status::Internal("raw: a state the encoder wrote is not as-is");
        writes.Put(store::Table::kAgents, std::string(u.id),
                   store::EncodeAgentRowOfState(u.id, u.state, "w", u.counter));
        ++records;
      }
      ZC_RETURN_IF_ERROR((*db)->Write(writes));
    }
    rate = static_cast<double>(records) / Seconds(Clock::now() - start);
  }
  std::filesystem::remove_all(dir);
  return rate;
}

// Agent reports per second through one step of the worker's agent path alone.
double ReportDecodes(const schemas::Frames& report, std::size_t count) {
  auto start = Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    Result<schemas::Message> m = schemas::Decode(report);
    if (!m.ok()) return 0;
    Result<schemas::AgentState> state =
        schemas::DecodeAgentState(std::get<schemas::AgentReport>(*m).state);
    if (!state.ok()) return 0;
  }
  return static_cast<double>(count) / Seconds(Clock::now() - start);
}

double ReportVerifications(const nodes::ClientKeys& keys, const schemas::AgentReport& report,
                           std::size_t count) {
  nodes::ReportVerifier verifier;
  verifier.SetKeys(keys);
  auto start = Clock::now();
  std::size_t ok = 0;
  for (std::size_t i = 0; i < count; ++i) {
    // The MAC is checked before the counter: after the first, each one is a replay refused only
    // once its MAC has been verified, so every call costs a verification.
    nodes::ReportVerdict v = verifier.Verify(report);
    ok += v.ok() || v.refusal == nodes::ReportRefusal::kReplayed ? 1 : 0;
  }
  double rate = static_cast<double>(count) / Seconds(Clock::now() - start);
  return ok == count ? rate : 0;
}

// CURVE handshakes per second: `clients` DEALERs, each with its own key, connect at once to one
// ROUTER and send one message; timed until the ROUTER has them all.
double Handshakes(std::size_t clients) {
  zmq::context_t ctx(1);
  bus::CurveKeyPair server = *bus::GenerateKeyPair();
  zmq::socket_t router(ctx, zmq::socket_type::router);
  CurveServer(router, server);
  router.set(zmq::sockopt::backlog, 4096);  // as many pending connections as the kernel allows
  router.bind("tcp://127.0.0.1:*");
  std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::vector<bus::CurveKeyPair> keys;
  for (std::size_t i = 0; i < clients; ++i) keys.push_back(*bus::GenerateKeyPair());
  std::vector<zmq::socket_t> dealers;
  auto start = Clock::now();
  for (std::size_t i = 0; i < clients; ++i) {
    dealers.emplace_back(ctx, zmq::socket_type::dealer);
    CurveClient(dealers.back(), keys[i], server.public_z85);
    dealers.back().set(zmq::sockopt::linger, 0);
    dealers.back().connect(endpoint);
    dealers.back().send(zmq::str_buffer("hello"), zmq::send_flags::none);
  }
  for (std::size_t i = 0; i < clients; ++i) {
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(router, std::back_inserter(parts));
  }
  return static_cast<double>(clients) / Seconds(Clock::now() - start);
}

}  // namespace

Result<ScenarioResult> RunRaw(const BenchOptions& o, RawFigures* raw) {
  auto start = Clock::now();
  ScenarioResult r;
  r.scenario = "raw";
  std::size_t subscribers = o.workers ? o.workers : 16;
  std::size_t scale = o.smoke ? 20 : 1;
  // The messages of the agent-info flow: one agent report, and one full batch.
  nodes::ClientKeys keys;
  (void)keys.Add("agent-raw", "any");
  const nodes::ClientKey& k = keys.entries().front();
  schemas::Frames report = schemas::Encode(nodes::SignReport(
      k.id, 1, nodes::SimulatedAgentState(k.name, 1), nodes::DeriveAgentMacKey(k.key)));
  schemas::AgentInfoBatch batch;
  for (std::size_t i = 0; i < 2000; ++i) {
    batch.updates.push_back(
        {fmt::format("{:03}", i + 1), true, nodes::SimulatedAgentState("a", i)});
  }
  schemas::Frames batch_frames = schemas::Encode(batch);
  std::size_t report_bytes = report[0].size() + report[1].size();
  std::size_t batch_bytes = batch_frames[0].size() + batch_frames[1].size();
  r.parameters = {{"subscribers", std::to_string(subscribers)},
                  {"report_bytes", std::to_string(report_bytes)},
                  {"batch_bytes", std::to_string(batch_bytes)}};

  if (o.progress) o.progress("raw: CURVE DEALER->ROUTER");
  raw->report_msgs_per_s = DealerToRouter(report, 400000 / scale);
  double batches_per_s = DealerToRouter(batch_frames, 400 / scale);
  raw->batch_mb_per_s = batches_per_s * static_cast<double>(batch_bytes) / 1e6;
  if (o.progress) o.progress("raw: CURVE PUB->SUB");
  raw->subscribers = subscribers;
  raw->changes_per_s = PubToSubs(subscribers, 5000, 100 / scale);
  if (o.progress) o.progress("raw: msgpack parse + RocksDB write");
  Result<double> pipeline = ParseAndStore(batch_frames, 100 / scale);
  if (!pipeline.ok()) return pipeline.status();
  raw->pipeline_records_per_s = *pipeline;
  Result<double> codec = DecodeAndStore(batch_frames, 100 / scale);
  if (!codec.ok()) return codec.status();
  Result<double> seen = SeenRowsStore(300000 / scale, 600000 / scale);
  if (!seen.ok()) return seen.status();
  raw->seen_rows_per_s = *seen;
  if (o.progress) o.progress("raw: the agent path's steps");
  schemas::AgentReport signed_report = std::get<schemas::AgentReport>(*schemas::Decode(report));
  double decodes = ReportDecodes(report, 200000 / scale);
  double verifies = ReportVerifications(keys, signed_report, 200000 / scale);
  if (o.progress) o.progress("raw: CURVE handshakes");
  raw->handshakes_per_s = Handshakes(o.smoke ? 50 : 1000);

  r.figures = {
      Figure("CURVE DEALER->ROUTER, agent reports", raw->report_msgs_per_s, "msgs/s"),
      Figure("CURVE DEALER->ROUTER, agent-info batches", raw->batch_mb_per_s, "MB/s"),
      Figure("  as agent records", batches_per_s * 2000, "records/s"),
      Figure(fmt::format("CURVE PUB->SUB x{}, group changes delivered", subscribers),
             raw->changes_per_s, "changes/s"),
      Figure("msgpack parse in place + RocksDB synced WriteBatch", raw->pipeline_records_per_s,
             "records/s"),
      Figure("  through zcluster's codec (ReadAgentInfo, row of the state's bytes, NodeStore)",
             *codec, "records/s")
          .Ratio(*codec / raw->pipeline_records_per_s, "msgpack + RocksDB"),
      Figure("RocksDB synced WriteBatch of 28-byte rows, 8,000 sorted keys", raw->seen_rows_per_s,
             "rows/s"),
      Figure("agent report: msgpack decode of report and state", decodes, "reports/s"),
      Figure("agent report: HMAC-SHA-512-256 verification", verifies, "reports/s"),
      Figure("CURVE handshakes (connect + first message)", raw->handshakes_per_s, "handshakes/s"),
  };
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace zcluster::bench
