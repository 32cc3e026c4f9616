package pluginhost

import (
	"os"
	"strconv"
	"strings"
)

// hostEnvDenylist is the agent's default env.denylist: host variables never
// passed to tasks.
var hostEnvDenylist = map[string]bool{
	"CONSUL_TOKEN":                   true,
	"CONSUL_HTTP_TOKEN":              true,
	"VAULT_TOKEN":                    true,
	"NOMAD_LICENSE":                  true,
	"AWS_ACCESS_KEY_ID":              true,
	"AWS_SECRET_ACCESS_KEY":          true,
	"AWS_SESSION_TOKEN":              true,
	"GOOGLE_APPLICATION_CREDENTIALS": true,
}

// BuildTaskEnv builds the task environment the way Nomad's taskenv does
// for a driver without filesystem isolation: the host environment (minus
// the denylist, unless spec.NoHostEnv), overridden by the NOMAD_* variables
// (directories as host paths, resources, ids, names, group ports), then by
// the job's env block.
func BuildTaskEnv(alloc AllocOptions, dir AllocDir, spec TaskSpec) map[string]string {
	env := map[string]string{}
	if !spec.NoHostEnv {
		for _, kv := range os.Environ() {
			k, v, ok := strings.Cut(kv, "=")
			if ok && !hostEnvDenylist[k] {
				env[k] = v
			}
		}
	}
	td := dir.TaskDir(spec.Name)
	set := func(k, v string) {
		if v != "" {
			env[k] = v
		}
	}
	set("NOMAD_ALLOC_DIR", dir.SharedDir())
	set("NOMAD_TASK_DIR", td.LocalDir)
	set("NOMAD_SECRETS_DIR", td.SecretsDir)
	set("NOMAD_MEMORY_LIMIT", strconv.FormatInt(spec.memoryMB(), 10))
	if spec.MemoryMaxMB > spec.memoryMB() {
		set("NOMAD_MEMORY_MAX_LIMIT", strconv.FormatInt(spec.MemoryMaxMB, 10))
	}
	set("NOMAD_CPU_LIMIT", strconv.FormatInt(spec.cpuShares(), 10))
	set("NOMAD_ALLOC_ID", alloc.ID)
	if len(alloc.ID) >= 8 {
		set("NOMAD_SHORT_ALLOC_ID", alloc.ID[:8])
	}
	set("NOMAD_ALLOC_NAME", alloc.JobID+"."+alloc.Group+"["+strconv.Itoa(alloc.Index)+"]")
	set("NOMAD_ALLOC_INDEX", strconv.Itoa(alloc.Index))
	set("NOMAD_TASK_NAME", spec.Name)
	set("NOMAD_GROUP_NAME", alloc.Group)
	set("NOMAD_JOB_ID", alloc.JobID)
	set("NOMAD_JOB_NAME", alloc.JobName)
	set("NOMAD_NAMESPACE", alloc.Namespace)
	set("NOMAD_REGION", alloc.Region)
	set("NOMAD_DC", alloc.Datacenter)
	for k, v := range PortEnv(alloc.Ports) {
		env[k] = v
	}
	for k, v := range MetaEnv(spec.Meta) {
		env[k] = v
	}
	for k, v := range spec.Env {
		env[k] = v
	}
	return env
}

// PortEnv returns the variables Nomad sets for group ports in host mode,
// including its label cleaning (only for some prefixes).
func PortEnv(ports []Port) map[string]string {
	env := map[string]string{}
	for _, p := range ports {
		taskPort := strconv.Itoa(p.taskPort())
		put := func(prefix, value string) { env[cleanPortKey(prefix+p.Label)] = value }
		put("NOMAD_PORT_", taskPort)
		put("NOMAD_ALLOC_PORT_", taskPort)
		put("NOMAD_HOST_PORT_", strconv.Itoa(p.Value))
		put("NOMAD_IP_", p.HostIP)
		put("NOMAD_HOST_IP_", p.HostIP)
		put("NOMAD_ADDR_", p.Addr())
		put("NOMAD_HOST_ADDR_", p.Addr())
	}
	return env
}

// MetaEnv returns NOMAD_META_<key> for each meta entry, as Nomad sets it:
// once with the key as written and once upper-cased, both cleaned.
func MetaEnv(meta map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range meta {
		env[cleanPortKey("NOMAD_META_"+k)] = v
		env[cleanPortKey("NOMAD_META_"+strings.ToUpper(k))] = v
	}
	return env
}

// cleanPortKey replaces characters outside [A-Za-z0-9_.] with "_", but only
// for the key prefixes Nomad cleans (helper.CleanEnvVar in taskenv).
func cleanPortKey(key string) string {
	for _, prefix := range []string{"NOMAD_ADDR_", "NOMAD_IP_", "NOMAD_PORT_", "NOMAD_HOST_PORT_", "NOMAD_META_"} {
		if strings.HasPrefix(key, prefix) {
			return strings.Map(func(r rune) rune {
				switch {
				case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.':
					return r
				}
				return '_'
			}, key)
		}
	}
	return key
}
