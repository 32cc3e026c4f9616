package agent

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// ValidationError lists every problem found in a job; each names the field
// it is about ("Job.TaskGroups[web].Tasks[app].Driver: ...").
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "1 error occurred:\n\t* " + e.Problems[0] + "\n"
	}
	return fmt.Sprintf("%d errors occurred:\n\t* %s\n", len(e.Problems), strings.Join(e.Problems, "\n\t* "))
}

type problems []string

func (p *problems) add(path, format string, args ...interface{}) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

// ValidateOptions is what validation needs to know about this node.
type ValidateOptions struct {
	// Driver is the name of the loaded driver plugin ("iis").
	Driver string
	// TaskConfig checks a task's config block against the driver's schema;
	// nil skips the check.
	TaskConfig func(task *Task, ports []Port) error
}

// Validate checks a canonicalized job. Warnings are returned for accepted
// fields that this host ignores.
func (j *Job) Validate(opts ValidateOptions) (warnings []string, err error) {
	var p problems
	switch {
	case j.ID == "":
		p.add("Job.ID", "missing job ID")
	case strings.ContainsAny(j.ID, " \x00"):
		p.add("Job.ID", "job ID %q contains a space or a null character", j.ID)
	case strings.ContainsAny(j.ID, "/?#%"):
		p.add("Job.ID", "job ID %q contains one of / ? # %% (they cannot appear in the API's URLs)", j.ID)
	}
	if strings.Contains(j.Name, "\x00") {
		p.add("Job.Name", "job name contains a null character")
	}
	switch j.Type {
	case JobTypeService, JobTypeBatch, JobTypeSystem, JobTypeSysBatch:
	default:
		p.add("Job.Type", "invalid job type %q (want service, batch, system or sysbatch)", j.Type)
	}
	if j.Priority < 1 || j.Priority > 100 {
		p.add("Job.Priority", "job priority %d must be between 1 and 100", j.Priority)
	}
	if len(j.TaskGroups) == 0 {
		p.add("Job.TaskGroups", "missing job task groups")
	}
	j.validatePeriodic(&p)
	j.validateParameterized(&p)
	warnExtra("Job", j.Extra, &warnings)
	groups := map[string]bool{}
	for i, g := range j.TaskGroups {
		path := fmt.Sprintf("Job.TaskGroups[%d]", i)
		if g == nil {
			p.add(path, "task group is null")
			continue
		}
		if g.Name != "" {
			path = fmt.Sprintf("Job.TaskGroups[%s]", g.Name)
		}
		if groups[g.Name] && g.Name != "" {
			p.add(path+".Name", "task group name %q is used twice", g.Name)
		}
		groups[g.Name] = true
		g.validate(path, j, opts, &p, &warnings)
	}
	if len(p) > 0 {
		return warnings, &ValidationError{Problems: p}
	}
	return warnings, nil
}

func (g *TaskGroup) validate(path string, j *Job, opts ValidateOptions, p *problems, warnings *[]string) {
	if g.Name == "" {
		p.add(path+".Name", "missing task group name")
	} else if strings.ContainsAny(g.Name, "/\x00") {
		p.add(path+".Name", "task group name %q contains / or a null character", g.Name)
	}
	if g.Count != nil && *g.Count < 0 {
		p.add(path+".Count", "task group count %d must not be negative", *g.Count)
	}
	if g.Count != nil && *g.Count > 1000 {
		p.add(path+".Count", "task group count %d is more than this single-node host places (1000)", *g.Count)
	}
	if len(g.Tasks) == 0 {
		p.add(path+".Tasks", "missing tasks for task group")
	}
	validateRestart(path+".RestartPolicy", g.RestartPolicy, p)
	validateUpdate(path+".Update", j.Type, g.Update, p)
	warnExtra(path, g.Extra, warnings)
	ports := g.validateNetworks(path, p)
	tasks := map[string]bool{}
	for i, t := range g.Tasks {
		tpath := fmt.Sprintf("%s.Tasks[%d]", path, i)
		if t == nil {
			p.add(tpath, "task is null")
			continue
		}
		if t.Name != "" {
			tpath = fmt.Sprintf("%s.Tasks[%s]", path, t.Name)
		}
		if tasks[t.Name] && t.Name != "" {
			p.add(tpath+".Name", "task name %q is used twice in the group", t.Name)
		}
		tasks[t.Name] = true
		t.validate(tpath, append(append([]Port(nil), ports...), t.taskPorts()...), opts, p, warnings)
	}
	if g.Count != nil && *g.Count > 1 {
		for _, port := range ports {
			if port.Value > 0 && !port.IgnoreCollision {
				p.add(path+".Networks", "static port %d (%q) cannot be given to %d allocations on one node; use a dynamic port or count = 1", port.Value, port.Label, *g.Count)
			}
		}
	}
}

// validateNetworks checks the group's network blocks and returns its ports
// (reserved ones with their static Value, dynamic ones with Value 0).
func (g *TaskGroup) validateNetworks(path string, p *problems) []Port {
	if len(g.Networks) > 1 {
		p.add(path+".Networks", "only one network block is allowed per group (got %d)", len(g.Networks))
	}
	var ports []Port
	labels := map[string]bool{}
	for i, n := range g.Networks {
		npath := fmt.Sprintf("%s.Networks[%d]", path, i)
		if n == nil {
			continue
		}
		if n.Mode != "host" && n.Mode != "" {
			p.add(npath+".Mode", "network mode %q is not supported by this host (only \"host\")", n.Mode)
		}
		ports = append(ports, validatePorts(npath+".ReservedPorts", n.ReservedPorts, true, labels, p)...)
		ports = append(ports, validatePorts(npath+".DynamicPorts", n.DynamicPorts, false, labels, p)...)
	}
	return ports
}

func validatePorts(path string, ports []Port, static bool, labels map[string]bool, p *problems) []Port {
	var out []Port
	for i, port := range ports {
		ppath := fmt.Sprintf("%s[%d]", path, i)
		if port.Label == "" {
			p.add(ppath+".Label", "port label is missing")
		} else if labels[port.Label] {
			p.add(ppath+".Label", "port label %q is used twice", port.Label)
		}
		labels[port.Label] = true
		if static && (port.Value < 1 || port.Value > 65535) {
			p.add(ppath+".Value", "static port %d must be between 1 and 65535", port.Value)
		}
		if port.To < -1 || port.To > 65535 {
			p.add(ppath+".To", "port mapping %d must be between -1 and 65535", port.To)
		}
		if port.HostNetwork != "" && port.HostNetwork != "default" {
			p.add(ppath+".HostNetwork", "host network %q does not exist on this node (only \"default\")", port.HostNetwork)
		}
		if !static {
			port.Value = 0
		}
		out = append(out, port)
	}
	return out
}

func validateRestart(path string, r *RestartPolicy, p *problems) {
	if r == nil {
		return
	}
	if r.Mode != nil && *r.Mode != RestartModeFail && *r.Mode != RestartModeDelay {
		p.add(path+".Mode", "unsupported restart mode %q (want \"fail\" or \"delay\")", *r.Mode)
	}
	if r.Attempts != nil && *r.Attempts < 0 {
		p.add(path+".Attempts", "attempts %d must not be negative", *r.Attempts)
	}
	if r.Delay != nil && *r.Delay < 0 {
		p.add(path+".Delay", "delay %v must not be negative", *r.Delay)
	}
	if r.Interval != nil && r.Delay != nil && r.Attempts != nil && *r.Attempts > 0 &&
		r.Interval.Nanoseconds() < int64(*r.Attempts)*r.Delay.Nanoseconds() {
		p.add(path+".Interval", "Nomad can't restart %d times in an interval of %v with a delay of %v", *r.Attempts, *r.Interval, *r.Delay)
	}
}

// taskPorts are the ports of a task-level (deprecated) network block.
func (t *Task) taskPorts() []Port {
	if t.Resources == nil {
		return nil
	}
	var out []Port
	for _, n := range t.Resources.Networks {
		if n == nil {
			continue
		}
		out = append(out, n.ReservedPorts...)
		for _, d := range n.DynamicPorts {
			d.Value = 0
			out = append(out, d)
		}
	}
	return out
}

func (t *Task) validate(path string, ports []Port, opts ValidateOptions, p *problems, warnings *[]string) {
	switch {
	case t.Name == "":
		p.add(path+".Name", "missing task name")
	case t.Name == "alloc" || t.Name == "." || t.Name == ".." || strings.ContainsAny(t.Name, "/\x00"):
		p.add(path+".Name", "task name %q is not usable as a directory name", t.Name)
	}
	switch {
	case t.Driver == "":
		p.add(path+".Driver", "missing driver")
	case opts.Driver != "" && t.Driver != opts.Driver:
		p.add(path+".Driver", "driver %q is not available on this node (it runs only %q)", t.Driver, opts.Driver)
	}
	cfg := bytes.TrimSpace(t.Config)
	if len(cfg) > 0 && cfg[0] != '{' && string(cfg) != "null" {
		p.add(path+".Config", "config must be a JSON object")
	}
	if t.KillTimeout != nil && *t.KillTimeout < 0 {
		p.add(path+".KillTimeout", "kill timeout %v must not be negative", *t.KillTimeout)
	}
	if r := t.Resources; r != nil {
		if r.CPU != nil && *r.CPU < 1 {
			p.add(path+".Resources.CPU", "minimum CPU value is 1; got %d", *r.CPU)
		}
		if r.MemoryMB != nil && *r.MemoryMB < 10 {
			p.add(path+".Resources.MemoryMB", "minimum MemoryMB value is 10; got %d", *r.MemoryMB)
		}
		if r.MemoryMaxMB != nil && r.MemoryMB != nil && *r.MemoryMaxMB != 0 && *r.MemoryMaxMB < *r.MemoryMB {
			p.add(path+".Resources.MemoryMaxMB", "memory_max %d must not be below memory %d", *r.MemoryMaxMB, *r.MemoryMB)
		}
	}
	validateRestart(path+".RestartPolicy", t.RestartPolicy, p)
	for i, a := range t.Artifacts {
		apath := fmt.Sprintf("%s.Artifacts[%d]", path, i)
		if a == nil || a.GetterSource == nil || *a.GetterSource == "" {
			p.add(apath+".GetterSource", "artifact source is missing")
			continue
		}
		if a.RelativeDest != nil && escapesTaskDir(*a.RelativeDest) {
			p.add(apath+".RelativeDest", "destination %q escapes the task directory", *a.RelativeDest)
		}
		if a.GetterMode != nil && *a.GetterMode != "any" && *a.GetterMode != "file" && *a.GetterMode != "dir" {
			p.add(apath+".GetterMode", "mode %q must be any, file or dir", *a.GetterMode)
		}
	}
	validateActions(path, t.Actions, p)
	warnExtra(path, t.Extra, warnings)
	if opts.TaskConfig != nil && t.Driver == opts.Driver && t.Name != "" {
		if err := opts.TaskConfig(t, ports); err != nil {
			p.add(path+".Config", "%v", err)
		}
	}
}

// validateUpdate checks a group's canonicalized update block with Nomad's
// rules and messages (stagger, deprecated and unused by Nomad's
// scheduler, must still be positive).
func validateUpdate(path, jobType string, u *UpdateStrategy, p *problems) {
	if u == nil {
		return
	}
	if jobType != JobTypeService && jobType != JobTypeSystem {
		p.add(path, "Job type %q does not allow update block", jobType)
	}
	dur := func(d *time.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return *d
	}
	num := func(n *int) int {
		if n == nil {
			return 0
		}
		return *n
	}
	if hc := u.HealthCheck; hc != nil && *hc != "checks" && *hc != "task_states" && *hc != "manual" {
		p.add(path+".HealthCheck", "Invalid health check given: %q", *hc)
	}
	if num(u.MaxParallel) < 0 {
		p.add(path+".MaxParallel", "Max parallel can not be less than zero: %d < 0", num(u.MaxParallel))
	}
	if num(u.Canary) < 0 {
		p.add(path+".Canary", "Canary count can not be less than zero: %d < 0", num(u.Canary))
	}
	if num(u.Canary) == 0 && u.AutoPromote != nil && *u.AutoPromote {
		p.add(path+".AutoPromote", "Auto Promote requires a Canary count greater than zero")
	}
	minHealthy, healthy, progress := dur(u.MinHealthyTime), dur(u.HealthyDeadline), dur(u.ProgressDeadline)
	if minHealthy < 0 {
		p.add(path+".MinHealthyTime", "Minimum healthy time may not be less than zero: %v", minHealthy)
	}
	if healthy <= 0 {
		p.add(path+".HealthyDeadline", "Healthy deadline must be greater than zero: %v", healthy)
	}
	if progress < 0 {
		p.add(path+".ProgressDeadline", "Progress deadline must be zero or greater: %v", progress)
	}
	if minHealthy >= healthy {
		p.add(path+".MinHealthyTime", "Minimum healthy time must be less than healthy deadline: %v > %v", minHealthy, healthy)
	}
	if progress != 0 && healthy >= progress {
		p.add(path+".HealthyDeadline", "Healthy deadline must be less than progress deadline: %v > %v", healthy, progress)
	}
	if dur(u.Stagger) <= 0 {
		p.add(path+".Stagger", "Stagger must be greater than zero: %v", dur(u.Stagger))
	}
}

// validActionName is Nomad's rule for an action's name.
var validActionName = regexp.MustCompile(`^[^\x00\s]{1,128}$`)

// validateActions checks a task's actions as Nomad does (a command, a name
// without whitespace, each name once).
func validateActions(path string, actions []*Action, p *problems) {
	seen := map[string]bool{}
	for i, a := range actions {
		apath := fmt.Sprintf("%s.Actions[%d]", path, i)
		if a == nil {
			p.add(apath, "action is null")
			continue
		}
		if a.Command == "" {
			p.add(apath+".Command", "Action %s validation failed: command cannot be empty", a.Name)
		}
		if !validActionName.MatchString(a.Name) {
			p.add(apath+".Name", "Action %s validation failed: invalid name '%s'", a.Name, a.Name)
		}
		if seen[a.Name] {
			p.add(apath+".Name", "Action %s defined multiple times", a.Name)
		}
		seen[a.Name] = true
	}
}

// escapesTaskDir reports whether a relative destination leaves the task dir.
func escapesTaskDir(dest string) bool {
	if filepath.IsAbs(dest) {
		return true
	}
	clean := filepath.Clean(dest)
	return clean == ".." || strings.HasPrefix(clean, "../")
}
