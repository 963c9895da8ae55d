#include "zcluster/schemas/files.h"

#include "codec.h"

namespace zcluster::schemas {
namespace {

using codec::FieldReader;
using codec::MapWriter;

void PackEntry(msgpack::sbuffer& b, const FileEntry& e) {
  MapWriter(b, 4).str("path", e.path).str("hash", e.hash).uint("size", e.size).uint("mode", e.mode);
}

void PackChanges(msgpack::sbuffer& b, msgpack::packer<msgpack::sbuffer>& pk,
                 const std::vector<FileChange>& changes) {
  pk.pack_array(static_cast<std::uint32_t>(changes.size()));
  for (const FileChange& c : changes) {
    MapWriter w(b, c.content.empty() ? 3 : 4);
    w.uint("seq", c.seq).boolean("deleted", c.deleted);
    if (!c.content.empty()) w.bin("content", c.content);
    w.key("entry");
    PackEntry(b, c.entry);
  }
}

bool IsHexHash(std::string_view h) {
  if (h.size() != 64) return false;
  for (char c : h) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

FileEntry ReadEntryFields(FieldReader& r) {
  FileEntry e;
  e.path = r.str("path", kMaxPathLength);
  e.hash = r.str("hash", 64);
  e.size = r.uint("size");
  e.mode = static_cast<std::uint32_t>(r.uint("mode", 07777));
  if (r.status().ok() && !IsSafeRelativePath(e.path)) {
    r.Fail(r.Field("path") + " is not a safe relative path: '" + e.path + "'");
  }
  if (r.status().ok() && !e.hash.empty() && !IsHexHash(e.hash)) {
    r.Fail(r.Field("hash") + " must be 64 hex characters");
  }
  return e;
}

std::vector<FileChange> ReadChanges(FieldReader& r, std::string_view key) {
  return codec::ReadStreamChanges<FileChange>(r, key, kMaxStreamChanges, [](FieldReader& c) {
    FileChange ch;
    ch.seq = c.uint("seq");
    ch.deleted = c.boolean("deleted");
    if (c.has("content")) ch.content = c.bin("content", kMaxInlineBytes + 4096);
    if (const msgpack::object* e = c.map("entry")) {
      FieldReader er(*e, c, "entry");
      ch.entry = ReadEntryFields(er);
      if (!er.status().ok()) c.Fail(er.status().message());
    }
    return ch;
  });
}

}  // namespace

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.size() > kMaxPathLength || path.front() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.size() > 255) return false;
    for (char c : part) {
      if (c == '\0' || c == '\\') return false;
    }
    start = end + 1;
  }
  return true;
}

namespace codec {

void EncodeBody(msgpack::sbuffer& b, const FilesDelta& m) {
  MapWriter w(b, 1);
  PackChanges(b, w.key("changes"), m.changes);
}
void EncodeBody(msgpack::sbuffer& b, const FilesSyncRequest& m) {
  MapWriter(b, 1).uint("from", m.from);
}
void EncodeBody(msgpack::sbuffer& b, const FilesSync& m) {
  MapWriter w(b, 3);
  w.uint("seq", m.seq).boolean("full", m.full);
  if (m.full) {
    w.key("files").pack_array(static_cast<std::uint32_t>(m.files.size()));
    for (const FileEntry& e : m.files) PackEntry(b, e);
  } else {
    PackChanges(b, w.key("changes"), m.changes);
  }
}
void EncodeBody(msgpack::sbuffer& b, const FileFetch& m) {
  MapWriter w(b, 1);
  w.key("chunks").pack_array(static_cast<std::uint32_t>(m.chunks.size()));
  for (const ChunkRequest& c : m.chunks) {
    MapWriter(b, 4)
        .str("path", c.path)
        .str("hash", c.hash)
        .uint("offset", c.offset)
        .uint("length", c.length);
  }
}
void EncodeBody(msgpack::sbuffer& b, const FileData& m) {
  MapWriter w(b, 1);
  w.key("chunks").pack_array(static_cast<std::uint32_t>(m.chunks.size()));
  for (const FileChunk& c : m.chunks) {
    MapWriter(b, 7)
        .str("path", c.path)
        .str("hash", c.hash)
        .uint("offset", c.offset)
        .uint("size", c.size)
        .boolean("stale", c.stale)
        .bin("data", c.data)
        .uint("raw_length", c.raw_length);
  }
}
void EncodeBody(msgpack::sbuffer& b, const FileTableQuery&) { MapWriter(b, 0); }
void EncodeBody(msgpack::sbuffer& b, const FileTable& m) {
  MapWriter w(b, 2);
  w.uint("seq", m.seq);
  w.key("files").pack_array(static_cast<std::uint32_t>(m.files.size()));
  for (const FileEntry& e : m.files) PackEntry(b, e);
}

std::optional<Result<Message>> DecodeFileBody(std::string_view type, FieldReader& r) {
  auto finish = [&r](Message m) -> Result<Message> {
    if (!r.status().ok()) return r.status();
    return m;
  };
  if (type == FilesDelta::kType) return finish(FilesDelta{ReadChanges(r, "changes")});
  if (type == FilesSyncRequest::kType) return finish(FilesSyncRequest{r.uint("from")});
  if (type == FilesSync::kType) {
    FilesSync m;
    m.seq = r.uint("seq");
    m.full = r.boolean("full");
    if (m.full) {
      m.files = codec::ReadList<FileEntry>(r, "files", kMaxStreamChanges, ReadEntryFields);
    } else {
      m.changes = ReadChanges(r, "changes");
    }
    return finish(std::move(m));
  }
  if (type == FileFetch::kType) {
    return finish(
        FileFetch{ReadList<ChunkRequest>(r, "chunks", kMaxFetchChunks, [](FieldReader& c) {
          ChunkRequest q{c.str("path", kMaxPathLength), c.str("hash", 64), c.uint("offset"),
                         c.uint("length", kMaxChunkBytes)};
          if (c.status().ok() && !IsSafeRelativePath(q.path)) c.Fail("file_fetch: unsafe path");
          return q;
        })});
  }
  if (type == FileData::kType) {
    return finish(FileData{ReadList<FileChunk>(r, "chunks", kMaxFetchChunks, [](FieldReader& c) {
      FileChunk k;
      k.path = c.str("path", kMaxPathLength);
      k.hash = c.str("hash", 64);
      k.offset = c.uint("offset");
      k.size = c.uint("size");
      k.stale = c.boolean("stale");
      k.data = c.bin("data", kMaxChunkBytes + 65536);
      k.raw_length = c.uint("raw_length", kMaxChunkBytes);
      if (c.status().ok() && !IsSafeRelativePath(k.path)) c.Fail("file_data: unsafe path");
      return k;
    })});
  }
  if (type == FileTableQuery::kType) return finish(FileTableQuery{});
  if (type == FileTable::kType) {
    FileTable m;
    m.seq = r.uint("seq");
    m.files = codec::ReadList<FileEntry>(r, "files", kMaxStreamChanges, ReadEntryFields);
    return finish(std::move(m));
  }
  return std::nullopt;
}

}  // namespace codec
}  // namespace zcluster::schemas
