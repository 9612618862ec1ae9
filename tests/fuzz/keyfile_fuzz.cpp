// Fuzzes the key file parser (sync/keyfile.h parseKeyFile): the input is a keyfile.json. A key
// file that parses must serialise and parse back to the same fields.
#include "sync/keyfile.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace xs;
    auto k = sync::parseKeyFile(crypto::ByteView(data, size));
    if (!k) return 0;
    std::string text = sync::serializeKeyFile(*k);
    auto again = sync::parseKeyFile(crypto::asBytes(text));
    XS_FUZZ_CHECK(again.ok());
    XS_FUZZ_CHECK(again->storeId == k->storeId && again->salt == k->salt && again->nonce == k->nonce &&
                  again->wrappedKey == k->wrappedKey && again->kdf.memoryKiB == k->kdf.memoryKiB &&
                  again->kdf.iterations == k->kdf.iterations && again->kdf.parallelism == k->kdf.parallelism &&
                  again->kdf.version == k->kdf.version);
    XS_FUZZ_CHECK(sync::serializeKeyFile(*again) == text);
    return 0;
}
