#pragma once
// Helpers shared by the HTTP adapter's tests: temp dirs, files, and zip
// archives built by python3's zipfile (an independent implementation).

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace nomad_iis::http::test {

/// A fresh directory removed when the object goes away.
struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/http-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

inline void write_file(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs a python3 snippet with `zip` bound to the output path; the snippet
/// uses the zipfile module as `z` (opened for writing) unless `raw` is set.
inline void make_zip(const std::string& out, const std::string& body, bool raw = false) {
  std::string script = out + ".py";
  {
    std::ofstream py(script);
    py << "import zipfile, sys, stat\nzip_path = sys.argv[1]\n";
    if (raw) {
      py << body << "\n";
    } else {
      py << "with zipfile.ZipFile(zip_path, 'w', zipfile.ZIP_DEFLATED) as z:\n";
      std::istringstream lines(body);
      std::string line;
      while (std::getline(lines, line)) py << "    " << line << "\n";
    }
  }
  std::string cmd = "python3 '" + script + "' '" + out + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("python3 failed: " + body);
  ::unlink(script.c_str());
}

/// Number of entries below `dir` (files, dirs, links), recursively.
inline std::size_t count_entries(const std::string& dir) {
  std::size_t n = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir);
       it != std::filesystem::recursive_directory_iterator(); ++it)
    ++n;
  return n;
}

}  // namespace nomad_iis::http::test
