#include "adapters/http/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace nomad_iis::http {

subprocess_result run_subprocess(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout,
                                 const std::string& stderr_file) {
  subprocess_result r;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // Own session: a timeout kills the helper and everything it started.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc =
      ::posix_spawn(&pid, args[0], &fa, &attr, args.data(), env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    r.error = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
    return r;
  }
  r.started = true;

  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  auto delay = std::chrono::milliseconds(5);
  while (true) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(delay);
    if (delay < std::chrono::milliseconds(50)) delay *= 2;
  }
  // Whatever the helper left running in its session goes too (Chromium's zygotes).
  ::kill(-pid, SIGKILL);
  if (!r.timed_out && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);

  std::ifstream err(stderr_file, std::ios::binary);
  std::stringstream ss;
  ss << err.rdbuf();
  auto text = ss.str();
  r.stderr_tail = text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  return r;
}

}  // namespace nomad_iis::http
