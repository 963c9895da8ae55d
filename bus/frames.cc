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

Status SendFrames(zmq::socket_t& s, const std::string* routing_id, const Frames& frames) {
  try {
    if (routing_id != nullptr) {
      auto r =
          s.send(zmq::buffer(*routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      if (!r) return Status::Unavailable("send queue full");
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = zmq::send_flags::dontwait;
      if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
      auto r = s.send(zmq::buffer(frames[i]), flags);
      if (!r) return Status::Unavailable("send queue full or no connection");
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return Status::Unavailable("peer not connected");
    return Status::Internal(std::string("send: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace zcluster::bus
