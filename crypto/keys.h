// X25519 key agreement (RFC 7748) and Ed25519 signatures (RFC 8032), through OpenSSL raw keys.
// All keys are the raw 32-byte RFC encodings; an Ed25519 private key is the 32-byte seed.
#pragma once
#include "crypto/bytes.h"
#include "crypto/error.h"

namespace xs::crypto {

constexpr std::size_t kX25519KeySize = 32;  // private key, public key and shared secret
constexpr std::size_t kEd25519KeySize = 32;  // private seed and public key
constexpr std::size_t kEd25519SignatureSize = 64;

struct X25519KeyPair {
    SecretBytes privateKey;
    Bytes publicKey;
};

struct Ed25519KeyPair {
    SecretBytes privateKey;
    Bytes publicKey;
};

CResult<X25519KeyPair> x25519Generate();
// Any 32 bytes are a valid private key (X25519 clamps them); else InvalidArgument.
CResult<Bytes> x25519PublicFromPrivate(ByteView privateKey);
// The shared secret X25519(privateKey, peerPublicKey). InvalidArgument for wrong sizes, and when the
// result is all zero, which is what a low-order (small-subgroup) peer key gives: such keys are
// rejected rather than agreeing on a key an attacker knows.
CResult<SecretBytes> x25519(ByteView privateKey, ByteView peerPublicKey);

CResult<Ed25519KeyPair> ed25519Generate();
CResult<Bytes> ed25519PublicFromPrivate(ByteView privateKey);
// A 64-byte signature (pure Ed25519, no context or prehash).
CResult<Bytes> ed25519Sign(ByteView privateKey, ByteView message);
// Success if the signature verifies. AuthenticationFailed for any signature that does not
// (including wrong length, non-canonical S, undecodable R); InvalidArgument for a public key that
// is not 32 bytes. A 32-byte key that is not a valid point fails verification.
CStatus ed25519Verify(ByteView publicKey, ByteView message, ByteView signature);

}  // namespace xs::crypto
