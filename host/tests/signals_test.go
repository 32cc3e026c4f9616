package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nomad_iis/gen/driverpb"
)

// Signals as nomad-iis has them, sent through SignalTask as Nomad sends them
// (`nomad alloc signal`, template change_mode = "signal").

const oneStaticPool = `{
  "application": [{"path": "local"}],
  "binding": [{"type": "http", "port": "httplabel"}]
}`

func newSignalSite(t *testing.T) *siteEnv {
	t.Helper()
	e := newSiteEnv(t, oneStaticPool)
	writeFile(t, filepath.Join(e.task.Dir().LocalDir, "index.html"), "signal-content")
	e.start(t)
	e.mustServe(t)
	return e
}

func (e *siteEnv) mustServe(t *testing.T) {
	t.Helper()
	if code, body, err := getEventually(e.url("/"), 10*time.Second); err != nil || code != 200 || !strings.Contains(body, "signal-content") {
		t.Fatalf("GET /: %d %q %v", code, body, err)
	}
}

func (e *siteEnv) signal(t *testing.T, sig string) {
	t.Helper()
	if err := e.task.Signal(ctxTimeout(t, 30*time.Second), sig); err != nil {
		t.Fatalf("SignalTask(%s): %v", sig, err)
	}
}

// defaultPool is the status JSON's applicationPool object (nomad-iis's doc).
func (e *siteEnv) defaultPool(t *testing.T) (string, bool) {
	t.Helper()
	var status struct {
		ApplicationPool *struct {
			Status                 string `json:"status"`
			IsWorkerProcessRunning bool   `json:"isWorkerProcessRunning"`
		} `json:"applicationPool"`
	}
	if err := json.Unmarshal(e.api(t, "GET", "/status"), &status); err != nil {
		t.Fatal(err)
	}
	if status.ApplicationPool == nil {
		t.Fatalf("the status JSON has no applicationPool")
	}
	return status.ApplicationPool.Status, status.ApplicationPool.IsWorkerProcessRunning
}

func TestSignalsStopStartAndRecycleThePools(t *testing.T) {
	e := newSignalSite(t)
	// The worker that served the first request shows up in the status soon after.
	st, running := e.defaultPool(t)
	for deadline := time.Now().Add(5 * time.Second); !running && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		st, running = e.defaultPool(t)
	}
	if st != "Started" || !running {
		t.Fatalf("applicationPool of a serving site: %s running=%v", st, running)
	}

	e.signal(t, "STOP")
	if code, _, err := get(e.url("/")); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("GET / after STOP: %d %v, want 503", code, err)
	}
	if st, running := e.defaultPool(t); st != "Stopped" || running {
		t.Fatalf("applicationPool after STOP: %s running=%v", st, running)
	}
	e.waitEvent(t, "Application pool default stopped (signal STOP)", 5*time.Second)

	e.signal(t, "start") // nomad-iis compares without case
	e.mustServe(t)
	e.waitEvent(t, "Application pool default started (signal START)", 5*time.Second)

	for _, sig := range []string{"RECYCLE", "SIGHUP"} {
		before := e.workers(t)
		e.signal(t, sig)
		e.waitEvent(t, "Application pool default recycled (signal "+sig+")", 5*time.Second)
		e.mustServe(t)
		if after := e.workers(t); after[0] == before[0] {
			t.Fatalf("worker pids before %v and after %v the %s recycle", before, after, sig)
		}
	}
}

// workers waits until the default pool reports the same workers twice,
// 300 ms apart, and returns their pids. An OnDemand pool answers its first
// request with the worker it woke; the plugin learns that worker's PID a
// moment later, and the front takes the files over right after
// (single_hop_static): its worker is then the pool's.
func (e *siteEnv) workers(t *testing.T) []int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		seen := e.pools(t)["default"].WorkerProcessIds
		time.Sleep(300 * time.Millisecond)
		pids := e.pools(t)["default"].WorkerProcessIds
		if len(pids) > 0 && fmt.Sprint(seen) == fmt.Sprint(pids) {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("the default pool reports no steady worker: %v", pids)
		}
	}
}

func TestUnknownSignalIsIgnoredWithAnEvent(t *testing.T) {
	e := newSignalSite(t)
	wait := parkWait(e.task)
	pids := e.workers(t)
	// template { change_mode = "signal" change_signal = "SIGUSR1" }: an error
	// here would make Nomad kill the task.
	e.signal(t, "SIGUSR1")
	ev := e.waitEvent(t, "Signal SIGUSR1 ignored", 5*time.Second)
	if ev.GetAnnotations()["signal"] != "SIGUSR1" {
		t.Errorf("event annotations %v lack signal=SIGUSR1", ev.GetAnnotations())
	}
	if resp, err, done := wait.result(time.Second); done {
		t.Fatalf("WaitTask returned after SIGUSR1: %v %v", resp, err)
	}
	insp, err := e.task.Inspect(ctxTimeout(t, 10*time.Second))
	if err != nil || insp.GetTask().GetState() != driverpb.TaskState_RUNNING {
		t.Fatalf("InspectTask after SIGUSR1: %v %v, want RUNNING", insp, err)
	}
	if after := e.pools(t)["default"].WorkerProcessIds; len(after) == 0 || after[0] != pids[0] {
		t.Fatalf("SIGUSR1 touched the workers: %v then %v", pids, after)
	}
	e.mustServe(t)
}

func TestSigintAndSigkillStopTheSite(t *testing.T) {
	for _, tc := range []struct {
		sig    string
		number int32
	}{{"SIGINT", 2}, {"SIGKILL", 9}} {
		t.Run(tc.sig, func(t *testing.T) {
			e := newSignalSite(t)
			wait := parkWait(e.task)
			e.signal(t, tc.sig)
			resp, err, done := wait.result(20 * time.Second)
			if !done || err != nil {
				t.Fatalf("WaitTask after %s: done=%v err=%v", tc.sig, done, err)
			}
			r := resp.GetResult()
			if r.GetExitCode() != 0 || r.GetSignal() != tc.number || resp.GetErr() != "" {
				t.Fatalf("WaitTask after %s: exit_code=%d signal=%d err=%q, want 0/%d/\"\"",
					tc.sig, r.GetExitCode(), r.GetSignal(), resp.GetErr(), tc.number)
			}
			if _, _, err := get(e.url("/")); err == nil {
				t.Fatalf("the site still answers after %s", tc.sig)
			}
			e.waitEvent(t, "Site stopped (signal "+tc.sig+")", 5*time.Second)
		})
	}
}
