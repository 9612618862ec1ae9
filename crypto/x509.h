// The server's TLS identity: a self-signed certificate (Ed25519 keys are not accepted by every
// TLS stack, so ECDSA P-256) and the pin a client checks instead of a certificate authority: the
// SHA-256 of the certificate's public key (DER SubjectPublicKeyInfo) in base64, the form curl's
// CURLOPT_PINNEDPUBLICKEY takes after "sha256//".
#pragma once
#include <string>
#include <string_view>
#include "crypto/error.h"

namespace xs::crypto {

struct TlsIdentity {
    std::string keyPem;   // PKCS#8 private key
    std::string certPem;  // X.509 v3, self-signed
};

// hostName goes into the subject's CN and subjectAltName (DNS, or IP when it parses as one).
CResult<TlsIdentity> selfSignedTlsIdentity(const std::string& hostName, int validDays);
// Malformed when `certPem` holds no certificate.
CResult<std::string> publicKeyPin(std::string_view certPem);

}  // namespace xs::crypto
