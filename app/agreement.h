// The confidentiality agreement (保密协议, article 7(4)) a person of an inspection's working group
// reads and signs before that inspection's data is shown to them. Its texts are part of the
// build: each version has a Chinese text (the one signed: its SHA-256 is what the signature
// names) and an English translation for display. A text once released is never edited; a new
// wording is a new version, and every replica checks a signature against the texts it knows
// (rules::ProcedureValidator), so a build that does not know a version refuses signatures of it.
//
// Who signs (rules::agreementRequired): the working group of the inspection, i.e. the people
// its plan names on the team or as its lead — working-group members and leads, third-party
// auditors, and anyone else the plan puts on the team. Not gated: the audit office (it plans the
// inspections and administers their channels: it holds every key and is not a reader the plan
// names) and the heads of the inspected unit (they are the inspected; they read only what is
// told to the unit and never hold the team key). The leading group reads the team channel to
// oversee it without being on the working group; a leading-group person the plan puts on the
// team signs like everyone else on it.
//
// The signature is a record `agreement` in the inspection's team channel, one per (inspection,
// person) (agreementRecordId), fixed once written; the change set carrying it is signed by the
// signer's device like every change set. docs/FORMATS.md "Agreement record".
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace xs::app {

struct AgreementText {
    std::string version;  // "v1", ...
    std::string textZh;   // the text signed, UTF-8, exactly as hashed
    std::string textEn;   // a translation, for display only
    std::string sha256;   // lowercase hex SHA-256 of textZh's bytes
};

// The version a new signature signs.
inline constexpr const char* kCurrentAgreementVersion = "v1";

// The text of `version`, or nullptr when this build does not know it.
const AgreementText* agreementText(std::string_view version);
const AgreementText& currentAgreementText();
// Every version this build knows, oldest first.
std::vector<std::string> agreementVersions();

// The id of the agreement record of `person` for `inspection`: one per pair, so a second
// signature of the same person is the same record (and refused by every replica as an edit).
std::string agreementRecordId(const std::string& inspectionId, const std::string& personId);

// The refusal a person sees for an inspection they have not signed the agreement of.
std::string agreementRefusal(const std::string& inspectionTitle, const std::string& inspectionKey);

}  // namespace xs::app
