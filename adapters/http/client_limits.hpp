#pragma once
// Open Management API connections per source address, so that one client's
// idle or slow connections cannot take every descriptor (or thread) from the
// others. A slot is one open connection, held by its session and given back
// when it closes.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace nomad_iis::http {

class client_limits : public std::enable_shared_from_this<client_limits> {
 public:
  /// One open connection of a client; destroying it gives the slot back.
  class slot {
   public:
    slot(std::shared_ptr<client_limits> limits, std::string client)
        : limits_(std::move(limits)), client_(std::move(client)) {}
    ~slot() { limits_->release(client_); }
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;

   private:
    std::shared_ptr<client_limits> limits_;
    std::string client_;
  };

  explicit client_limits(std::size_t per_client) : per_client_(per_client) {}

  /// A slot for a connection from `client`, or null when it holds the
  /// limit already.
  std::shared_ptr<slot> acquire(const std::string& client) {
    {
      std::lock_guard lock(mutex_);
      auto& open = open_[client];
      if (open >= per_client_.load()) {
        if (open == 0) open_.erase(client);
        return nullptr;
      }
      ++open;
    }
    return std::make_shared<slot>(shared_from_this(), client);
  }

  /// Applies to connections accepted from now on.
  void set_per_client(std::size_t n) { per_client_ = n; }
  std::size_t per_client() const { return per_client_; }

 private:
  void release(const std::string& client) {
    std::lock_guard lock(mutex_);
    auto it = open_.find(client);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }

  std::atomic<std::size_t> per_client_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> open_;
};

using client_slot = client_limits::slot;

}  // namespace nomad_iis::http
