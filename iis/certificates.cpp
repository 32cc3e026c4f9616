#include "iis/certificates.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "iis/failure.hpp"

namespace nomad_iis::iis {
namespace {

template <typename T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const { Free(p); }
};
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using p12_ptr = std::unique_ptr<PKCS12, deleter<PKCS12, PKCS12_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;

void free_x509_stack(STACK_OF(X509) * stack) {
  sk_X509_pop_free(stack, X509_free);
}
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), deleter<STACK_OF(X509), free_x509_stack>>;

/// The OpenSSL error queue as text (and cleared).
std::string openssl_error() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl_error());
}

/// Writes `bio`'s bytes to `path`, created with `mode`.
void write_file(const std::string& path, BIO* bio, mode_t mode) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  // Our own data dir, unlike the job's certificate files: a retry may succeed.
  if (fd < 0) throw backend_error(errc::io_failure, "create " + temp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  const bool ok = length <= 0 || ::write(fd, data, static_cast<std::size_t>(length)) == length;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    throw backend_error(errc::io_failure, "write " + path + ": " + std::strerror(errno));
  }
}

void write_pem(const X509* cert, const STACK_OF(X509) * chain, EVP_PKEY* key,
               const std::string& cert_out, const std::string& key_out) {
  bio_ptr certs(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(certs.get(), cert)) fail("write certificate");
  for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
    if (!PEM_write_bio_X509(certs.get(), sk_X509_value(chain, i))) fail("write chain");
  }
  bio_ptr key_bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    fail("write private key");
  }
  write_file(key_out, key_bio.get(), 0600);
  write_file(cert_out, certs.get(), 0644);
}

certificate_info describe(X509* cert) {
  certificate_info info;
  char name[512];
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  info.subject = name;
  if (!info.subject.empty() && info.subject.front() == '/') info.subject.erase(0, 1);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  X509_digest(cert, EVP_sha1(), digest, &length);
  static const char* hex = "0123456789ABCDEF";
  for (unsigned int i = 0; i < length; ++i) {
    info.thumbprint += hex[digest[i] >> 4];
    info.thumbprint += hex[digest[i] & 15];
  }
  bio_ptr time(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(time.get(), X509_get0_notAfter(cert));
  char* data = nullptr;
  const long size = BIO_get_mem_data(time.get(), &data);
  info.not_after.assign(data, static_cast<std::size_t>(size > 0 ? size : 0));
  return info;
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  ext_ptr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (!extension || !X509_add_ext(cert, extension.get(), -1)) {
    fail("certificate extension " + value);
  }
}

bool is_ip_literal(const std::string& name) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

OSSL_PROVIDER* legacy_provider = nullptr;
OSSL_PROVIDER* default_provider = nullptr;

/// Loads the legacy provider (and keeps the default one next to it) for the
/// rest of the process; unloaded at exit before OpenSSL's own cleanup runs.
void load_legacy_provider() {
  legacy_provider = OSSL_PROVIDER_load(nullptr, "legacy");
  default_provider = OSSL_PROVIDER_load(nullptr, "default");
  std::atexit([] {
    if (legacy_provider) OSSL_PROVIDER_unload(legacy_provider);
    if (default_provider) OSSL_PROVIDER_unload(default_provider);
  });
}

bio_ptr open_input(const std::string& path) {
  bio_ptr bio(BIO_new_file(path.c_str(), "rb"));
  if (!bio) {
    ERR_clear_error();
    throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  }
  return bio;
}

}  // namespace

certificate_info create_self_signed(const std::vector<std::string>& names,
                                    const std::string& cert_out, const std::string& key_out) {
  if (names.empty()) throw std::runtime_error("self-signed certificate: no host names");
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("generate EC key");
  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) fail("random serial");
  serial_bytes[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>> serial(
      BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 365, 0, nullptr);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("nomad_iis self-signed"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  std::string san;
  for (const auto& name : names) {
    if (!san.empty()) san += ",";
    san += (is_ip_literal(name) ? "IP:" : "DNS:") + name;
  }
  add_extension(cert.get(), NID_subject_alt_name, san);
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) fail("sign certificate");
  write_pem(cert.get(), nullptr, key.get(), cert_out, key_out);
  return describe(cert.get());
}

certificate_info convert_pfx(const std::string& pfx_file, const std::string& password,
                             const std::string& cert_out, const std::string& key_out) {
  auto input = open_input(pfx_file);
  p12_ptr p12(d2i_PKCS12_bio(input.get(), nullptr));
  if (!p12) fail(pfx_file + " is not a PKCS#12 (pfx) file");
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_chain = nullptr;
  int ok = PKCS12_parse(p12.get(), password.c_str(), &raw_key, &raw_cert, &raw_chain);
  if (!ok) {
    // Windows exports often use RC2/3DES, which OpenSSL 3 keeps in the legacy provider.
    static std::once_flag legacy_once;
    std::call_once(legacy_once, load_legacy_provider);
    ERR_clear_error();
    ok = PKCS12_parse(p12.get(), password.c_str(), &raw_key, &raw_cert, &raw_chain);
  }
  pkey_ptr key(raw_key);
  x509_ptr cert(raw_cert);
  x509_stack_ptr chain(raw_chain);
  if (!ok) fail(pfx_file + ": cannot decrypt (wrong password?)");
  if (!cert || !key) {
    throw std::runtime_error(pfx_file + ": needs a certificate and its private key");
  }
  write_pem(cert.get(), chain.get(), key.get(), cert_out, key_out);
  return describe(cert.get());
}

certificate_info copy_pem(const std::string& cert_file, const std::string& key_file,
                          const std::string& cert_out, const std::string& key_out) {
  auto cert_input = open_input(cert_file);
  x509_ptr cert(PEM_read_bio_X509(cert_input.get(), nullptr, nullptr, nullptr));
  if (!cert) fail(cert_file + ": no PEM certificate");
  x509_stack_ptr chain(sk_X509_new_null());
  while (X509* extra = PEM_read_bio_X509(cert_input.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(chain.get(), extra);
  }
  ERR_clear_error();  // the loop ends with "no start line"
  auto key_input = open_input(key_file);
  pkey_ptr key(PEM_read_bio_PrivateKey(key_input.get(), nullptr, nullptr, nullptr));
  if (!key) fail(key_file + ": no PEM private key");
  if (!X509_check_private_key(cert.get(), key.get())) {
    fail(key_file + " does not belong to the certificate in " + cert_file);
  }
  write_pem(cert.get(), chain.get(), key.get(), cert_out, key_out);
  return describe(cert.get());
}

}  // namespace nomad_iis::iis
