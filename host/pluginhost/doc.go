// Package pluginhost launches and drives a Nomad task driver plugin the way a
// Nomad client agent does, without Nomad.
//
// The pieces map onto the agent's own subsystems:
//
//   - launch.go, driverclient.go: one plugin process behind
//     go-plugin's client (the handshake, the gRPC connection, Kill, reattach).
//   - loader.go: the plugin loader's two short-lived launches (PluginInfo and
//     ConfigSchema; SetConfig validation).
//   - drivermanager.go, streams.go: the long-lived instance with SetConfig,
//     Init and the Fingerprint and TaskEvents streams.
//   - specconv.go, encode.go, evalctx.go: the config pipeline (HCL-JSON,
//     hcldec against the plugin's spec, go-cty msgpack).
//   - host.go: the three launches together, plus restart, crash and reattach.
//   - alloc.go, allocdir.go, taskenv.go, taskconfig.go, logmon.go,
//     taskrunner.go: an allocation with its directories, environment, log
//     FIFOs and the per-task RPCs; taskadopt.go: a runner for a task an
//     earlier agent process started (persisted handle, reopened FIFOs).
//   - probe.go, handshake.go, procs.go: raw process checks used by tests.
package pluginhost
