package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"nomad_iis/gen/driverpb"
)

// TestCountThreeDistinctPorts: a group with count 3 gives three running
// allocations on distinct ports, each serving the site, each with its own
// alloc dir and NOMAD_ALLOC_INDEX.
func TestCountThreeDistinctPorts(t *testing.T) {
	a := startAgent(t, agentOptions{})
	stubs := a.register(sampleJob(t, "farm", 3))
	if len(stubs) != 3 {
		t.Fatalf("%d allocations", len(stubs))
	}
	targets := a.targets("farm")
	if len(targets) != 3 {
		t.Fatalf("%d running targets", len(targets))
	}
	ports := map[int]bool{}
	names := map[string]bool{}
	for _, tg := range targets {
		if len(tg.Ports) != 1 {
			t.Fatalf("allocation %s ports %+v", tg.AllocID, tg.Ports)
		}
		p := tg.Ports[0]
		if ports[p.Value] {
			t.Errorf("port %d given twice", p.Value)
		}
		ports[p.Value] = true
		names[tg.Name] = true
		serves(t, tg.PortURL(""), marker, 10*time.Second)
		dir := filepath.Join(a.dir, "data", "alloc", tg.AllocID)
		for _, sub := range []string{"alloc/data", "alloc/logs", "alloc/tmp", "app/local", "app/secrets", "app/tmp", "app/private"} {
			if st, err := os.Stat(filepath.Join(dir, sub)); err != nil || !st.IsDir() {
				t.Errorf("alloc dir %s/%s: %v", tg.AllocID, sub, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "app", "local", "index.html")); err != nil {
			t.Errorf("artifact not in local/: %v", err)
		}
	}
	for i := 0; i < 3; i++ {
		if !names["farm.web["+string(rune('0'+i))+"]"] {
			t.Errorf("no allocation farm.web[%d] in %v", i, names)
		}
	}
	// The plugin got each allocation's own port and index through the
	// task config: its Management API reports three tasks of the job.
	list, err := a.mgmt().Allocs(ctxT(t), "farm", "", "app")
	if err != nil || len(list) != 3 {
		t.Errorf("Management API lists %d tasks of farm: %v", len(list), err)
	}
	// Each start carried its own NOMAD_* env (read from the handles the
	// agent persisted, as the plugin received them in TaskConfig).
	indexes := map[string]string{}
	for id, env := range persistedEnvs(t, a) {
		indexes[env["NOMAD_ALLOC_INDEX"]] = id
		if env["NOMAD_ALLOC_ID"] != id || env["NOMAD_TASK_NAME"] != "app" || env["NOMAD_JOB_ID"] != "farm" ||
			env["GREETING"] != "hello from nomad-iis-host" || env["NOMAD_PORT_httplabel"] == "" ||
			env["NOMAD_ALLOC_NAME"] != "farm.web["+env["NOMAD_ALLOC_INDEX"]+"]" {
			t.Errorf("env of %s: %v", id, env)
		}
	}
	if len(indexes) != 3 || indexes["0"] == "" || indexes["1"] == "" || indexes["2"] == "" {
		t.Errorf("NOMAD_ALLOC_INDEX values: %v", indexes)
	}
	s, err := a.Jobs.Summary(ctxT(t), "farm")
	if err != nil || s.Summary["web"].Running != 3 {
		t.Errorf("summary %+v: %v", s, err)
	}
	if !strings.Contains(a.log.String(), "task started") {
		t.Error("the agent log does not show the plugin's task starts")
	}
}

// persistedEnvs reads the task env of every started task from the
// agent's state file (the TaskConfig inside each persisted TaskHandle).
func persistedEnvs(t *testing.T, a *agentProc) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for id, h := range persistedHandles(t, a) {
		if h == nil {
			t.Errorf("no task handle persisted for %s", id)
			continue
		}
		out[id] = h.GetConfig().GetEnv()
	}
	return out
}

// persistedHandles reads the task "app"'s persisted TaskHandle of every
// allocation in the agent's state file (nil where there is none; none at
// all before the agent first wrote the file).
func persistedHandles(t *testing.T, a *agentProc) map[string]*driverpb.TaskHandle {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(a.dir, "data", "state.json"))
	if os.IsNotExist(err) {
		return map[string]*driverpb.TaskHandle{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Allocs []struct {
			Alloc struct{ ID string }
			Tasks map[string]struct{ Handle []byte }
		}
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	out := map[string]*driverpb.TaskHandle{}
	for _, r := range state.Allocs {
		h := &driverpb.TaskHandle{}
		if err := proto.Unmarshal(r.Tasks["app"].Handle, h); err != nil || h.GetConfig() == nil {
			out[r.Alloc.ID] = nil
			continue
		}
		out[r.Alloc.ID] = h
	}
	return out
}
