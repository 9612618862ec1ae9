// The command line's --json output: each session view (app/views.h) as snake_case JSON, every
// record with its `id` (README "Command line"). The keys are the CLI's format; the views are not
// tied to them.
#pragma once
#include <nlohmann/json.hpp>
#include "app/views.h"

namespace xs::app::cli {

using Json = nlohmann::json;

Json toJson(const UnitView& u);
Json toJson(const PersonView& p);
Json toJson(const InspectionView& i, bool withExtensions);
Json toJson(const FindingView& f);
Json toJson(const NoticeView& n);
Json toJson(const ClueView& c);
Json toJson(const AgreementTextView& a);
Json toJson(const AgreementView& a);
Json toJson(const FieldVersionView& v);
Json toJson(const ConflictView& c);
Json toJson(const RefusedView& r);
Json toJson(const WipeRecordView& w);
Json toJson(const VerifyReport& r);
Json toJson(const ShredAckView& a);
Json toJson(const IdentityView& i);
Json toJson(const OrgImportView& r);
Json toJson(const DeviceEnrolledView& d);
Json toJson(const EnrolmentAcceptedView& e);
Json toJson(const HandoverExportView& h);
Json toJson(const HandoverImportView& h);   // "receipt": the text; the CLI puts its path there
Json toJson(const HandoverConfirmView& h);  // "ack": likewise

template <typename T>
Json listJson(const std::vector<T>& items) {
    Json out = Json::array();
    for (const auto& x : items) out.push_back(toJson(x));
    return out;
}

}  // namespace xs::app::cli
