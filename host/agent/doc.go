// Package agent is a single-node stand-in for a Nomad client and server:
// it launches the driver plugin through pluginhost exactly as a Nomad
// client does, serves the part of Nomad's HTTP API that tools use to find
// and manage work (jobs, allocations, nodes), places each job's task groups
// on this node, runs them through the plugin with Nomad's restart policy,
// and persists its state so a restarted agent recovers its tasks with
// RecoverTask.
//
// It is a development and test host, not a scheduler: one node, no raft,
// no clustering. Files:
//
//   - config.go, hclconv.go: the agent's configuration (JSON or HCL).
//   - structs_job.go, structs_alloc.go, structs_eval.go, structs_deploy.go,
//     structs_periodic.go, extra.go: Nomad's JSON shapes.
//   - canonicalize.go, validate.go: defaults and checks for a registered job.
//   - store.go, store_evals.go, store_ops.go, store_children.go,
//     store_deploy.go, persist.go: the state (indexes, jobs, versions,
//     allocations, evaluations, deployments, periodic launches) with
//     blocking-query support, written atomically to a JSON file.
//   - scheduler.go, updates.go, ports.go: placement of allocations on this
//     node, and which job changes replace them (Nomad's tasksUpdated).
//   - diff.go: Nomad's JobDiff (versions?diffs=true, plan).
//   - periodic.go: launching periodic jobs; deploywatch.go: deployment
//     health, progress, promotion, rollback; scale.go: scaling;
//     versions.go: version tags and job submissions.
//   - allocrunner.go, taskrunner.go, restarts.go, artifacts.go, events.go:
//     running allocations through the plugin.
//   - pluginmon.go: re-dispensing a plugin that died and recovering tasks.
//   - agent.go: start, recovery after a restart, shutdown.
//   - http.go, http_jobs.go, http_job_ops.go, http_children.go,
//     http_evals.go, http_deploy.go, http_nodes.go: the HTTP API.
package agent
