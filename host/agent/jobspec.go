package agent

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ParseJobHCL parses a job file in Nomad's HCL job syntax into the API's
// JSON form. It covers what this host runs: job, group (count, network
// with port blocks, restart, meta), task (driver, user, config, env, meta,
// resources, restart, kill_timeout, kill_signal, logs, artifact, leader,
// action).
// Other blocks are passed through under their HCL names, so registering
// the job reports them as ignored. HCL2 variables (var.x) are not
// supported; ${NOMAD_*}-style run-time interpolations are kept.
func ParseJobHCL(src []byte, filename string) (*Job, error) {
	tree, err := HCLToJSON(src, filename)
	if err != nil {
		return nil, err
	}
	jobs, _ := tree["job"].(map[string]interface{})
	if len(jobs) != 1 || len(tree) != 1 {
		return nil, fmt.Errorf("%s: want exactly one job block and nothing else", filename)
	}
	var id string
	var body map[string]interface{}
	for k, v := range jobs {
		id = k
		body, err = single(v, "job "+k)
		if err != nil {
			return nil, err
		}
	}
	api, err := convertJob(id, body)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(api)
	if err != nil {
		return nil, err
	}
	var job Job
	if err := json.Unmarshal(b, &job); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return &job, nil
}

// single returns the one block body of a labeled or unlabeled block list.
func single(v interface{}, what string) (map[string]interface{}, error) {
	switch t := v.(type) {
	case map[string]interface{}:
		return t, nil
	case []interface{}:
		if len(t) == 1 {
			if m, ok := t[0].(map[string]interface{}); ok {
				return m, nil
			}
		}
		return nil, fmt.Errorf("%s: expected one block, got %d", what, len(t))
	}
	return nil, fmt.Errorf("%s: expected a block", what)
}

// fieldRule renames one HCL key to its API name and may convert the value.
type fieldRule struct {
	name    string
	convert func(interface{}, string) (interface{}, error)
}

// fieldMap maps HCL keys to their rules.
type fieldMap map[string]fieldRule

func plain(name string) fieldRule { return fieldRule{name: name} }

func with(name string, f func(interface{}, string) (interface{}, error)) fieldRule {
	return fieldRule{name: name, convert: f}
}

// apply converts body by m; unknown keys are kept as they are.
func (m fieldMap) apply(body map[string]interface{}, path string) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := body[k]
		f, ok := m[k]
		if !ok {
			out[k] = v
			continue
		}
		if f.convert != nil {
			var err error
			if v, err = f.convert(v, path+"."+k); err != nil {
				return nil, err
			}
		}
		out[f.name] = v
	}
	return out, nil
}

func duration(v interface{}, path string) (interface{}, error) {
	switch t := v.(type) {
	case string:
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return int64(d), nil
	case int64, float64:
		return t, nil
	}
	return nil, fmt.Errorf("%s: expected a duration such as \"30s\"", path)
}

// blockMap turns `meta { k = "v" }` (an array with one object) into a map.
func blockMap(v interface{}, path string) (interface{}, error) {
	m, err := single(v, path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out, nil
}

func subBlock(m fieldMap) func(interface{}, string) (interface{}, error) {
	return func(v interface{}, path string) (interface{}, error) {
		b, err := single(v, path)
		if err != nil {
			return nil, err
		}
		return m.apply(b, path)
	}
}

var restartFields = fieldMap{
	"attempts":         plain("Attempts"),
	"interval":         with("Interval", duration),
	"delay":            with("Delay", duration),
	"mode":             plain("Mode"),
	"render_templates": plain("RenderTemplates"),
}

var logsFields = fieldMap{
	"max_files":     plain("MaxFiles"),
	"max_file_size": plain("MaxFileSizeMB"),
	"disabled":      plain("Disabled"),
}

var periodicFields = fieldMap{
	"cron":             plain("Spec"),
	"crons":            plain("Specs"),
	"enabled":          plain("Enabled"),
	"prohibit_overlap": plain("ProhibitOverlap"),
	"time_zone":        plain("TimeZone"),
	"spec_type":        plain("SpecType"),
}

var updateFields = fieldMap{
	"max_parallel":      plain("MaxParallel"),
	"health_check":      plain("HealthCheck"),
	"min_healthy_time":  with("MinHealthyTime", duration),
	"healthy_deadline":  with("HealthyDeadline", duration),
	"progress_deadline": with("ProgressDeadline", duration),
	"auto_revert":       plain("AutoRevert"),
	"auto_promote":      plain("AutoPromote"),
	"canary":            plain("Canary"),
	"stagger":           with("Stagger", duration),
}

var parameterizedFields = fieldMap{
	"payload":       plain("Payload"),
	"meta_required": plain("MetaRequired"),
	"meta_optional": plain("MetaOptional"),
}

func convertJob(id string, body map[string]interface{}) (map[string]interface{}, error) {
	groups, err := labeled(body["group"], "job "+id+".group", convertGroup)
	if err != nil {
		return nil, err
	}
	delete(body, "group")
	out, err := fieldMap{
		"region":        plain("Region"),
		"namespace":     plain("Namespace"),
		"name":          plain("Name"),
		"type":          plain("Type"),
		"priority":      plain("Priority"),
		"all_at_once":   plain("AllAtOnce"),
		"datacenters":   plain("Datacenters"),
		"node_pool":     plain("NodePool"),
		"meta":          with("Meta", blockMap),
		"periodic":      with("Periodic", subBlock(periodicFields)),
		"parameterized": with("ParameterizedJob", subBlock(parameterizedFields)),
		"update":        with("Update", subBlock(updateFields)),
	}.apply(body, "job "+id)
	if err != nil {
		return nil, err
	}
	out["ID"] = id
	if _, ok := out["Name"]; !ok {
		out["Name"] = id
	}
	out["TaskGroups"] = groups
	return out, nil
}

// labeled converts `group "a" {...} group "b" {...}` into a list.
func labeled(v interface{}, path string, conv func(string, map[string]interface{}, string) (map[string]interface{}, error)) ([]interface{}, error) {
	out := []interface{}{}
	if v == nil {
		return out, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: blocks need a label", path)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		list, _ := m[name].([]interface{})
		for _, item := range list {
			body, ok := item.(map[string]interface{})
			if !ok {
				return nil, fmt.Errorf("%s %q: expected a block", path, name)
			}
			c, err := conv(name, body, fmt.Sprintf("%s %q", path, name))
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func convertGroup(name string, body map[string]interface{}, path string) (map[string]interface{}, error) {
	tasks, err := labeled(body["task"], path+".task", convertTask)
	if err != nil {
		return nil, err
	}
	delete(body, "task")
	out, err := fieldMap{
		"count":          plain("Count"),
		"meta":           with("Meta", blockMap),
		"restart":        with("RestartPolicy", subBlock(restartFields)),
		"network":        with("Networks", convertNetworks),
		"shutdown_delay": with("ShutdownDelay", duration),
		"update":         with("Update", subBlock(updateFields)),
	}.apply(body, path)
	if err != nil {
		return nil, err
	}
	out["Name"] = name
	out["Tasks"] = tasks
	return out, nil
}

func convertNetworks(v interface{}, path string) (interface{}, error) {
	list, ok := v.([]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: expected network blocks", path)
	}
	out := []interface{}{}
	for _, item := range list {
		body, ok := item.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("%s: expected a block", path)
		}
		n := map[string]interface{}{"ReservedPorts": []interface{}{}, "DynamicPorts": []interface{}{}}
		for k, x := range body {
			switch k {
			case "mode":
				n["Mode"] = x
			case "hostname":
				n["Hostname"] = x
			case "mbits":
				n["MBits"] = x
			case "port", "reserved_ports":
				ports, ok := x.(map[string]interface{})
				if !ok {
					return nil, fmt.Errorf("%s.port: port blocks need a label", path)
				}
				for label, pv := range ports {
					pb, err := single(pv, fmt.Sprintf("%s.port %q", path, label))
					if err != nil {
						return nil, err
					}
					p := map[string]interface{}{"Label": label}
					for pk, px := range pb {
						switch pk {
						case "static":
							p["Value"] = px
						case "to":
							p["To"] = px
						case "host_network":
							p["HostNetwork"] = px
						case "ignore_collision":
							p["IgnoreCollision"] = px
						default:
							return nil, fmt.Errorf("%s.port %q: unknown attribute %q", path, label, pk)
						}
					}
					if _, static := p["Value"]; static || k == "reserved_ports" {
						n["ReservedPorts"] = append(n["ReservedPorts"].([]interface{}), p)
					} else {
						n["DynamicPorts"] = append(n["DynamicPorts"].([]interface{}), p)
					}
				}
			default:
				n[k] = x
			}
		}
		for _, k := range []string{"ReservedPorts", "DynamicPorts"} {
			if ports := n[k].([]interface{}); len(ports) == 0 {
				delete(n, k)
			} else {
				sortPorts(ports)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func sortPorts(ports []interface{}) {
	sort.Slice(ports, func(i, j int) bool {
		return ports[i].(map[string]interface{})["Label"].(string) < ports[j].(map[string]interface{})["Label"].(string)
	})
}

func convertTask(name string, body map[string]interface{}, path string) (map[string]interface{}, error) {
	actions, err := labeled(body["action"], path+".action", convertAction)
	if err != nil {
		return nil, err
	}
	delete(body, "action")
	out, err := fieldMap{
		"driver":           plain("Driver"),
		"user":             plain("User"),
		"config":           with("Config", taskConfigBlock),
		"env":              with("Env", blockMap),
		"meta":             with("Meta", blockMap),
		"resources":        with("Resources", convertResources),
		"restart":          with("RestartPolicy", subBlock(restartFields)),
		"kill_timeout":     with("KillTimeout", duration),
		"kill_signal":      plain("KillSignal"),
		"logs":             with("LogConfig", subBlock(logsFields)),
		"artifact":         with("Artifacts", convertArtifacts),
		"leader":           plain("Leader"),
		"shutdown_delay":   with("ShutdownDelay", duration),
		"dispatch_payload": with("DispatchPayload", subBlock(fieldMap{"file": plain("File")})),
	}.apply(body, path)
	if err != nil {
		return nil, err
	}
	out["Name"] = name
	if len(actions) > 0 {
		out["Actions"] = actions
	}
	return out, nil
}

func convertAction(name string, body map[string]interface{}, path string) (map[string]interface{}, error) {
	out, err := fieldMap{"command": plain("Command"), "args": plain("Args")}.apply(body, path)
	if err != nil {
		return nil, err
	}
	out["Name"] = name
	return out, nil
}

// taskConfigBlock keeps the config block as HCL-JSON (nested blocks as
// arrays of objects), which is what the plugin's schema is decoded from.
func taskConfigBlock(v interface{}, path string) (interface{}, error) {
	return single(v, path)
}

func convertResources(v interface{}, path string) (interface{}, error) {
	body, err := single(v, path)
	if err != nil {
		return nil, err
	}
	return fieldMap{
		"cpu":        plain("CPU"),
		"cores":      plain("Cores"),
		"memory":     plain("MemoryMB"),
		"memory_max": plain("MemoryMaxMB"),
		"disk":       plain("DiskMB"),
		"network":    with("Networks", convertNetworks),
	}.apply(body, path)
}

func convertArtifacts(v interface{}, path string) (interface{}, error) {
	list, ok := v.([]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: expected artifact blocks", path)
	}
	out := []interface{}{}
	for i, item := range list {
		body, ok := item.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("%s: expected a block", path)
		}
		a, err := fieldMap{
			"source":      plain("GetterSource"),
			"destination": plain("RelativeDest"),
			"mode":        plain("GetterMode"),
			"options":     with("GetterOptions", blockMap),
			"headers":     with("GetterHeaders", blockMap),
			"insecure":    plain("GetterInsecure"),
			"chown":       plain("Chown"),
		}.apply(body, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// IsHCLJobFile reports whether a job file should be parsed as HCL.
func IsHCLJobFile(name string, src []byte) bool {
	if strings.HasSuffix(name, ".json") {
		return false
	}
	if strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, ".nomad") {
		return true
	}
	trimmed := strings.TrimSpace(string(src))
	return !strings.HasPrefix(trimmed, "{")
}
