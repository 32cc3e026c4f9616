package agent

import "time"

// Defaults a Nomad server and its api package fill into a registered job.
const (
	defaultRegion    = "global"
	defaultNamespace = "default"
	defaultPriority  = 50
	defaultNodePool  = "default"

	defaultCPU         = 100
	defaultMemoryMB    = 300
	defaultKillTimeout = 5 * time.Second
	defaultLogFiles    = 10
	defaultLogFileMB   = 10
)

func intPtr(i int) *int                     { return &i }
func strPtr(s string) *string               { return &s }
func durPtr(d time.Duration) *time.Duration { return &d }

func setInt(p **int, v int) {
	if *p == nil {
		*p = intPtr(v)
	}
}

func setDur(p **time.Duration, v time.Duration) {
	if *p == nil {
		*p = durPtr(v)
	}
}

// defaultRestartPolicy is Nomad's group restart policy for a job type.
func defaultRestartPolicy(jobType string) RestartPolicy {
	if jobType == JobTypeBatch || jobType == JobTypeSysBatch {
		return RestartPolicy{Attempts: intPtr(3), Interval: durPtr(24 * time.Hour), Delay: durPtr(15 * time.Second), Mode: strPtr(RestartModeFail)}
	}
	return RestartPolicy{Attempts: intPtr(2), Interval: durPtr(30 * time.Minute), Delay: durPtr(15 * time.Second), Mode: strPtr(RestartModeFail)}
}

// mergeRestart fills the unset fields of p from def.
func mergeRestart(p *RestartPolicy, def RestartPolicy) *RestartPolicy {
	out := def
	if p != nil {
		if p.Attempts != nil {
			out.Attempts = p.Attempts
		}
		if p.Interval != nil {
			out.Interval = p.Interval
		}
		if p.Delay != nil {
			out.Delay = p.Delay
		}
		if p.Mode != nil {
			out.Mode = p.Mode
		}
		out.RenderTemplates = p.RenderTemplates
	}
	return &out
}

// Canonicalize fills the defaults Nomad fills before it stores a job.
func (j *Job) Canonicalize(region string) {
	if j.Region == "" {
		j.Region = region
	}
	if j.Namespace == "" {
		j.Namespace = defaultNamespace
	}
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
	if j.Priority == 0 {
		j.Priority = defaultPriority
	}
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{"*"}
	}
	if j.NodePool == "" {
		j.NodePool = defaultNodePool
	}
	if j.Periodic != nil {
		j.Periodic.canonicalize()
	}
	if j.Update != nil {
		j.Update = j.Update.merged(defaultUpdate())
		for _, g := range j.TaskGroups {
			if g != nil {
				g.Update = g.Update.merged(*j.Update)
			}
		}
	}
	for _, g := range j.TaskGroups {
		if g != nil && g.Update != nil {
			g.Update = g.Update.merged(defaultUpdate())
		}
	}
	if j.ParameterizedJob != nil && j.ParameterizedJob.Payload == "" {
		j.ParameterizedJob.Payload = DispatchPayloadOptional
	}
	for _, g := range j.TaskGroups {
		if g != nil {
			g.canonicalize(j)
		}
	}
}

func (g *TaskGroup) canonicalize(j *Job) {
	if g.Count == nil {
		g.Count = intPtr(1)
	}
	g.RestartPolicy = mergeRestart(g.RestartPolicy, defaultRestartPolicy(j.Type))
	for _, n := range g.Networks {
		if n != nil {
			n.canonicalize()
		}
	}
	for _, t := range g.Tasks {
		if t != nil {
			t.canonicalize(g)
		}
	}
}

func (n *NetworkResource) canonicalize() {
	if n.Mode == "" {
		n.Mode = "host"
	}
	for i := range n.ReservedPorts {
		if n.ReservedPorts[i].HostNetwork == "" {
			n.ReservedPorts[i].HostNetwork = "default"
		}
	}
	for i := range n.DynamicPorts {
		if n.DynamicPorts[i].HostNetwork == "" {
			n.DynamicPorts[i].HostNetwork = "default"
		}
	}
}

func (t *Task) canonicalize(g *TaskGroup) {
	if t.Resources == nil {
		t.Resources = &Resources{}
	}
	setInt(&t.Resources.CPU, defaultCPU)
	setInt(&t.Resources.MemoryMB, defaultMemoryMB)
	for _, n := range t.Resources.Networks {
		if n != nil {
			n.canonicalize()
		}
	}
	setDur(&t.KillTimeout, defaultKillTimeout)
	if t.LogConfig == nil {
		t.LogConfig = &LogConfig{}
	}
	setInt(&t.LogConfig.MaxFiles, defaultLogFiles)
	setInt(&t.LogConfig.MaxFileSizeMB, defaultLogFileMB)
	// The task's restart block overrides the group's field by field.
	t.RestartPolicy = mergeRestart(t.RestartPolicy, *g.RestartPolicy)
	for _, a := range t.Artifacts {
		if a == nil {
			continue
		}
		if a.GetterMode == nil {
			a.GetterMode = strPtr("any")
		}
		if a.RelativeDest == nil {
			a.RelativeDest = strPtr("local/")
		}
	}
}
