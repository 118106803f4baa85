// Shared pieces of the black-box pvesim tests (api_*_test.cc): a pvesim child
// process with a root token, a clone helper and raw-socket exchanges.
#ifndef ACCEPTANCE_TESTS_PVESIM_API_TEST_HELPERS_H_
#define ACCEPTANCE_TESTS_PVESIM_API_TEST_HELPERS_H_

#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {

inline constexpr char kToken[] = "root@pam!tf=0b6a5c2e-8f1d-4c3a-9e7b-2d4f6a8c0e1f";
// A UPID as Proxmox's PVE::Tools::upid_decode parses it; groups: 1 node,
// 3 pid, 4 pstart, 5 starttime, 6 type, 7 id, 8 user.
extern const std::regex kUpid;

// pvesim on a fresh data directory (removed afterwards) with `kToken`, a
// root@pam:secret user and --seed 7, plus `extra`; `client` uses the token.
struct Sim {
  explicit Sim(std::vector<std::string> extra = {}, const std::string& dir = MakeTempDir());
  static std::vector<std::string> WithToken(std::vector<std::string> extra);
  ~Sim();
  std::string data;
  PveSimProcess proc;
  Client client;
};

// Clones `source` on `node` to `newid` and waits for the task, which must end OK.
// Returns its UPID.
std::string CloneOk(Client& c, int newid,
                    std::vector<std::pair<std::string, std::string>> extra = {},
                    const std::string& node = "pve1", int source = 9000);

// A plain-HTTP GET (no TLS) with a raw socket; returns status and headers.
Response PlainGet(const std::string& url);

// Sends `bytes` over a fresh TLS connection and returns all it reads back.
std::string RawExchange(const PveSimProcess& p, const std::string& bytes);

}  // namespace pvek8s::pvesim::testing

#endif  // ACCEPTANCE_TESTS_PVESIM_API_TEST_HELPERS_H_
