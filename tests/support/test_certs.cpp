#include "tests/support/test_certs.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <tuple>

#include <unistd.h>

namespace kam::test {

namespace {

void run(const std::string& cmd) {
  if (std::system((cmd + " > /dev/null 2>&1").c_str()) != 0)
    throw std::runtime_error("test_certs: failed: " + cmd);
}

test_certs make() {
  char tmpl[] = "/tmp/kam-certs-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("test_certs: mkdtemp failed");
  test_certs c;
  c.dir = tmpl;
  auto f = [&](const char* name) { return c.dir + "/" + name; };
  c.ca = f("ca.pem");
  c.ca_key = f("ca.key");
  c.server = f("server.pem");
  c.server_key = f("server.key");
  c.client = f("client.pem");
  c.client_key = f("client.key");
  c.other = f("other.pem");
  c.other_key = f("other.key");
  c.not_pem = f("not_pem.txt");
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  run("openssl req -x509 " + ec + " -days 1 -subj /CN=kam-test-ca -keyout " + c.ca_key +
      " -out " + c.ca);
  run("openssl req -x509 " + ec + " -days 1 -subj /CN=kam-other -keyout " + c.other_key +
      " -out " + c.other);
  std::ofstream{f("server.ext")} << "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                                    "extendedKeyUsage=serverAuth\n";
  std::ofstream{f("client.ext")} << "extendedKeyUsage=clientAuth\n";
  for (auto [name, cert, key, ext] :
       {std::tuple{"localhost", c.server, c.server_key, f("server.ext")},
        std::tuple{"kam-client", c.client, c.client_key, f("client.ext")}}) {
    auto csr = cert + ".csr";
    run("openssl req " + ec + " -subj /CN=" + name + " -keyout " + key + " -out " + csr);
    run("openssl x509 -req -days 1 -in " + csr + " -CA " + c.ca + " -CAkey " + c.ca_key +
        " -CAcreateserial -extfile " + ext + " -out " + cert);
  }
  std::ofstream{c.not_pem} << "this is not a certificate\n";
  return c;
}

} // namespace

const test_certs& certs() {
  // Removed with the process's static objects.
  static const struct holder {
    test_certs c = make();
    ~holder() { std::system(("rm -rf '" + c.dir + "'").c_str()); }
  } h;
  return h.c;
}

} // namespace kam::test
