package pluginhost

import (
	"runtime"

	"nomad_iis/gen/driverpb"
)

// buildTaskConfig fills TaskConfig as Nomad's task runner does for a
// host-mode group network (no task-level networks, no mounts or devices).
func buildTaskConfig(a *Alloc, spec TaskSpec, id string, env map[string]string, driverConfig []byte, logs *LogMon) *driverpb.TaskConfig {
	o := a.opts
	ports := make([]*driverpb.PortMapping, 0, len(o.Ports))
	for _, p := range o.Ports {
		ports = append(ports, &driverpb.PortMapping{Label: p.Label, Value: int32(p.Value), To: int32(p.To), HostIp: p.HostIP})
	}
	memMB := spec.memoryMB()
	limitMB := memMB
	if spec.MemoryMaxMB > limitMB {
		limitMB = spec.MemoryMaxMB
	}
	cfg := &driverpb.TaskConfig{
		Id:                  id,
		Name:                spec.Name,
		MsgpackDriverConfig: driverConfig,
		Env:                 env,
		DeviceEnv:           map[string]string{},
		Resources: &driverpb.Resources{
			AllocatedResources: &driverpb.AllocatedTaskResources{
				Cpu:    &driverpb.AllocatedCpuResources{CpuShares: spec.cpuShares()},
				Memory: &driverpb.AllocatedMemoryResources{MemoryMb: memMB, MemoryMaxMb: spec.MemoryMaxMB},
			},
			LinuxResources: &driverpb.LinuxResources{
				CpuShares:        spec.cpuShares(),
				MemoryLimitBytes: limitMB << 20,
				PercentTicks:     percentTicks(spec.cpuShares()),
			},
			Ports: ports,
		},
		User:          spec.User,
		AllocDir:      a.dir.Root,
		StdoutPath:    logs.Stdout.Path,
		StderrPath:    logs.Stderr.Path,
		TaskGroupName: o.Group,
		JobName:       o.JobName,
		JobId:         o.JobID,
		AllocId:       o.ID,
		Namespace:     o.Namespace,
		NodeName:      o.NodeName,
		NodeId:        o.NodeID,
	}
	return cfg
}

// percentTicks is the task's share of the node's total compute.
func percentTicks(cpuShares int64) float64 {
	total := float64(cpuMHz()) * float64(runtime.NumCPU())
	if total <= 0 {
		return 0
	}
	return float64(cpuShares) / total
}
