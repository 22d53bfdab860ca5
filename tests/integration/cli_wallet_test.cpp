// The money commands of the CLI against the real binary: `admin credit`, `wallet`,
// `wallet transactions` (paging), `usage`, and `ledger verify` exiting non-zero on a
// tampered ledger. Each test has its own HOME, so the saved session is its alone.
#include <gtest/gtest.h>

#include "support/databases.hpp"
#include "support/platform_fixture.hpp"

namespace tollgate::test {
namespace {

namespace bj = boost::json;

RunResult tollgate(const TempDir& home, std::vector<std::string> args, std::string stdin_text = "") {
  Process::Options p;
  p.args = {tollgate_binary()};
  p.args.insert(p.args.end(), args.begin(), args.end());
  p.env = {{"HOME", home.path()}, {"XDG_CONFIG_HOME", home.file("config")}, {"TOLLGATE_URL", ""}};
  p.stdin_text = std::move(stdin_text);
  return run(std::move(p));
}

TEST(CliWallet, CreditWalletTransactionsUsageAndLedgerVerify) {
  PlatformProcess platform;
  TempDir home;
  ASSERT_EQ(tollgate(home, {"signup", "--url", platform.url(), "--email", "admin@example.com"}, "password-1\n").status, 0);

  // Credit: human line and the admin-only rule.
  auto credit = tollgate(home, {"admin", "credit", "admin@example.com", "2.5", "--note", "welcome"});
  ASSERT_EQ(credit.status, 0) << credit.err;
  EXPECT_NE(credit.out.find("New balance: $2.50"), std::string::npos) << credit.out;
  auto bad_amount = tollgate(home, {"admin", "credit", "admin@example.com", "1e3"});
  EXPECT_NE(bad_amount.status, 0);
  EXPECT_NE(bad_amount.err.find("error: INVALID_REQUEST:"), std::string::npos) << bad_amount.err;
  auto nobody = tollgate(home, {"admin", "credit", "nobody@example.com", "1"});
  EXPECT_NE(nobody.err.find("error: NOT_FOUND:"), std::string::npos) << nobody.err;
  TempDir other_home;
  ASSERT_EQ(tollgate(other_home, {"signup", "--url", platform.url(), "--email", "user@example.com"}, "password-2\n").status, 0);
  auto forbidden = tollgate(other_home, {"admin", "credit", "user@example.com", "1"});
  EXPECT_NE(forbidden.err.find("error: FORBIDDEN:"), std::string::npos) << forbidden.err;

  // Charges to list: a provider key and an agent key of the admin account.
  Session admin{"", "admin@example.com", std::string(parse_object(read_file(home.file("config") + "/tollgate/config.json"))
                                                        .at("session_token")
                                                        .as_string())};
  std::string agent = std::string(platform.create_key(admin, "agent").at("key").as_string());
  std::string provider = std::string(platform.create_key(admin, "server", true).at("key").as_string());
  for (int i = 0; i < 3; ++i) {
    auto r = platform.request("POST", "/api/v1/charge",
                              bj::serialize(bj::object{{"agent_token", agent}, {"tool", i < 2 ? "search" : "fetch"},
                                                       {"amount", "0.10"}}),
                              provider);
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  auto wallet = tollgate(home, {"wallet"});
  ASSERT_EQ(wallet.status, 0) << wallet.err;
  EXPECT_NE(wallet.out.find("Balance:  $2.20"), std::string::npos) << wallet.out;
  EXPECT_NE(wallet.out.find("Earnings: $0.30"), std::string::npos) << wallet.out;
  auto json = tollgate(home, {"wallet", "--json"});
  EXPECT_EQ(parse_object(json.out).at("balance_micros").as_int64(), 2'200'000);

  auto page = tollgate(home, {"wallet", "transactions", "--limit", "2"});
  ASSERT_EQ(page.status, 0) << page.err;
  EXPECT_NE(page.out.find("charge"), std::string::npos) << page.out;
  EXPECT_NE(page.out.find("sk_live_..." + agent.substr(agent.size() - 4)), std::string::npos) << page.out;
  EXPECT_EQ(page.out.find(agent.substr(8, 20)), std::string::npos) << "never the full key";
  auto more = page.out.find("--cursor ");
  ASSERT_NE(more, std::string::npos) << page.out;
  std::string cursor = page.out.substr(more + 9, page.out.find('\n', more) - more - 9);
  auto rest = tollgate(home, {"wallet", "transactions", "--limit", "100", "--cursor", cursor, "--json"});
  ASSERT_EQ(rest.status, 0) << rest.err;
  auto rest_json = parse_object(rest.out);
  EXPECT_TRUE(rest_json.at("next_cursor").is_null());
  EXPECT_GE(rest_json.at("transactions").as_array().size(), 2u);
  EXPECT_NE(tollgate(home, {"wallet", "transactions", "--limit", "101"}).err.find("INVALID_REQUEST"), std::string::npos);

  auto usage = tollgate(home, {"usage"});
  ASSERT_EQ(usage.status, 0) << usage.err;
  EXPECT_NE(usage.out.find("$0.30 in 3 calls"), std::string::npos) << usage.out;
  EXPECT_NE(usage.out.find("search"), std::string::npos) << usage.out;
  auto earned = tollgate(home, {"usage", "--role", "earned", "--json"});
  EXPECT_EQ(parse_object(earned.out).at("total").as_string(), "0.30");

  // ledger verify: clean, then caught after tampering with a balance behind Tollgate's back.
  platform.stop();
  auto clean = tollgate(home, {"ledger", "verify", "--db", platform.db_url()});
  EXPECT_EQ(clean.status, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find("ledger is clean"), std::string::npos);
  TestDatabase::execute_on(platform.db_url(), "UPDATE ledger_accounts SET balance_micros = balance_micros + 1 "
                                              "WHERE id LIKE 'credits:%' AND balance_micros > 0");
  auto dirty = tollgate(home, {"ledger", "verify", "--db", platform.db_url(), "--json"});
  EXPECT_EQ(dirty.status, 1) << dirty.out;
  auto report = parse_object(dirty.out);
  EXPECT_FALSE(report.at("clean").as_bool());
  EXPECT_EQ(report.at("balance_sum_micros").as_int64(), 1);
  EXPECT_EQ(report.at("mismatched_accounts").as_array().size(), 1u);
}

}  // namespace
}  // namespace tollgate::test
