// Channel membership: who holds each inspection's keys, revocation.
#include "app/workspace.h"

#include <algorithm>
#include <set>

#include "app/files.h"
#include "app/workspace_parts.h"
#include "sync/changeset_codec.h"
#include "sync/file_io.h"
#include "sync/keyfile.h"
#include "sync/record_fields.h"
#include "sync/uuid.h"

namespace xs::app {
namespace fs = std::filesystem;
using namespace parts;

// ---------------------------------------------------------------- channel membership

AResult<std::vector<std::string>> Workspace::devicesOf(const std::string& personId) {
    auto all = m_log->devices();
    if (!all) return fromSync(all.error());
    std::vector<std::string> out;
    for (const auto& d : *all)
        if (d.principal == personId && !d.revokedSeq) out.push_back(d.id);
    return out;
}

AResult<std::map<std::string, std::vector<sync::ChannelMember>>> Workspace::wantedMembers(const std::string& inspectionId,
                                                                                          const Json& inspection) {
    const std::vector<std::string> team = textsOf(inspection, "team");
    std::vector<rules::PersonRole> people;
    auto s = m_store->db().prepare("SELECT id, role, COALESCE(unit_id, '') FROM people ORDER BY id");
    if (!s) return fromSync(s.error());
    for (;;) {
        auto row = s->step();
        if (!row) return fromSync(row.error());
        if (!*row) break;
        if (auto role = parseEnum<Role>(s->text(1))) people.push_back({s->text(0), *role, s->text(2)});
    }
    s.value().reset();
    const auto readers = rules::inspectionReaders(team, textOf(inspection, "lead_id"), textOf(inspection, "unit_id"), people);
    std::map<std::string, std::vector<sync::ChannelMember>> out;
    auto add = [&](const std::string& channel, const std::vector<rules::ChannelReader>& who) -> AStatus {
        auto& list = out[channel];
        for (const auto& r : who) {
            auto devices = devicesOf(r.person);
            if (!devices) return devices.error();
            for (const auto& d : *devices) list.push_back({d, r.kinds});
        }
        return {};
    };
    XS_TRY_APP(add(teamChannel(inspectionId), readers.team));
    XS_TRY_APP(add(unitChannel(inspectionId), readers.unit));
    XS_TRY_APP(add(clueChannel(inspectionId), readers.clue));
    return out;
}

AResult<int> Workspace::revokeDevice(const std::string& deviceId) {
    auto root = m_log->trustRoot();
    if (!root) return fromSync(root.error());
    if (!*root || (*root)->device != m_log->deviceId())
        return refused("only the audit office's store (the registrar) revokes devices");
    if (deviceId == m_log->deviceId()) return refused("a store cannot revoke its own device");
    auto reg = m_log->device(deviceId);
    if (!reg) return fromSync(reg.error());
    if (!*reg) return fail(AppError::NotFound, "no enrolled device " + deviceId);
    if (!(*reg)->revokedSeq) {
        // The pin: the last change set of the device this office holds. Everything after it, from
        // wherever it comes and whatever time it claims, is refused on every replica.
        auto vv = m_log->versionVector();
        if (!vv) return fromSync(vv.error());
        std::int64_t last = vv->count(deviceId) ? vv->at(deviceId) : 0;
        crypto::Bytes hash;
        if (last > 0) {
            auto sets = m_store->db().prepare("SELECT hash FROM changesets WHERE device = ? AND seq = ?");
            if (!sets) return fromSync(sets.error());
            sets->bind(1, deviceId).bind(2, last);
            auto row = sets->step();
            if (!row) return fromSync(row.error());
            if (!*row) return fail(AppError::Failed, "the chain of device " + deviceId + " is damaged here");
            hash = sets->blob(0);
        }
        sync::Draft d;
        d.revokeDevice(deviceId, last, hash);
        auto cs = m_log->commit(d);
        if (!cs) return fromCommit(cs.error());
    }
    // The rotation derives from the revocation, so a crash in between is repaired by running
    // revoke again (or by any later membership update).
    return updateChannelMembers();
}

AResult<int> Workspace::updateChannelMembers() {
    auto list = m_store->db().prepare("SELECT id FROM inspections ORDER BY id");
    if (!list) return fromSync(list.error());
    std::vector<std::string> ids;
    XS_TRY_SYNC(list->collectTexts(ids));
    auto gone = m_log->shredded();
    if (!gone) return fromSync(gone.error());
    std::set<std::string> shredded;
    for (const auto& c : *gone) shredded.insert(c.channel);
    sync::Draft d;
    int changes = 0;
    for (const auto& id : ids) {
        auto channel = m_log->record(sync::kChannelKind, teamChannel(id));
        if (!channel || textOf(*channel, "admin") != m_log->deviceId()) continue;  // not ours to manage
        if (shredded.count(teamChannel(id))) continue;  // shredded here: managed no more
        auto inspection = m_log->record("inspection", id);
        if (!inspection) return fromSync(inspection.error());
        auto wanted = wantedMembers(id, *inspection);
        if (!wanted) return wanted.error();
        for (const auto& [ch, members] : *wanted) {
            auto current = m_log->members(ch);
            if (!current) return fromSync(current.error());
            std::set<std::string> have, want;
            for (const auto& m : *current) have.insert(m.device);
            for (const auto& m : members) {
                want.insert(m.device);
                if (!have.count(m.device)) {
                    d.addMember(ch, m);
                    ++changes;
                }
            }
            for (const auto& m : *current) {
                if (m.device == m_log->deviceId() || want.count(m.device)) continue;
                d.removeMember(ch, m.device);
                ++changes;
            }
        }
    }
    if (changes == 0) return 0;
    auto cs = m_log->commit(d);
    if (!cs) return fromCommit(cs.error());
    return changes;
}

}  // namespace xs::app
