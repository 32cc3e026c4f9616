#include "actors/status_board.hpp"

#include <map>

namespace nomad_iis {

/// Replaced whole on each change (tasks come and go rarely; reads are many).
struct status_board::index {
  std::map<std::string, std::shared_ptr<status_cell>, std::less<>> cells;
};

namespace {

std::string key_of(std::string_view alloc_id, std::string_view task_name) {
  std::string key;
  key.reserve(alloc_id.size() + 1 + task_name.size());
  key.append(alloc_id).push_back('\0');  // neither an alloc id nor a task name holds one
  key.append(task_name);
  return key;
}

}  // namespace

void status_board::assign(const std::string& alloc_id, const std::string& task_name,
                          std::shared_ptr<status_cell> cell) {
  auto next = std::make_shared<index>();
  if (auto now = std::atomic_load(&index_)) next->cells = now->cells;
  const auto key = key_of(alloc_id, task_name);
  if (cell)
    next->cells[key] = std::move(cell);
  else
    next->cells.erase(key);
  std::atomic_store(&index_, std::shared_ptr<const index>(std::move(next)));
}

status_ptr status_board::find(std::string_view alloc_id, std::string_view task_name) const {
  const auto now = std::atomic_load(&index_);
  if (!now) return nullptr;
  const auto it = now->cells.find(key_of(alloc_id, task_name));
  return it == now->cells.end() ? nullptr : it->second->current();
}

}  // namespace nomad_iis
