// libFuzzer target for the JSON-RPC decoder every MCP transport feeds untrusted bytes to:
// any input must decode to messages or to a JSON-RPC error (never crash, hang or throw), and
// whatever decodes must re-encode to text that decodes to the same messages.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tollgate/mcp/json_rpc.hpp"

using namespace tollgate::mcp;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void check_round_trip(const Decoded& first) {
  std::string text = first.batch ? encode_batch(first.messages) : encode(first.messages.front());
  require(text.find('\n') == std::string::npos);  // one message per stdio line / SSE data line
  Decoded second = decode(text, true);
  require(second.ok());
  require(second.messages.size() == first.messages.size());
  for (std::size_t i = 0; i < first.messages.size(); ++i) {
    const Message& a = first.messages[i];
    const Message& b = second.messages[i];
    require(a.kind == b.kind);
    require(a.id_null == b.id_null);
    if (a.kind != MessageKind::kNotification && !a.id_null) require(a.id == b.id);
    require(a.method == b.method);
    require(a.params == b.params);
    if (a.kind == MessageKind::kError) {
      require(a.error.code == b.error.code);
      require(a.error.message == b.error.message);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool allow_batch : {true, false}) {
    Decoded decoded = decode(text, allow_batch);
    if (!decoded.ok()) {
      require(decoded.messages.empty());
      require(decoded.error->error.code == rpc::kParseError || decoded.error->error.code == rpc::kInvalidRequest);
      // The error answer we would send is itself a valid message.
      require(decode(encode(Message::failure(decoded.error->id, decoded.error->error)), false).ok());
      continue;
    }
    require(!decoded.messages.empty());
    require(allow_batch || !decoded.batch);
    require(decoded.messages.size() <= kMaxBatchMessages);
    check_round_trip(decoded);
  }
  return 0;
}
