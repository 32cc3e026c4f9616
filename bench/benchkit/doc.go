// Package benchkit holds what the benchmarks under bench/ share: the real
// plugin run through pluginhost, tasks made on it, the first-200 poll, plain
// nginx baselines stopped by PID, wrk runs, and process memory from /proc.
package benchkit
