#include "iis/files/transfer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/beneath.hpp"
#include "iis/files/file_error.hpp"
#include "iis/files/folder_zip_stream.hpp"
#include "iis/files/remove.hpp"
#include "iis/files/staged_upload.hpp"
#include "iis/files/swap.hpp"
#include "iis/files/task_tree.hpp"
#include "iis/files/zip_extractor.hpp"

namespace nomad_iis::files {
namespace {

/// The secrets folder's name in the task dir ("secrets"; "" if it lies elsewhere).
std::string secrets_name(const file_target& t) {
  const std::string prefix = t.task_dir + "/";
  if (t.secrets_dir.compare(0, prefix.size(), prefix) != 0) return "";
  auto name = t.secrets_dir.substr(prefix.size());
  return name.find('/') == std::string::npos ? name : "";
}

std::unique_ptr<task_root> open_root(const file_target& t) {
  return std::make_unique<task_root>(t.task_dir, secrets_name(t), t.allow_secrets);
}

std::string basename_of(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

std::string change_path_of(const file_target& t, const resolved_path& target) {
  return target.relative.empty() ? t.task_dir : t.task_dir + "/" + target.relative;
}

}  // namespace

// ---- file_reader ----

file_reader::file_reader(unique_fd fd, std::uint64_t size)
    : fd_(std::move(fd)), size_(size), left_(size) {}

file_reader file_reader::open_own(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0)
    throw internal_error("filesystem_error", path + " cannot be read: " + std::strerror(errno));
  return file_reader(std::move(fd), static_cast<std::uint64_t>(st.st_size));
}

std::string file_reader::next_block(std::size_t max) {
  std::string block(static_cast<std::size_t>(std::min<std::uint64_t>(left_, max)), '\0');
  std::size_t have = 0;
  while (have < block.size()) {
    auto n = ::read(fd_.get(), block.data() + have, block.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw internal_error("file_shrank", "the file shrank while it was sent");
    have += static_cast<std::size_t>(n);
  }
  left_ -= have;
  return block;
}

// ---- upload_job ----

struct upload_job::state {
  std::unique_ptr<task_root> root;
  resolved_path target;
  ownership own;
  std::unique_ptr<staging_dir> staging;
  unique_fd file;  ///< the staged file, or the folder a zip is extracted into
  std::unique_ptr<zip_extractor> zip;
  std::uint64_t received = 0;
  std::uint64_t files = 0;
};

upload_job::upload_job(file_target target, upload_options options)
    : target_(std::move(target)), options_(options) {}

upload_job::~upload_job() = default;

void upload_job::prepare() {
  auto s = std::make_unique<state>();
  s->root = open_root(target_);
  s->target = resolve_path(*s->root, target_.path);
  check_upload_target(s->target, options_.is_zip);
  const held_entry& dest = s->target.target();
  s->own = upload_ownership(dest, options_.is_zip);
  s->staging = std::make_unique<staging_dir>(dest.dir.get());
  if (options_.is_zip) {
    s->file = s->staging->make_dir(staged_name, 0755);
    apply_acls(s->file.get(), s->own);  // before extraction: entries inherit its default ACL
    s->zip = std::make_unique<zip_extractor>(s->file.get(), options_.limits);
  } else {
    s->file = s->staging->create_file(staged_name, 0600);
  }
  state_ = std::move(s);
}

void upload_job::write(const std::string& block) {
  auto& s = *state_;
  s.received += block.size();
  if (s.received > options_.max_bytes)
    throw too_large("upload_too_large",
                    "the upload is larger than " + std::to_string(options_.max_bytes) + " bytes");
  if (s.zip)
    s.zip->feed(block.data(), block.size());
  else
    write_staged(s.file.get(), block.data(), block.size());
}

void upload_job::finish() {
  auto& s = *state_;
  if (options_.content_length && s.received != *options_.content_length)
    throw bad_request("upload_incomplete", "the upload ended after " + std::to_string(s.received) +
                                               " of " + std::to_string(*options_.content_length) +
                                               " bytes");
  if (s.zip) {
    s.files = s.zip->finish().files;
    s.zip.reset();
  } else {
    s.files = 1;
  }
  s.file.reset();
  apply_ownership(s.staging->fd(), staged_name, s.own);
}

void upload_job::swap() {
  auto& s = *state_;
  place_upload(*s.root, s.target.target(), *s.staging, options_.is_zip, options_.clean);
}

std::string upload_job::change_path() const {
  return change_path_of(target_, state_->target);
}

upload_outcome upload_job::outcome() const {
  upload_outcome o;
  o.bytes_received = state_ ? state_->received : 0;
  o.files = state_ ? state_->files : 0;
  return o;
}

void upload_job::release() {
  state_.reset();
}

// ---- delete_job ----

struct delete_job::state {
  std::unique_ptr<task_root> root;
  resolved_path target;
  std::unique_ptr<pending_delete> removal;
};

delete_job::delete_job(file_target target) : target_(std::move(target)) {}

delete_job::~delete_job() = default;

void delete_job::prepare() {
  auto s = std::make_unique<state>();
  const bool empty_only = strip_clean_suffix(target_.path);
  s->root = open_root(target_);
  s->target = resolve_path(*s->root, target_.path);
  s->removal = std::make_unique<pending_delete>(s->target, empty_only);
  state_ = std::move(s);
}

void delete_job::apply() {
  state_->removal->apply();
}

std::string delete_job::change_path() const {
  return change_path_of(target_, state_->target);
}

void delete_job::release() {
  state_.reset();
}

// ---- download_job ----

struct download_job::state {
  std::unique_ptr<task_root> root;
  std::optional<file_reader> file;
  unique_fd folder;
  std::unique_ptr<folder_zip_stream> zip;
};

download_job::download_job(file_target target, std::string task_name)
    : target_(std::move(target)), task_name_(std::move(task_name)) {}

std::shared_ptr<download_job> download_job::of_own_file(std::string path, std::string filename,
                                                        std::shared_ptr<void> keep) {
  auto job = std::make_shared<download_job>(file_target{}, std::move(filename));
  job->own_path_ = std::move(path);
  job->keep_ = std::move(keep);
  return job;
}

download_job::~download_job() = default;

download_head download_job::open() {
  auto s = std::make_unique<state>();
  if (!own_path_.empty()) {
    s->file.emplace(file_reader::open_own(own_path_));
    download_head head;
    head.filename = task_name_;
    head.length = s->file->size();
    state_ = std::move(s);
    return head;
  }
  s->root = open_root(target_);
  const auto target = resolve_path(*s->root, target_.path);
  if (!target.exists()) throw not_found("\"" + target.relative + "\" does not exist");
  download_head head;
  const auto name = target.is_root() ? task_name_ : basename_of(target.relative);
  if (target.is_dir()) {
    s->folder = open_folder(target.target());
    s->zip = std::make_unique<folder_zip_stream>(
        [dir = s->folder.get(), root = s->root.get()](const folder_visitor& visit) {
          walk_folder_files(dir, root, visit);
        });
    head.is_zip = true;
    head.filename = name + ".zip";
  } else {
    unique_fd fd = open_regular_file(target.target(), target.relative);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      throw internal_error("filesystem_error", std::string("fstat: ") + std::strerror(errno));
    s->file.emplace(std::move(fd), static_cast<std::uint64_t>(st.st_size));
    head.filename = name;
    head.length = s->file->size();
  }
  state_ = std::move(s);
  return head;
}

std::string download_job::next_block(std::size_t max) {
  auto& s = *state_;
  if (s.file) return s.file->next_block(max);
  std::string block;
  s.zip->next(block);
  return block;
}

void download_job::release() {
  state_.reset();
  keep_.reset();
}

// ---- listing ----

namespace {

const char* type_of(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return "file";
  if (S_ISDIR(st.st_mode)) return "directory";
  if (S_ISLNK(st.st_mode)) return "symlink";
  return "other";
}

}  // namespace

folder_listing list_folder(const file_target& t) {
  const auto root = open_root(t);
  const auto target = resolve_path(*root, t.path);
  if (!target.exists()) throw not_found("\"" + target.relative + "\" does not exist");
  if (!target.is_dir())
    throw bad_request("not_a_folder", "\"" + target.relative + "\" is a file, not a folder");
  const unique_fd folder = open_folder(target.target());
  folder_listing out;
  out.path = target.relative;
  walk_beneath(folder.get(), [&](const walk_entry& e) {
    if (e.depth == 0) return walk_step::enter;
    if (is_staging_name(e.name)) return walk_step::skip;
    if (S_ISDIR(e.st.st_mode) && (is_live_staging(file_id::of(e.st)) || root->guarded(e.st)))
      return walk_step::skip;
    out.entries.push_back({e.name, type_of(e.st),
                           S_ISREG(e.st.st_mode) ? static_cast<std::uint64_t>(e.st.st_size) : 0,
                           static_cast<std::int64_t>(e.st.st_mtim.tv_sec)});
    return walk_step::skip;
  });
  std::sort(out.entries.begin(), out.entries.end(),
            [](const listed_entry& a, const listed_entry& b) { return a.name < b.name; });
  return out;
}

}  // namespace nomad_iis::files
