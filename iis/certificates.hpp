#pragma once
// TLS material for https bindings, written as PEM files nginx can load:
// self-signed certificates, PFX files converted with their password, and
// PEM pairs checked and copied.

#include <string>
#include <vector>

namespace nomad_iis::iis {

/// What a task event says about a certificate.
struct certificate_info {
  std::string subject;     ///< "CN=localhost"
  std::string thumbprint;  ///< SHA-1 of the DER, upper-case hex, as Windows shows it
  std::string not_after;   ///< "Nov 23 03:30:00 2027 GMT"
};

/// A new EC P-256 key and a self-signed certificate valid for one year whose
/// subjectAltName lists `names` (IP literals as IP entries, others as DNS).
/// The key file is created 0600. Throws std::runtime_error.
certificate_info create_self_signed(const std::vector<std::string>& names,
                                    const std::string& cert_out, const std::string& key_out);

/// Decrypts a PKCS#12 file (legacy RC2/3DES ones too) into a PEM certificate
/// chain and key. Throws std::runtime_error ("wrong password?").
certificate_info convert_pfx(const std::string& pfx_file, const std::string& password,
                             const std::string& cert_out, const std::string& key_out);

/// Loads a PEM certificate (chain) and key (PKCS#8 or traditional, same file
/// allowed), checks that they match and writes clean copies.
certificate_info copy_pem(const std::string& cert_file, const std::string& key_file,
                          const std::string& cert_out, const std::string& key_out);

}  // namespace nomad_iis::iis
