package agent

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// groupUpdate says whether allocations of a group must be replaced to go
// from one job version to another (Nomad's scheduler tasksUpdated): the
// reason, or "" when the change (if any) can be applied in place.
func groupUpdate(oldJob, newJob *Job, group string) string {
	a, b := groupOf(oldJob, group), groupOf(newJob, group)
	if a == nil || b == nil {
		return "task group added or removed"
	}
	if len(a.Tasks) != len(b.Tasks) {
		return "number of tasks"
	}
	if !jsonEqual(a.Networks, b.Networks) {
		return "network resources"
	}
	for _, k := range []string{"EphemeralDisk", "Volumes", "Consul"} {
		if !rawEqual(a.Extra[k], b.Extra[k]) {
			return "group " + k
		}
	}
	if renderTemplates(a.RestartPolicy) != renderTemplates(b.RestartPolicy) {
		return "group restart render_templates"
	}
	for _, at := range a.Tasks {
		bt := taskOf(b, at.Name)
		if bt == nil {
			return "task deleted: " + at.Name
		}
		if why := taskUpdate(oldJob, newJob, group, at, bt); why != "" {
			return why
		}
	}
	return ""
}

func taskUpdate(oldJob, newJob *Job, group string, at, bt *Task) string {
	switch {
	case at.Driver != bt.Driver:
		return "task driver"
	case at.User != bt.User:
		return "task user"
	case !rawEqual(at.Config, bt.Config):
		return "task config"
	case !reflect.DeepEqual(nonNil(at.Env), nonNil(bt.Env)):
		return "task env"
	case !jsonEqual(at.Artifacts, bt.Artifacts):
		return "task artifacts"
	case !reflect.DeepEqual(combinedMeta(oldJob, group, at), combinedMeta(newJob, group, bt)):
		return "task meta"
	case resourcesUpdated(at.Resources, bt.Resources):
		return "task resources"
	case logsDisabled(at.LogConfig) != logsDisabled(bt.LogConfig):
		return "task log disabled"
	case renderTemplates(at.RestartPolicy) != renderTemplates(bt.RestartPolicy):
		return "task restart render_templates"
	}
	for _, k := range []string{"Vault", "Templates", "VolumeMounts", "Secrets", "Consul", "Identity", "Identities",
		"Lifecycle", "CSIPluginConfig"} {
		if !rawEqual(at.Extra[k], bt.Extra[k]) {
			return "task " + k
		}
	}
	return ""
}

// combinedMeta is Nomad's Job.CombinedTaskMeta: job, then group, then task
// meta, the inner overriding the outer.
func combinedMeta(j *Job, group string, t *Task) map[string]string {
	out := map[string]string{}
	for k, v := range j.Meta {
		out[k] = v
	}
	if g := groupOf(j, group); g != nil {
		for k, v := range g.Meta {
			out[k] = v
		}
	}
	for k, v := range t.Meta {
		out[k] = v
	}
	return out
}

func resourcesUpdated(a, b *Resources) bool {
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return !intEq(a.CPU, b.CPU) || !intEq(a.Cores, b.Cores) || !intEq(a.MemoryMB, b.MemoryMB) ||
		!intEq(a.MemoryMaxMB, b.MemoryMaxMB) || !jsonEqual(a.Networks, b.Networks)
}

func intEq(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func logsDisabled(l *LogConfig) bool { return l != nil && l.Disabled != nil && *l.Disabled }

func renderTemplates(r *RestartPolicy) bool {
	return r != nil && r.RenderTemplates != nil && *r.RenderTemplates
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func taskOf(g *TaskGroup, name string) *Task {
	for _, t := range g.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// jsonEqual compares two values by their JSON form.
func jsonEqual(a, b interface{}) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// rawEqual compares two JSON documents by meaning (member order and
// spacing aside); absent, null and empty are equal.
func rawEqual(a, b json.RawMessage) bool {
	var x, y interface{}
	if len(bytes.TrimSpace(a)) > 0 {
		if err := json.Unmarshal(a, &x); err != nil {
			return false
		}
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &y); err != nil {
			return false
		}
	}
	return reflect.DeepEqual(emptyToNil(x), emptyToNil(y))
}

func emptyToNil(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		if len(t) == 0 {
			return nil
		}
	case []interface{}:
		if len(t) == 0 {
			return nil
		}
	}
	return v
}
