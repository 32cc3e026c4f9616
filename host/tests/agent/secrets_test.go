package agent

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAgentPassesTheKeyThroughItsEnvironment: the key set in the agent's
// environment (as for a Nomad agent) reaches the plugin, which answers with
// it; the agent's debug log shows neither the key nor the plugin's
// arguments, and neither command line holds the key.
func TestAgentPassesTheKeyThroughItsEnvironment(t *testing.T) {
	a := startAgent(t, agentOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.mgmt().Ready(ctx, 20*time.Second); err != nil {
		t.Fatalf("the Management API does not accept the key: %v", err)
	}
	if _, err := a.mgmt().Allocs(ctx, "", "", ""); err != nil {
		t.Fatalf("GET allocs with the key: %v", err)
	}
	log := a.log.String()
	if strings.Contains(log, apiKey) {
		t.Error("the agent's log shows the key")
	}
	if strings.Contains(log, fmt.Sprintf("--management-api-port=%d", a.mgmtPort)) {
		t.Error("the agent's log shows the plugin's arguments")
	}
	for _, pid := range []int{a.cmd.Process.Pid, a.pluginPid()} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), apiKey) {
			t.Errorf("/proc/%d/cmdline shows the key", pid)
		}
	}
}
