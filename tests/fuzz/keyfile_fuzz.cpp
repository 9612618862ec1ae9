// Fuzzes the key file parser (sync/keyfile.h parseKeyFile): the input is a keyfile.json. A key
// file that parses must serialise and parse back to the same fields, and every field it read must
// serialise to the very value the input holds (nothing truncated or converted on the way).
#include <nlohmann/json.hpp>

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
    // The parser accepted the input, so it is JSON with every field below.
    const auto in = nlohmann::json::parse(data, data + size);
    const auto out = nlohmann::json::parse(text);
    for (const char* path : {"/format", "/version", "/suite", "/store_id", "/kdf/alg", "/kdf/version", "/kdf/memory_kib",
                             "/kdf/iterations", "/kdf/parallelism", "/kdf/salt", "/wrap/alg", "/wrap/nonce", "/wrap/ciphertext"}) {
        const nlohmann::json::json_pointer p(path);
        if (in.at(p) != out.at(p)) {
            std::fprintf(stderr, "keyfile field %s read as %s from %s\n", path, out.at(p).dump().c_str(), in.at(p).dump().c_str());
            XS_FUZZ_CHECK(in.at(p) == out.at(p));
        }
    }
    return 0;
}
