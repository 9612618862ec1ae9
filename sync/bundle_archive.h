// The plaintext inside a handover bundle (docs/FORMATS.md "Handover bundle"), read without a store:
// the archive framing as the age decryptor releases it, and the manifest's own fields. importBundle
// (sync/bundle.h) runs these on what the office key decrypts, between its store-bound steps (the
// author's key, the signature, the scope's key, the apply session); they are separate so that
// tests/fuzz reaches them directly. Everything here is hostile input until the signature verifies.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>
#include "crypto/bytes.h"
#include "sync/changeset.h"
#include "sync/error.h"

namespace xs::sync {

constexpr std::uint8_t kBundleArchiveVersion = 3;  // 3: key envelopes inside the change sets, scoped evidence
constexpr int kManifestVersion = 2;

namespace archive {

enum RecordType : std::uint8_t { kEnd = 0, kManifest = 1, kSignature = 2, kChangeSet = 3, kEvidence = 4 };
constexpr char kMagic[4] = {'X', 'S', 'H', 'B'};
constexpr std::uint32_t kMaxNameLength = 256;

// type | u32 name length | name | u64 data length, big-endian.
crypto::Bytes recordHeader(std::uint8_t type, const std::string& name, std::uint64_t size);

// Parses the archive framing as plaintext arrives, in pieces of any size: the magic, version and
// suite, then each record's header (onRecord), its data in pieces (onData) and its end (onRecordEnd,
// also for empty data), then the end record. The callbacks judge names, types, sizes and order; the
// first error (theirs or the framing's: Invalid) is returned and feeding should stop there. Not
// thread-safe; the callbacks run on the feeding thread.
class Reader {
public:
    using OnRecord = std::function<SStatus(std::uint8_t type, const std::string& name, std::uint64_t size)>;
    using OnData = std::function<SStatus(crypto::ByteView)>;
    using OnRecordEnd = std::function<SStatus()>;
    Reader(OnRecord onRecord, OnData onData, OnRecordEnd onEnd)
        : m_onRecord(std::move(onRecord)), m_onData(std::move(onData)), m_onEnd(std::move(onEnd)) {}

    SStatus feed(crypto::ByteView in);
    // The end record was read (nothing may follow it).
    bool ended() const { return m_ended; }

private:
    SStatus parseHead();

    OnRecord m_onRecord;
    OnData m_onData;
    OnRecordEnd m_onEnd;
    std::vector<std::uint8_t> m_head;  // the record header read so far
    std::uint64_t m_left = 0;          // data bytes of the current record still to come
    bool m_sawMagic = false;
    bool m_ended = false;
};

}  // namespace archive

// Refuses more than this much manifest text (the archive refuses a larger record before).
constexpr std::size_t kMaxManifestText = 64 * 1024 * 1024;

// The manifest's text parsed and its header checked, before its signature is: format, version,
// creation time, suite. Invalid otherwise. The author device is read by the caller (a string, or
// empty, which no device is).
SResult<Json> parseManifestHead(std::string_view text);

// The manifest's lists, once its signature verified: change set id -> hash hex, evidence hash ->
// size. Invalid when either list is missing or an entry lacks a field of the right type.
struct ManifestLists {
    std::map<std::string, std::string> changeSets;
    std::map<std::string, std::uint64_t> evidence;
};
SResult<ManifestLists> parseManifestLists(const Json& manifest);

}  // namespace xs::sync
