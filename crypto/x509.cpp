#include "crypto/x509.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/random.h"

namespace xs::crypto {
namespace {

struct Free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(BIO* p) const { BIO_free(p); }
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string bioText(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

bool looksLikeIp(const std::string& host) {
    return !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

CResult<TlsIdentity> selfSignedTlsIdentity(const std::string& hostName, int validDays) {
    if (hostName.empty() || hostName.size() > 253 || validDays < 1)
        return fail(CryptoError::InvalidArgument, "a certificate needs a host name and at least one day of validity");
    Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
    if (!key) return fail(CryptoError::Internal, "could not generate the TLS key");
    Owned<X509> cert(X509_new());
    if (!cert) return fail(CryptoError::Internal, "could not allocate a certificate");
    X509_set_version(cert.get(), 2);
    Bytes serial(16);
    if (!randomFill(serial.data(), serial.size())) return fail(CryptoError::RandomFailure, "no random serial number");
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()))) {
        BN_free(bn);
        return fail(CryptoError::Internal, "could not set the serial number");
    }
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(validDays) * 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(hostName.c_str()), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("xunshen-server"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    std::string san = (looksLikeIp(hostName) ? "IP:" : "DNS:") + hostName;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
    if (!ext || !X509_add_ext(cert.get(), ext.get(), -1)) return fail(CryptoError::Internal, "could not add the subjectAltName");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return fail(CryptoError::Internal, "could not sign the certificate");

    TlsIdentity out;
    Owned<BIO> keyBio(BIO_new(BIO_s_mem()));
    Owned<BIO> certBio(BIO_new(BIO_s_mem()));
    if (!keyBio || !certBio || !PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
        !PEM_write_bio_X509(certBio.get(), cert.get()))
        return fail(CryptoError::Internal, "could not write the TLS key and certificate");
    out.keyPem = bioText(keyBio.get());
    out.certPem = bioText(certBio.get());
    return out;
}

CResult<std::string> publicKeyPin(std::string_view certPem) {
    Owned<BIO> bio(BIO_new_mem_buf(certPem.data(), static_cast<int>(certPem.size())));
    if (!bio) return fail(CryptoError::Internal, "out of memory");
    Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return fail(CryptoError::Malformed, "no PEM certificate");
    unsigned char* der = nullptr;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
    if (n <= 0) return fail(CryptoError::Internal, "could not encode the certificate's public key");
    Digest d = sha256(ByteView(der, static_cast<std::size_t>(n)));
    OPENSSL_free(der);
    return toBase64(ByteView(d.data(), d.size()));
}

}  // namespace xs::crypto
