#pragma once
// Counts a site's request log (request_log.hpp) on a blocking worker: reads
// what the front appended since the last count, adds it to the totals kept
// in the data_dir, and punches the counted bytes out of the log, so the log
// takes no disk space however long the site runs and nginx never has to
// reopen it (its offset only grows; the file is sparse).

#include <string>

#include "iis/request_log.hpp"

namespace nomad_iis::iis {

/// The site's totals now. A log shorter than the kept offset (a new log)
/// is counted from its start again; what was counted before stays counted.
request_totals count_requests(const std::string& data_dir);

}  // namespace nomad_iis::iis
