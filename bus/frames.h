// Moving multipart messages between a socket and Frames, shared by the bus's socket types.
// Private to bus/.
#pragma once

#include <string>

#include <zmq.hpp>

#include "zcluster/bus/sockets.h"

namespace zcluster::bus {

// The rest of the message whose first frame is `first` (already queued: never blocks). Keeps at
// most kMaxFrames and sets `too_many` when more arrived.
Frames TakeFrames(zmq::socket_t& s, zmq::message_t& first, bool* too_many);
// Sends without blocking, after `routing_id` when given. Unavailable when the message cannot be
// queued now or the peer is not connected.
Status SendFrames(zmq::socket_t& s, const std::string* routing_id, const Frames& frames);
// The same, but a large frame's bytes are handed to libzmq instead of copied (a chunk reply or
// a whole agent listing is megabytes, and each copy holds the loop).
Status SendFrames(zmq::socket_t& s, const std::string* routing_id, Frames&& frames);

}  // namespace zcluster::bus
