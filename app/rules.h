// The procedure's rules (../shared/seed/README.md), as pure functions of plain values, and the
// OpValidator that applies them to every op a replica can read — committed here or received from
// another device — against the state at the op's causal position (sync/trust.h StateView). The
// same functions give Workspace its early, friendly refusals; the validator is what holds.
//
// Who an author is comes from the registrar's records only: the device's registration names a
// person of the organisation, and that person record's role is the role. An op whose author has
// no person record there is refused.
//
// What a replica does not check on apply: the one-week capture window (article 7(2)) depends on
// the day a capture happened, and no replica can know that but from the author's own clock; it is
// enforced where the capture is made, and the office sees every capture's time in its history.
#pragma once
#include <optional>
#include <string>
#include <vector>
#include "app/model.h"
#include "sync/oplog.h"

namespace xs::app::rules {

using sync::Verdict;
using Json = nlohmann::json;

// The years a round may start in (article 4: it covers start_year to start_year + 2, within four
// digits). Both the org import and the validator hold rounds to them.
constexpr int kFirstRoundYear = 1949;
constexpr int kLastRoundYear = 2200;

// The org channel: units, people and rounds by the organisation's owners (the audit office and
// the leading group); inspection plans by the audit office, the working-group lead, the leader
// or the executive deputy (article 5).
Verdict mayWriteOrganisation(Role role);
Verdict mayPlanInspection(Role role);
Verdict onsiteDays(std::int64_t days);  // 1..7 (article 7(2))

// Capture (findings, evidence): inspectors, the working-group lead, the office and third-party
// auditors; members must be on the inspection's team (the office side need not be).
Verdict mayCapture(Role role, const std::string& person, const Json& inspection);
// Content of a finding is fixed once it is confirmed.
bool contentEditable(FindingStatus status);
Verdict mayEditContent(Role role, FindingStatus status);
// The finding lifecycle: draft -> submitted -> confirmed | returned; returned -> submitted;
// confirmed -> fed_back -> rectifying -> rectified -> closed | rectifying. Closing needs
// verification evidence (article 8(2)).
Verdict transition(FindingStatus from, FindingStatus to, Role role, bool hasVerification);
Verdict mayAttach(EvidencePurpose purpose, Role role);
Verdict mayRequestExtension(Role role);
Verdict mayDecideExtension(Role role, ExtensionStatus current);

// The finding fields a capture or an edit may set, checked for type and bounds.
Verdict findingFields(const Json& fields);

// Immediate-fix notices (立行立改, article 7(2)), in the inspection's unit channel, each fixed
// once written. A notice — the problem as told to the unit, the action required, a deadline — is
// issued by the inspection's working-group lead (or the audit office); its acknowledgement and
// the unit's replies are written by a head of the inspected unit. Judged on what every reader of
// the unit channel holds (the inspection plan, the people, the channel itself), never on the team
// channel, which the unit head cannot read: that the finding behind a notice is a confirmed
// immediate-fix item is checked by the issuing device (Workspace::issueNotice).
Verdict mayIssueNotice(Role role, const std::string& person, const Json& inspection);
Verdict mayAnswerNotice(Role role, const std::string& personUnit, const Json& inspection);

// Clues for transfer to the discipline commission (线索移交), in the inspection's clue channel:
// an audit-office person drafts one and transfers it; a discipline-commission person marks a
// transferred clue received; nobody else writes there (ProcedureValidator refuses every other
// author and kind). The finding a clue came from is named by id only and checked for its shape:
// the commission, which judges the clue too, cannot read the team channel, so only the drafting
// device checks that it is a finding of the inspection (Workspace::addClue).
constexpr std::size_t kMaxClueSummary = 8000;       // bytes
// Why a reviewer returned (or what they noted confirming) a finding: `review_note`, written only
// with the status change it explains.
constexpr std::size_t kMaxReviewNote = 4000;        // bytes
constexpr std::size_t kMaxClueRecipient = 200;      // `transferred_to`, bytes
Verdict mayDraftClue(Role role);
// drafted -> transferred (the audit office) -> received (the discipline commission); final then.
Verdict clueTransition(ClueStatus from, ClueStatus to, Role role);

// The confidentiality agreement (保密协议, article 7(4); app/agreement.h): required of the
// inspection's working group — whoever its plan names on the team or as its lead — except the audit
// office and the heads of the inspected unit. A person signs only their own, for an inspection
// they are required to sign, with the hash of a text version this build knows; the record
// (agreementRecordId) is fixed once written: no edit, no second signature, no delete.
bool agreementRequired(Role role, const std::string& person, const Json& inspection);
bool agreementRequired(Role role, const std::string& person, const std::vector<std::string>& team, const std::string& leadId);
Verdict maySignAgreement(Role role, const std::string& person, const Json& inspection);

// Who reads an inspection's three channels (DESIGN.md "Channels"). The team channel (findings,
// evidence, extensions) and the unit channel: the inspection's team and lead, the audit office
// and the leading group, with every kind of record. The unit channel also: the heads of the
// inspected unit, who may write only replies and notice acknowledgements there and never hold
// the team key — not even when the plan names them on the team or as its lead. The clue
// channel: the audit office's people (every kind) and every discipline-commission person, who may
// write only `clue` records there (to mark one received) — nobody else: not the team, the lead,
// the leading group, a unit head or a third-party auditor, whatever the plan names them.
// (The device that plans an inspection administers its channels and so holds the clue key too:
// see Workspace::addClue.)
struct PersonRole {
    std::string id;
    Role role = Role::WorkingGroupMember;
    std::string unitId;
};
struct ChannelReader {
    std::string person;
    std::vector<std::string> kinds;  // the record kinds they may write; {"*"}: every kind
};
struct InspectionReaders {
    std::vector<ChannelReader> team, unit, clue;  // each sorted by person, no repeats
};
InspectionReaders inspectionReaders(const std::vector<std::string>& team, const std::string& lead, const std::string& unitId,
                                    const std::vector<PersonRole>& people);

// The validator: the rules above, and the shape of every record the app writes.
class ProcedureValidator final : public sync::OpValidator {
public:
    sync::SResult<Verdict> check(const Context& ctx, sync::StateView& view) override;
};

}  // namespace xs::app::rules
