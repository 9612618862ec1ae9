#include "crypto/kdf.h"

#include <argon2.h>

#include <limits>

namespace xs::crypto {
namespace {

bool fitsU32(std::size_t n) { return n <= std::numeric_limits<std::uint32_t>::max(); }

// libargon2's context takes non-const pointers; with flags == 0 it never writes through them.
std::uint8_t* mutablePtr(ByteView v) {
    return v.empty() ? nullptr : const_cast<std::uint8_t*>(v.data());
}

}  // namespace

CResult<SecretBytes> argon2(const Argon2Params& params, ByteView password, ByteView salt,
                            ByteView secret, ByteView ad, std::size_t tagLength) {
    if (params.version != ARGON2_VERSION_10 && params.version != ARGON2_VERSION_13) {
        return fail(CryptoError::InvalidArgument, "Argon2 version must be 0x10 or 0x13");
    }
    argon2_type type = Argon2_id;
    switch (params.type) {
        case Argon2Type::D: type = Argon2_d; break;
        case Argon2Type::I: type = Argon2_i; break;
        case Argon2Type::Id: type = Argon2_id; break;
        default: return fail(CryptoError::InvalidArgument, "unknown Argon2 type");
    }
    if (!fitsU32(password.size()) || !fitsU32(salt.size()) || !fitsU32(secret.size()) ||
        !fitsU32(ad.size()) || !fitsU32(tagLength)) {
        return fail(CryptoError::InvalidArgument, "Argon2 input is too long");
    }

    SecretBytes tag(tagLength);
    argon2_context ctx{};
    ctx.out = tag.data();
    ctx.outlen = static_cast<std::uint32_t>(tagLength);
    ctx.pwd = mutablePtr(password);
    ctx.pwdlen = static_cast<std::uint32_t>(password.size());
    ctx.salt = mutablePtr(salt);
    ctx.saltlen = static_cast<std::uint32_t>(salt.size());
    ctx.secret = mutablePtr(secret);
    ctx.secretlen = static_cast<std::uint32_t>(secret.size());
    ctx.ad = mutablePtr(ad);
    ctx.adlen = static_cast<std::uint32_t>(ad.size());
    ctx.t_cost = params.iterations;
    ctx.m_cost = params.memoryKiB;
    ctx.lanes = params.parallelism;
    ctx.threads = params.parallelism;
    ctx.version = params.version;
    ctx.allocate_cbk = nullptr;
    ctx.free_cbk = nullptr;
    ctx.flags = ARGON2_DEFAULT_FLAGS;

    const int rc = argon2_ctx(&ctx, type);
    if (rc != ARGON2_OK) {
        const bool resource = rc == ARGON2_MEMORY_ALLOCATION_ERROR || rc == ARGON2_THREAD_FAIL;
        return fail(resource ? CryptoError::Internal : CryptoError::InvalidArgument,
                    std::string("Argon2 failed: ") + argon2_error_message(rc));
    }
    return tag;
}

}  // namespace xs::crypto
