// Online enrolment by one-time code: the code, what is derived from it, and the framing of the
// presentation and the answer (sync/net/protocol.h, docs/PROTOCOL.md "Online enrolment").
#include <cstring>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "sync/changeset_codec.h"
#include "sync/net/protocol.h"

namespace xs::sync::net {
namespace {

constexpr const char* kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

crypto::SecretBytes derive(const std::string& code, const char* info) {
    auto k = crypto::hkdfSha256(crypto::asBytes(code), crypto::asBytes("xunshen-invite-v1"), crypto::asBytes(info), 32);
    return k ? std::move(*k) : crypto::SecretBytes(32);  // 32 bytes never fails
}

void putLp(crypto::Bytes& out, std::string_view s) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(s.size() >> (8 * i)));
    out.insert(out.end(), s.begin(), s.end());
}

std::string mac(crypto::ByteView key, std::string_view label, std::initializer_list<std::string_view> parts) {
    crypto::Bytes input;
    putLp(input, label);
    for (auto p : parts) putLp(input, p);
    return crypto::toHex(crypto::hmacSha256(key, input));
}

std::string hashHex(std::string_view s) { return crypto::toHex(crypto::sha256(crypto::asBytes(s))); }

bool isLowerHex64(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string newInviteCode() {
    auto r = crypto::randomBytes(kInviteCodeSymbols);
    std::string code;
    for (std::size_t i = 0; i < kInviteCodeSymbols; ++i) {
        if (i > 0 && i % 5 == 0) code += '-';
        code += kCrockford[r ? ((*r)[i] & 31) : 0];  // 5 of each byte's bits: uniform over 32 symbols
    }
    return r ? code : std::string();
}

SResult<std::string> normaliseInviteCode(std::string_view typed) {
    if (typed.size() > 64) return fail(SyncError::Invalid, "an invitation code is 20 letters and digits");
    std::string out;
    for (char c : typed) {
        if (c == '-' || c == ' ') continue;
        char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
        if (u == 'O') u = '0';
        if (u == 'I' || u == 'L') u = '1';
        if (!std::strchr(kCrockford, u) || u == '\0')
            return fail(SyncError::Invalid, std::string("an invitation code has no '") + c + "' (it is letters and digits)");
        out += u;
    }
    if (out.size() != kInviteCodeSymbols)
        return fail(SyncError::Invalid, "an invitation code is 20 letters and digits (this one has " + std::to_string(out.size()) + ")");
    return out;
}

InviteKeys inviteKeys(const std::string& canonicalCode) {
    auto id = derive(canonicalCode, "id");
    return {crypto::toHex(id.view()), derive(canonicalCode, "server"), derive(canonicalCode, "office")};
}

std::string joinPresentMac(crypto::ByteView serverKey, const std::string& id, std::string_view body) {
    return mac(serverKey, "xs-join-present-v1", {id, hashHex(body)});
}

std::string joinFetchMac(crypto::ByteView serverKey, const std::string& id, std::int64_t timestampMs) {
    return mac(serverKey, "xs-join-fetch-v1", {id, std::to_string(timestampMs)});
}

std::string presentationBody(crypto::ByteView officeKey, const std::string& id, const std::string& deviceFileText) {
    return Json{{"device", deviceFileText}, {"mac", mac(officeKey, "xs-join-device-v1", {id, hashHex(deviceFileText)})}}.dump();
}

SResult<Presentation> parsePresentation(std::string_view body) {
    auto j = parseBoundedJson(body, kMaxPresentationBytes, "join presentation");
    if (!j) return j.error();
    if (!j->is_object() || j->size() != 2 || !j->contains("device") || !(*j)["device"].is_string() ||
        !j->contains("mac") || !(*j)["mac"].is_string() || !isLowerHex64((*j)["mac"].get<std::string>()))
        return fail(SyncError::Invalid, "a join presentation is {\"device\": \"<identity file>\", \"mac\": \"<64 hex>\"}");
    return Presentation{(*j)["device"].get<std::string>(), (*j)["mac"].get<std::string>()};
}

bool presentationAuthentic(crypto::ByteView officeKey, const std::string& id, const Presentation& p) {
    auto want = mac(officeKey, "xs-join-device-v1", {id, hashHex(p.deviceFileText)});
    return crypto::constantTimeEqual(crypto::asBytes(want), crypto::asBytes(p.mac));
}

std::string joinAnswer(crypto::ByteView officeKey, const std::string& id, std::string_view presentation,
                       const std::string& enrolmentText) {
    return mac(officeKey, "xs-join-answer-v1", {id, hashHex(presentation), hashHex(enrolmentText)}) + "\n" + enrolmentText;
}

SResult<std::string> openJoinAnswer(crypto::ByteView officeKey, const std::string& id, std::string_view presentation,
                                    std::string_view answer) {
    if (answer.size() < 65 || answer[64] != '\n' || !isLowerHex64(std::string(answer.substr(0, 64))))
        return fail(SyncError::Invalid, "the office's answer is not framed as <mac>\\n<enrolment file>");
    std::string text(answer.substr(65));
    auto want = mac(officeKey, "xs-join-answer-v1", {id, hashHex(presentation), hashHex(text)});
    if (!crypto::constantTimeEqual(crypto::asBytes(want), crypto::asBytes(answer.substr(0, 64))))
        return fail(SyncError::Corrupt,
                    "the enrolment answer is not from the office that made this code (altered on the way or by the server): not accepted");
    return text;
}

SResult<InviteFiling> parseInviteFiling(std::string_view body) {
    auto j = parseBoundedJson(body, 4096, "invitation");
    auto bad = [] { return fail(SyncError::Invalid, "an invitation is {\"id\": 64 hex, \"verifier\": 64 hex, \"expires_ms\": N}"); };
    if (!j) return bad();
    if (!j->is_object() || j->size() != 3 || !j->contains("id") || !(*j)["id"].is_string() || !j->contains("verifier") ||
        !(*j)["verifier"].is_string() || !j->contains("expires_ms") || !(*j)["expires_ms"].is_number_integer())
        return bad();
    const std::string id = (*j)["id"].get<std::string>();
    const std::string verifier = (*j)["verifier"].get<std::string>();
    if (!isLowerHex64(id) || !isLowerHex64(verifier)) return bad();
    auto key = crypto::fromHex(verifier);
    if (!key) return bad();
    return InviteFiling{id, std::move(*key), (*j)["expires_ms"].get<std::int64_t>()};
}

SResult<std::vector<WaitingPresentation>> parseWaitingPresentations(std::string_view body) {
    auto j = parseBoundedJson(body, kMaxResponseBytes, "invites answer");
    if (!j) return j.error();
    auto bad = [] { return fail(SyncError::Invalid, "the server's list of waiting presentations is malformed"); };
    if (!j->is_object() || j->size() != 1 || !j->contains("waiting") || !(*j)["waiting"].is_array()) return bad();
    const Json& list = (*j)["waiting"];
    if (list.size() > kMaxWaitingInvites) return bad();
    std::vector<WaitingPresentation> out;
    for (const auto& e : list) {
        if (!e.is_object() || e.size() != 2 || !e.contains("id") || !e["id"].is_string() || !isLowerHex64(e["id"].get<std::string>()) ||
            !e.contains("presentation") || !e["presentation"].is_string() ||
            e["presentation"].get<std::string>().size() > kMaxPresentationBytes)
            return bad();
        out.push_back({e["id"].get<std::string>(), e["presentation"].get<std::string>()});
    }
    return out;
}

}  // namespace xs::sync::net
