#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "iis/certificates.hpp"
#include "test_support.hpp"

using namespace nomad_iis::iis;
using namespace nomad_iis::iis::test;

namespace {

std::vector<std::string> san_of(const std::string& cert_file) {
  std::vector<std::string> out;
  FILE* file = std::fopen(cert_file.c_str(), "r");
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(
                                 ASN1_STRING_get0_data(name->d.dNSName))));
    } else if (name->type == GEN_IPADD) {
      out.push_back("IP:" + std::to_string(ASN1_STRING_length(name->d.iPAddress)) + "bytes");
    }
  }
  GENERAL_NAMES_free(names);
  X509_free(cert);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iis_unit)
BOOST_AUTO_TEST_SUITE(certificates)

BOOST_AUTO_TEST_CASE(self_signed_has_the_names_and_a_private_key_file) {
  temp_dir root;
  const auto info = create_self_signed({"shop.example", "localhost", "127.0.0.1"},
                                       root.path() + "/c.crt", root.path() + "/c.key");
  BOOST_TEST(info.subject.find("CN=shop.example") != std::string::npos);
  BOOST_TEST(info.thumbprint.size() == 40u);
  const std::vector<std::string> expected{"DNS:shop.example", "DNS:localhost", "IP:4bytes"};
  BOOST_TEST(san_of(root.path() + "/c.crt") == expected, boost::test_tools::per_element());
  struct stat st {};
  ::stat((root.path() + "/c.key").c_str(), &st);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
}

BOOST_AUTO_TEST_CASE(pem_pairs_are_checked) {
  temp_dir root;
  const std::string dir = root.path();
  const auto first = create_self_signed({"a.example"}, dir + "/a.crt", dir + "/a.key");
  create_self_signed({"b.example"}, dir + "/b.crt", dir + "/b.key");
  const auto copy = copy_pem(dir + "/a.crt", dir + "/a.key", dir + "/out.crt", dir + "/out.key");
  BOOST_TEST(copy.thumbprint == first.thumbprint);
  BOOST_CHECK_THROW(copy_pem(dir + "/a.crt", dir + "/b.key", dir + "/x.crt", dir + "/x.key"),
                    std::runtime_error);
  // Certificate and key in one file, as Vault templates render them.
  {
    std::ofstream both(dir + "/both.pem");
    both << std::ifstream(dir + "/a.key").rdbuf() << std::ifstream(dir + "/a.crt").rdbuf();
  }
  BOOST_TEST(
      copy_pem(dir + "/both.pem", dir + "/both.pem", dir + "/y.crt", dir + "/y.key").thumbprint ==
      first.thumbprint);
  BOOST_CHECK_THROW(copy_pem(dir + "/missing.pem", dir + "/a.key", dir + "/z.crt", dir + "/z.key"),
                    std::runtime_error);
}

BOOST_AUTO_TEST_CASE(pfx_files_are_converted_with_their_password) {
  temp_dir root;
  const std::string dir = root.path();
  const auto original = create_self_signed({"pfx.example"}, dir + "/p.crt", dir + "/p.key");
  const std::string command = "openssl pkcs12 -export -in " + dir + "/p.crt -inkey " + dir +
                              "/p.key -out " + dir + "/p.pfx -passout pass:s3cret 2>/dev/null";
  BOOST_REQUIRE(std::system(command.c_str()) == 0);
  const auto info = convert_pfx(dir + "/p.pfx", "s3cret", dir + "/o.crt", dir + "/o.key");
  BOOST_TEST(info.thumbprint == original.thumbprint);
  BOOST_CHECK_THROW(convert_pfx(dir + "/p.pfx", "wrong", dir + "/w.crt", dir + "/w.key"),
                    std::runtime_error);
  // Old-style (RC2/3DES) files need OpenSSL's legacy provider.
  const std::string legacy = "openssl pkcs12 -export -legacy -in " + dir + "/p.crt -inkey " + dir +
                             "/p.key -out " + dir + "/l.pfx -passout pass:old 2>/dev/null";
  BOOST_REQUIRE(std::system(legacy.c_str()) == 0);
  BOOST_TEST(convert_pfx(dir + "/l.pfx", "old", dir + "/l.crt", dir + "/l.key").thumbprint ==
             original.thumbprint);
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()
