// Child processes for integration tests: start a real binary with arguments and environment,
// capture its stdout and stderr to files, wait for a line, stop it (SIGTERM or SIGKILL).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tollgate::test {

class Process {
 public:
  struct Options {
    std::vector<std::string> args;             // args[0] is the program path
    std::map<std::string, std::string> env;    // added to (or replacing in) the parent's environment
    std::optional<std::string> stdin_text;     // written to stdin, then stdin is closed
    std::string working_dir;
  };

  explicit Process(Options options);
  ~Process();  // SIGKILLs a child still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until stdout has a line starting with `prefix`; returns the line (or nullopt at
  // the deadline or if the child exits first).
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Sends `signal` and waits for exit; returns the exit status (128+signal if killed).
  int stop(int signal = 15, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits for a natural exit.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  bool running();

  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::optional<int> exit_status_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// Runs a command to completion: exit status and captured output.
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run(Process::Options options, std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);

}  // namespace tollgate::test
