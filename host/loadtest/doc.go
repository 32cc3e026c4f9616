// Package loadtest drives nomad_iis tasks the way management tools and
// users do at once: it finds its targets through Nomad's Jobs HTTP API,
// runs C concurrent Management API clients over M allocations with a
// configurable mix of operations plus plain HTTP traffic against the
// sites, for a bounded time, optionally kills the plugin with SIGKILL in
// the middle, and reports per operation throughput, latency percentiles
// and errors together with the plugin's RSS and CPU. Only loopback
// addresses are ever targeted.
package loadtest
