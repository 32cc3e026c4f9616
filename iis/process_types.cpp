#include "iis/process_types.hpp"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

namespace nomad_iis::iis {

int signal_from_name(std::string_view name) {
  static const std::map<std::string, int> names{
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
      {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
      {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
      {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"PWR", SIGPWR},       {"SYS", SIGSYS}};
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind("SIG", 0) == 0) upper.erase(0, 3);
  if (!upper.empty() && std::all_of(upper.begin(), upper.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    if (upper.size() > 3) return 0;
    const int number = std::stoi(upper);
    return number > 0 && number < NSIG ? number : 0;
  }
  auto it = names.find(upper);
  return it == names.end() ? 0 : it->second;
}

std::string describe(const exit_status& status) {
  if (!status.known) return "status unknown";
  if (status.signal != 0) return "signal " + std::to_string(status.signal);
  return "code " + std::to_string(status.code);
}

}  // namespace nomad_iis::iis
