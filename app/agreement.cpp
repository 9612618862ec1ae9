#include "app/agreement.h"

#include "crypto/encoding.h"
#include "crypto/hash.h"

namespace xs::app {
namespace {

AgreementText make(std::string version, std::string zh, std::string en) {
    std::string hash = crypto::toHex(crypto::sha256(crypto::asBytes(zh)));
    return {std::move(version), std::move(zh), std::move(en), std::move(hash)};
}

// Released texts: never edit one (its hash is in signatures already); add a version instead.
const std::vector<AgreementText>& texts() {
    static const std::vector<AgreementText> all = {
        make("v1",
             "巡审工作保密协议（第1版）\n"
             "本人作为本次巡察和经济责任审计（巡审）工作组成员，自愿遵守以下保密纪律：\n"
             "一、对巡审开展前、开展中和结束后知悉的一切情况、资料、问题和问题线索严格保密，不以任何方式泄露。\n"
             "二、巡审资料只存放于本系统的加密存储中，不擅自复制、拍照、截屏、打印，不转存至其他设备、介质或网络。\n"
             "三、不向被巡审单位及其人员透露巡审发现的问题、问题线索、信访举报人信息和工作组的研判意见。\n"
             "四、不在私人通信、社交媒体和其他非工作场合谈论巡审工作内容。\n"
             "五、巡审结束后按要求移交全部工作资料，不私自留存。\n"
             "六、发现失密、泄密或可能泄密的情况，立即报告工作组组长和审计办公室，并配合采取补救措施。\n"
             "七、违反本协议的，接受组织按照有关规定作出的处理，依纪依法承担相应责任。\n"
             "本人已认真阅读并理解上述条款，签署即表示同意。\n",
             "Confidentiality agreement of the inspection-and-audit work (version 1)\n"
             "As a member of the working group of this integrated inspection and economic-responsibility audit, I "
             "undertake to keep the following rules of confidentiality:\n"
             "1. Everything I learn before, during and after the inspection - facts, materials, findings and clues - "
             "is kept confidential and disclosed in no way.\n"
             "2. Inspection materials stay in this system's encrypted store only: no copies, photographs, screenshots "
             "or print-outs without authorisation, nothing moved to other devices, media or networks.\n"
             "3. Nothing of the findings, the clues, the identity of whistle-blowers or the working group's "
             "assessments is disclosed to the inspected unit or its staff.\n"
             "4. The work of the inspection is not discussed in private messages, on social media or anywhere "
             "outside the work.\n"
             "5. When the inspection ends, all working materials are handed over as required and none is kept.\n"
             "6. Any loss or leak of secrets, or risk of one, is reported at once to the working-group lead and the "
             "audit office, and I help to remedy it.\n"
             "7. A breach of this agreement is dealt with by the organisation under the applicable rules, and I bear "
             "the responsibility that discipline and the law provide.\n"
             "I have read and understood these terms; by signing I agree to them.\n"),
    };
    return all;
}

}  // namespace

const AgreementText* agreementText(std::string_view version) {
    for (const auto& t : texts())
        if (t.version == version) return &t;
    return nullptr;
}

const AgreementText& currentAgreementText() { return *agreementText(kCurrentAgreementVersion); }

std::vector<std::string> agreementVersions() {
    std::vector<std::string> out;
    for (const auto& t : texts()) out.push_back(t.version);
    return out;
}

std::string agreementRecordId(const std::string& inspectionId, const std::string& personId) {
    return inspectionId + "|" + personId;
}

std::string agreementRefusal(const std::string& inspectionTitle, const std::string& inspectionKey) {
    return "sign the confidentiality agreement of inspection " + inspectionTitle + " first: xunshenctl agreement show " +
           inspectionKey + ", then xunshenctl agreement sign " + inspectionKey + " (article 7(4))";
}

}  // namespace xs::app
