package agent

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	hostagent "nomad_iis/host/agent"
)

// TestUnrecoverableStartErrorFailsTheTask: a config the plugin refuses at
// StartTask (a binding names a port label the group does not have) comes
// back with RecoverableError{recoverable: false}; like Nomad, the agent then
// fails the task at once instead of restarting it by its restart policy.
func TestUnrecoverableStartErrorFailsTheTask(t *testing.T) {
	a := startAgent(t, agentOptions{})
	job := sampleJob(t, "bad-label", 1)
	job.TaskGroups[0].Tasks[0].Config = json.RawMessage(
		`{"application": [{"path": "local"}], "binding": [{"type": "http", "port": "nolabel"}]}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.Jobs.Register(ctx, job, false, 0); err != nil {
		t.Fatalf("register: %v", err)
	}
	var state *hostagent.TaskState
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		code, body, _ := a.do("GET", "/v1/job/bad-label/allocations", nil)
		var stubs []*hostagent.AllocListStub
		if code == 200 {
			mustUnmarshal(t, body, &stubs)
		}
		if len(stubs) > 0 && stubs[0].TaskStates["app"] != nil && stubs[0].TaskStates["app"].State == "dead" {
			state = stubs[0].TaskStates["app"]
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if state == nil {
		t.Fatal("the task did not end")
	}
	if !state.Failed || state.Restarts != 0 {
		t.Errorf("task failed=%v after %d restarts, want failed without a restart", state.Failed, state.Restarts)
	}
	var driverFailure, notRestarting bool
	for _, ev := range state.Events {
		switch ev.Type {
		case hostagent.EventDriverFailure:
			driverFailure = strings.Contains(ev.DisplayMessage, "nolabel")
		case hostagent.EventNotRestarting:
			notRestarting = ev.DisplayMessage == "Error was unrecoverable"
		case hostagent.EventRestarting:
			t.Errorf("the task was restarted: %s", ev.DisplayMessage)
		}
	}
	if !driverFailure || !notRestarting {
		t.Errorf("events lack the driver failure naming the label (%v) or \"Error was unrecoverable\" (%v)",
			driverFailure, notRestarting)
	}
}
