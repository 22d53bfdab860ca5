// A real `tollgate serve` for integration tests: started on port 0 with its own database,
// plus HTTP helpers that speak the REST API like a client would.
#pragma once

#include <boost/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/client.hpp"
#include "support/process.hpp"

namespace tollgate::test {

// Where the built binaries are.
std::string tollgate_binary();
std::string build_dir();

struct Session {
  std::string account_id;
  std::string email;
  std::string token;  // sess_...
};

class PlatformProcess {
 public:
  struct Options {
    std::vector<std::string> extra_args;
    std::string db_url;  // default: sqlite in a fresh temp dir
    std::map<std::string, std::string> env;
  };
  PlatformProcess();
  explicit PlatformProcess(Options options);
  ~PlatformProcess();

  const std::string& url() const { return url_; }
  const std::string& db_url() const { return db_url_; }
  Process& process() { return *process_; }
  TempDir& dir() { return dir_; }

  // One request; `bearer` goes into Authorization. Fails the test on transport errors.
  http::ClientResponse request(const std::string& method, const std::string& path, const std::string& body = {},
                               const std::string& bearer = {}, const http::Headers& headers = {}) const;
  boost::json::object json_request(const std::string& method, const std::string& path, const boost::json::value& body,
                                   const std::string& bearer, unsigned expected_status) const;

  Session signup(const std::string& email, const std::string& password = "correct horse battery");
  // Creates an agent key (or provider key); returns the create response.
  boost::json::object create_key(const Session& session, const std::string& name, bool provider = false);

  // Stops with SIGTERM; returns the exit status.
  int stop();

 private:
  TempDir dir_;
  std::string db_url_;
  std::string url_;
  std::unique_ptr<Process> process_;
};

// Error code of a REST error body ("" if the body is not one).
std::string error_code(const http::ClientResponse& response);
boost::json::object parse_object(const std::string& text);

}  // namespace tollgate::test
