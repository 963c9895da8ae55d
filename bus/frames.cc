#include "frames.h"

namespace zcluster::bus {

Frames TakeFrames(zmq::socket_t& s, zmq::message_t& first, bool* too_many) {
  Frames frames;
  frames.emplace_back(first.to_string());
  bool more = first.more();
  zmq::message_t part;
  while (more) {
    // The rest of a multipart message is already queued: these receives never block.
    if (!s.recv(part, zmq::recv_flags::none)) break;
    more = part.more();
    if (frames.size() < kMaxFrames) {
      frames.emplace_back(part.to_string());
    } else {
      *too_many = true;
    }
  }
  return frames;
}

namespace {

// Below this a copy costs less than the allocation and the free on libzmq's I/O thread.
constexpr std::size_t kHandOverFrom = 64 << 10;

zmq::message_t CopiedMessage(const std::string& frame) {
  return zmq::message_t(frame.data(), frame.size());
}

zmq::message_t HandedOverMessage(std::string&& frame) {
  if (frame.size() < kHandOverFrom) return CopiedMessage(frame);
  auto* owned = new std::string(std::move(frame));
  try {
    // libzmq frees the bytes, on its own thread, once the last copy of the message is sent.
    return zmq::message_t(
        owned->data(), owned->size(),
        [](void*, void* hint) { delete static_cast<std::string*>(hint); }, owned);
  } catch (...) {
    delete owned;
    throw;
  }
}

template <typename MessageOf>
Status SendEach(zmq::socket_t& s, const std::string* routing_id, std::size_t count,
                MessageOf message_of) {
  try {
    if (routing_id != nullptr) {
      auto r =
          s.send(zmq::buffer(*routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      if (!r) return Status::Unavailable("send queue full");
    }
    for (std::size_t i = 0; i < count; ++i) {
      auto flags = zmq::send_flags::dontwait;
      if (i + 1 < count) flags = flags | zmq::send_flags::sndmore;
      auto r = s.send(message_of(i), flags);
      if (!r) return Status::Unavailable("send queue full or no connection");
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return Status::Unavailable("peer not connected");
    return Status::Internal(std::string("send: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace

Status SendFrames(zmq::socket_t& s, const std::string* routing_id, const Frames& frames) {
  return SendEach(s, routing_id, frames.size(),
                  [&frames](std::size_t i) { return CopiedMessage(frames[i]); });
}

Status SendFrames(zmq::socket_t& s, const std::string* routing_id, Frames&& frames) {
  return SendEach(s, routing_id, frames.size(),
                  [&frames](std::size_t i) { return HandedOverMessage(std::move(frames[i])); });
}

}  // namespace zcluster::bus
