// `tollgate`: one binary, one subcommand per part (serve, login, keys, ...). See API.md
// "Command line" for what scripts and tests rely on.
#include "cli/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Tollgate: let AI agents pay for MCP tools.", "tollgate"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tollgate 0.1.0");
  int exit_code = 0;
  tollgate::cli::add_serve_command(app, exit_code);
  tollgate::cli::add_account_commands(app, exit_code);
  tollgate::cli::add_wallet_commands(app, exit_code);
  tollgate::cli::add_connect_command(app, exit_code);
  tollgate::cli::add_gateway_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
