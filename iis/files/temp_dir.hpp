#pragma once
// A private temporary directory (mkdtemp under $TMPDIR or /tmp) removed with
// everything in it, through descriptors, when the object goes away.

#include <cstdlib>
#include <string>
#include <vector>

#include "common/beneath.hpp"
#include "iis/files/file_error.hpp"

namespace nomad_iis::files {

class scoped_temp_dir {
 public:
  explicit scoped_temp_dir(const std::string& prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp == '/' ? tmp : "/tmp";
    std::string tmpl = base + "/" + prefix + "XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data()))
      throw internal_error("internal", "cannot create a temporary directory");
    path_ = buf.data();
    base_ = open_directory(base);
    name_ = path_.substr(path_.rfind('/') + 1);
  }
  ~scoped_temp_dir() {
    if (base_) remove_beneath(base_.get(), name_);
  }
  scoped_temp_dir(const scoped_temp_dir&) = delete;
  scoped_temp_dir& operator=(const scoped_temp_dir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  unique_fd base_;  ///< the folder holding it, so removal never re-resolves the path
  std::string name_;
};

}  // namespace nomad_iis::files
