# The agent config of host.json in HCL. Relative paths are relative to
# this file. Start with: build/bin/nomad-iis-host agent -config examples/host.hcl
data_dir   = "/var/lib/nomad-iis-host"
bind_addr  = "127.0.0.1"
plugin_dir = "../build/bin"

ports {
  http = 4646
}

plugin "nomad_iis" {
  args = [
    "--management-api-port=5004",
    "--management-api-key-file=/etc/nomad-iis/api-key",
    "--management-api-bind=127.0.0.1",
  ]
  config {
    enabled                    = true
    directory_security         = true
    allowed_apppool_identities = ["ApplicationPoolIdentity", "NetworkService"]
  }
}

client {
  min_dynamic_port = 20000
  max_dynamic_port = 32000
  reserved {
    reserved_ports = "4646,5004"
  }
  max_kill_timeout = "30s"
}

stop_tasks_on_exit = false
