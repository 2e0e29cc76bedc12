#pragma once

#include <string>

namespace kam::test {

/// Certificates made at test time with the openssl command (EC P-256, valid
/// a day) in a fresh temporary directory: a CA, a server certificate for
/// localhost / 127.0.0.1 / ::1 signed by it, a client certificate signed by
/// it, an unrelated self-signed certificate, and files that are not PEM.
struct test_certs {
  std::string dir;
  std::string ca, ca_key;
  std::string server, server_key;
  std::string client, client_key;
  std::string other, other_key; ///< self-signed, not by the CA
  std::string not_pem;          ///< a text file
};

/// Made once per process (REQUIREs that openssl succeeded); thread safe.
const test_certs& certs();

} // namespace kam::test
