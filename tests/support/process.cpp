// fork/exec with output to files: simple, and the files stay readable after the child exits.
#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace tollgate::test {
namespace {

int decode_status(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "tollgate-test.XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Process::Process(Options options) {
  static std::atomic<int> counter{0};
  std::string base = (std::filesystem::temp_directory_path() /
                      ("tollgate-proc-" + std::to_string(getpid()) + "-" + std::to_string(counter++)))
                         .string();
  stdout_path_ = base + ".out";
  stderr_path_ = base + ".err";

  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : options.args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int in_pipe[2];
  if (pipe(in_pipe) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(in_pipe[0], 0);
    close(in_pipe[0]);
    close(in_pipe[1]);
    int out = open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    if (!options.working_dir.empty() && chdir(options.working_dir.c_str()) != 0) _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(in_pipe[0]);
  if (options.stdin_text) {
    const std::string& text = *options.stdin_text;
    ssize_t ignored = write(in_pipe[1], text.data(), text.size());
    (void)ignored;
    close(in_pipe[1]);
  } else {
    // Kept open until the process object goes: a server reading stdin (an MCP stdio
    // server) must not see end-of-file while the test runs.
    stdin_fd_ = in_pipe[1];
  }
}

Process::~Process() {
  if (running()) stop(SIGKILL, std::chrono::seconds(10));
  if (stdin_fd_ >= 0) close(stdin_fd_);
  std::error_code ec;
  std::filesystem::remove(stdout_path_, ec);
  std::filesystem::remove(stderr_path_, ec);
}

bool Process::running() {
  if (exit_status_) return false;
  int raw = 0;
  pid_t r = waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    exit_status_ = decode_status(raw);
    return false;
  }
  return r == 0;
}

std::optional<std::string> Process::wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::istringstream lines(stdout_text());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(prefix, 0) == 0 && !lines.eof()) return line;
    }
    if (!running() || std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int Process::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      int raw = 0;
      waitpid(pid_, &raw, 0);
      exit_status_ = decode_status(raw);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return *exit_status_;
}

int Process::stop(int signal, std::chrono::milliseconds timeout) {
  if (running()) kill(pid_, signal);
  return wait(timeout);
}

std::string Process::stdout_text() const { return read_file(stdout_path_); }
std::string Process::stderr_text() const { return read_file(stderr_path_); }

RunResult run(Process::Options options, std::chrono::milliseconds timeout) {
  if (!options.stdin_text) options.stdin_text = "";
  Process p(std::move(options));
  RunResult r;
  r.status = p.wait(timeout);
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

}  // namespace tollgate::test
