// Fuzzes the handover receipt reader (sync/bundle.h openReceipt) with the fixed office key of
// fuzz_util.h. Each input is read twice: as a whole receipt file (its outer JSON; a signature by
// another key stops there), and as a receipt body that this target signs with the fixed key and
// wraps as signReceipt does, so that the checks behind the signature are fuzzed too. Invariant: a
// receipt that opens returns an object.
#include "sync/bundle.h"
#include "sync/changeset_codec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace xs;
    const auto& signer = fuzz::FixedSigner::instance();
    const std::string text(fuzz::textOf(data, size));
    if (auto r = sync::openReceipt(text, signer.publicKey())) XS_FUZZ_CHECK(r->is_object());
    std::string wrapped;
    try {
        wrapped = sync::Json{{"format", "xunshen-handover-receipt-signed"}, {"body", text}, {"signature", signer.signHex(text)}}.dump(2);
    } catch (const sync::Json::exception&) {
        return 0;  // not UTF-8: no receipt body can be (and JSON cannot carry it)
    }
    if (auto r = sync::openReceipt(wrapped, signer.publicKey())) XS_FUZZ_CHECK(r->is_object());
    return 0;
}
