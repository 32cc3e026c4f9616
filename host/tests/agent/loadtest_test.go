package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"nomad_iis/host/loadtest"
)

// TestShortLoadTest runs nomad-iis-loadtest for a few seconds against a
// job found through the Jobs API: every operation of the mix and the site
// traffic complete, with zero errors.
func TestShortLoadTest(t *testing.T) {
	a := startAgent(t, agentOptions{})
	a.register(sampleJob(t, "lt", 2))
	out, errOut, code := runBinary(t, binary(t, "NOMAD_IIS_LOADTEST_BIN"),
		[]string{"NOMAD_IIS_API_KEY=" + apiKey, "NOMAD_ADDR=", "NOMAD_IIS_MGMT_ADDR="}, 2*time.Minute,
		"-preset", "steady", "-address", a.Address, "-job", "lt", "-duration", "5s", "-clients", "4",
		"-app-clients", "2", "-json", "-")
	var rep loadtest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, not a JSON report: %v\n%s\n%s", code, err, out, errOut)
	}
	if code != 0 || !rep.Pass {
		t.Fatalf("exit %d, failures %v\n%s", code, rep.Failures, errOut)
	}
	if rep.Targets != 2 || len(rep.Plugin.Pids) != 1 || rep.Plugin.RSSMaxMB <= 0 {
		t.Errorf("report: %+v", rep)
	}
	for _, op := range []string{"status", "recycle", "upload", "download", "fsget", "app"} {
		o, ok := rep.Ops[op]
		if !ok || o.Requests == 0 || o.Errors != 0 || o.ExpectedErrors != 0 || o.P50Ms <= 0 || o.P99Ms < o.P50Ms {
			t.Errorf("%s: %+v", op, o)
		}
	}
	// The table form is what people read.
	out, _, code = runBinary(t, binary(t, "NOMAD_IIS_LOADTEST_BIN"), []string{"NOMAD_IIS_API_KEY=" + apiKey}, time.Minute,
		"-address", a.Address, "-job", "lt", "-duration", "1s", "-clients", "1", "-app-clients", "1", "-mix", "status=1")
	if code != 0 || !strings.Contains(out, "result: PASS") || !strings.Contains(out, "p99 ms") {
		t.Errorf("table run: %d\n%s", code, out)
	}
}
