package agent

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"nomad_iis/host/pluginhost"
)

// TestHostRestartRecoversAllocations stops the agent (leaving its tasks
// running, as a Nomad client does), starts it again on the same data dir
// and checks that the same allocations run on the same ports, recovered
// with RecoverTask, with the sites serving the whole time. Then the plugin
// is SIGKILLed: the agent re-dispenses it and recovers the tasks again.
func TestHostRestartRecoversAllocations(t *testing.T) {
	a := startAgent(t, agentOptions{keepTasks: true})
	a.register(sampleJob(t, "keep", 2))
	before := a.targets("keep")
	var urls []string
	for _, tg := range before {
		urls = append(urls, tg.PortURL(""))
	}
	p := startProber(urls)
	oldPlugin := a.pluginPid()

	if !a.signalStop(time.Minute) {
		t.Fatal("the agent did not stop on SIGTERM")
	}
	if pluginhost.PidAlive(oldPlugin) {
		t.Errorf("the plugin (pid %d) outlived the agent", oldPlugin)
	}
	time.Sleep(500 * time.Millisecond) // serving with no agent and no plugin
	for _, u := range urls {
		serves(t, u, marker, time.Second)
	}

	a.start(true) // this run stops its tasks on exit (test cleanup)
	after := a.targets("keep")
	if len(after) != len(before) {
		t.Fatalf("%d allocations after the restart, %d before", len(after), len(before))
	}
	for i := range before {
		if after[i].AllocID != before[i].AllocID || after[i].Ports[0].Value != before[i].Ports[0].Value {
			t.Errorf("allocation %s:%d became %s:%d", before[i].AllocID, before[i].Ports[0].Value,
				after[i].AllocID, after[i].Ports[0].Value)
		}
	}
	// The agent serves its API while it still recovers (slowly under ASan).
	recovered := func() int { return strings.Count(a.log.String(), "task recovered") }
	for deadline := time.Now().Add(30 * time.Second); recovered() < len(before) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if n := recovered(); n < len(before) {
		t.Errorf("the plugin logged %d task recoveries, want %d", n, len(before))
	}
	if strings.Contains(a.log.String(), "could not be recovered") {
		t.Error("a task was started again instead of recovered")
	}
	// The plugin knows the tasks again: its Management API serves them.
	for _, tg := range after {
		st, err := a.mgmt().Status(ctxT(t), tg.AllocID, tg.Task)
		if err != nil || st.AllocID != tg.AllocID {
			t.Errorf("status of %s after recovery: %v", tg.AllocID, err)
		}
	}

	// kill -9 of the plugin: the agent re-dispenses it and recovers.
	pid := a.pluginPid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		self, err := a.Jobs.Self(ctxT(t))
		if err == nil && self.Stats["plugin"]["pid"] != itoa(uint64(pid)) && self.Stats["plugin"]["healthy"] == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin was not re-dispensed: %v %v", self, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.mgmt().Ready(ctxT(t), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, tg := range after {
		if _, err := a.mgmt().Status(ctxT(t), tg.AllocID, tg.Task); err != nil {
			t.Errorf("status of %s after the plugin crash: %v", tg.AllocID, err)
		}
	}
	stubs, _, err := a.Jobs.Allocations(ctxT(t), "keep", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stubs {
		if s.ClientStatus != "running" || s.TaskStates["app"].Restarts != 0 {
			t.Errorf("allocation %s after the crash: %s, %d restarts", s.ID, s.ClientStatus, s.TaskStates["app"].Restarts)
		}
	}
	ok, errs := p.finish()
	if len(errs) > 0 || ok == 0 {
		t.Errorf("site requests during the restarts: %d ok, %d failed: %v", ok, len(errs), errs)
	}
	t.Logf("%d site requests, all served, across an agent restart and a plugin kill -9", ok)
}
