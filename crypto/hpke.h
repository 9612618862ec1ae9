// HPKE (RFC 9180), base and auth modes, for the suite DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 with
// AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305. Keys are raw X25519 keys (crypto/keys.h).
//
// A sender sets up a context for a recipient's public key, sends `enc` along, and seals messages in
// order; the recipient sets up the matching context from `enc` and opens them in the same order.
// Both sides can derive exported secrets. Auth mode also proves the sender held skS.
#pragma once
#include <cstdint>
#include "crypto/aead.h"
#include "crypto/bytes.h"
#include "crypto/error.h"
#include "crypto/keys.h"

namespace xs::crypto::hpke {

constexpr std::uint16_t kKemId = 0x0020;  // DHKEM(X25519, HKDF-SHA256)
constexpr std::uint16_t kKdfId = 0x0001;  // HKDF-SHA256
constexpr std::size_t kEncSize = 32;

enum class AeadId : std::uint16_t { Aes128Gcm = 0x0001, Aes256Gcm = 0x0002, ChaCha20Poly1305 = 0x0003 };

class Context {
public:
    ~Context();
    Context(Context&&) noexcept;
    Context& operator=(Context&&) noexcept;

    // Sender contexts only (else InvalidArgument). Each call uses the next sequence number.
    CResult<Bytes> seal(ByteView aad, ByteView plaintext);
    // Receiver contexts only (else InvalidArgument). AuthenticationFailed leaves the sequence
    // number unchanged, so the next message can still be opened.
    CResult<Bytes> open(ByteView aad, ByteView ciphertext);
    // Secret export (RFC 9180 §5.3); length up to 255*32 bytes.
    CResult<SecretBytes> exportSecret(ByteView exporterContext, std::size_t length) const;
    std::uint64_t sequence() const { return m_seq; }

private:
    enum class Role { Sender, Receiver };
    Context(Role role, AeadId aeadId, xs::crypto::Aead aead, SecretBytes baseNonce,
            SecretBytes exporterSecret);
    friend struct ContextFactory;

    Role m_role;
    AeadId m_aeadId;
    xs::crypto::Aead m_aead;
    SecretBytes m_baseNonce;
    SecretBytes m_exporterSecret;
    std::uint64_t m_seq = 0;
};

struct SenderSetup {
    Bytes enc;  // the encapsulated key to send to the recipient
    Context context;
};

// DeriveKeyPair (RFC 9180 §7.1.3) for X25519.
CResult<X25519KeyPair> deriveKeyPair(ByteView ikm);

// Errors: InvalidArgument for wrong key sizes or a low-order peer key (all-zero DH output).
CResult<SenderSetup> setupBaseS(AeadId aead, ByteView pkR, ByteView info);
CResult<Context> setupBaseR(AeadId aead, ByteView enc, ByteView skR, ByteView info);
CResult<SenderSetup> setupAuthS(AeadId aead, ByteView pkR, ByteView info, ByteView skS);
CResult<Context> setupAuthR(AeadId aead, ByteView enc, ByteView skR, ByteView info, ByteView pkS);

// The same with a caller-chosen ephemeral private key, for known-answer tests only: reusing skE
// across messages breaks HPKE's security.
CResult<SenderSetup> setupBaseSDeterministic(AeadId aead, ByteView pkR, ByteView info, ByteView skE);
CResult<SenderSetup> setupAuthSDeterministic(AeadId aead, ByteView pkR, ByteView info, ByteView skS,
                                             ByteView skE);

}  // namespace xs::crypto::hpke
