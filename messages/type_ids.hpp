#pragma once
// The one CAF type-id block of the project: every message type and atom.

#include <caf/type_id.hpp>

#include "messages/exec.hpp"
#include "messages/files.hpp"
#include "messages/management.hpp"
#include "messages/messages.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(nomad_iis, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::set_driver_config))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::fingerprint))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::api_status))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::start_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::started_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::recover_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::wait_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exit_result))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::stop_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::destroy_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::inspect_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::task_status))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::signal_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::sample_stats))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::task_stats))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::task_event))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::probe_result))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::find_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::found_task))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::list_tasks))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::task_list))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::get_debug_info))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::debug_info))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::get_site_status))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::site_status))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::pool_command))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::find_site_status))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::file_target))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::upload_begin))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::transfer_id))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::upload_block))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::upload_end))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::upload_done))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::delete_path))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::download_begin))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::download_started))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::download_next))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::file_block))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exec_open))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exec_opened))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exec_begin))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exec_input))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exec_resize))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exec_output))
CAF_ADD_TYPE_ID(nomad_iis, (nomad_iis::msg::exec_exited))

CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, subscribe, "subscribe")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, unsubscribe, "unsubscr")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, tick, "tick")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, get, "get")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, hand_over, "hand_over")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, poll, "poll")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, wake, "wake")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, idle_check, "idle_chk")
CAF_ADD_ATOM(nomad_iis, nomad_iis::atom, periodic, "periodic")

CAF_END_TYPE_ID_BLOCK(nomad_iis)
