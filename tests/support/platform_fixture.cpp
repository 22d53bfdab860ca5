// Starting and talking to a real platform process.
#include "support/platform_fixture.hpp"

#include <gtest/gtest.h>

namespace tollgate::test {

namespace bj = boost::json;

std::string tollgate_binary() { return TOLLGATE_BINARY; }
std::string build_dir() { return TOLLGATE_BUILD_DIR; }

PlatformProcess::PlatformProcess() : PlatformProcess(Options{}) {}

PlatformProcess::PlatformProcess(Options options) {
  db_url_ = options.db_url.empty() ? "sqlite:" + dir_.file("tollgate.db") : options.db_url;
  Process::Options p;
  p.args = {tollgate_binary(), "serve", "--listen", "127.0.0.1:0", "--db", db_url_};
  for (auto& a : options.extra_args) p.args.push_back(a);
  p.env = options.env;
  p.working_dir = dir_.path();
  process_ = std::make_unique<Process>(std::move(p));
  auto line = process_->wait_for_line("listening on http://");
  if (!line) {
    ADD_FAILURE() << "tollgate serve did not start. stderr:\n" << process_->stderr_text();
    return;
  }
  url_ = line->substr(std::string("listening on ").size());
}

PlatformProcess::~PlatformProcess() {
  if (process_ && process_->running()) process_->stop();
}

int PlatformProcess::stop() { return process_->stop(); }

http::ClientResponse PlatformProcess::request(const std::string& method, const std::string& path,
                                              const std::string& body, const std::string& bearer,
                                              const http::Headers& headers) const {
  http::ClientRequest req;
  req.method = method;
  req.url = url_ + path;
  req.body = body;
  req.headers = headers;
  if (!body.empty() && !req.headers.get("Content-Type")) req.headers.set("Content-Type", "application/json");
  if (!bearer.empty()) req.headers.set("Authorization", "Bearer " + bearer);
  auto response = http::fetch(req);
  if (!response) {
    ADD_FAILURE() << method << " " << path << " failed: " << response.error().message;
    return {};
  }
  return std::move(*response);
}

bj::object PlatformProcess::json_request(const std::string& method, const std::string& path, const bj::value& body,
                                         const std::string& bearer, unsigned expected_status) const {
  auto response = request(method, path, body.is_null() ? "" : bj::serialize(body), bearer);
  EXPECT_EQ(response.status, expected_status) << method << " " << path << ": " << response.body;
  if (response.body.empty()) return {};
  return parse_object(response.body);
}

Session PlatformProcess::signup(const std::string& email, const std::string& password) {
  auto body = json_request("POST", "/api/v1/auth/signup", bj::object{{"email", email}, {"password", password}}, "", 201);
  Session s;
  s.email = email;
  if (body.contains("account")) s.account_id = std::string(body.at("account").at("id").as_string());
  if (body.contains("session_token")) s.token = std::string(body.at("session_token").as_string());
  return s;
}

bj::object PlatformProcess::create_key(const Session& session, const std::string& name, bool provider) {
  return json_request("POST", provider ? "/api/v1/provider-keys" : "/api/v1/keys", bj::object{{"name", name}},
                      session.token, 201);
}

std::string error_code(const http::ClientResponse& response) {
  boost::system::error_code ec;
  auto value = bj::parse(response.body, ec);
  if (ec || !value.is_object()) return "";
  auto* err = value.as_object().if_contains("error");
  if (!err || !err->is_object()) return "";
  auto* code = err->as_object().if_contains("code");
  return code && code->is_string() ? std::string(code->as_string()) : "";
}

bj::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto value = bj::parse(text, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return value.as_object();
}

}  // namespace tollgate::test
