package tests

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// staticMarker is the text testdata/static-app/index.html serves.
const staticMarker = "served-by-nomad-iis-static-sample"

// staticApp is one alloc with a free group port "httplabel" and one task
// running nomad-iis's static sample app from its local/ dir.
type staticApp struct {
	alloc *pluginhost.Alloc
	task  *pluginhost.TaskRunner
	url   string
}

func newStaticApp(t *testing.T, h *testHost, configFile string) *staticApp {
	t.Helper()
	port, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := h.NewAlloc(pluginhost.AllocOptions{
		JobID: "static-app",
		Ports: []pluginhost.Port{{Label: "httplabel", Value: port, HostIP: "127.0.0.1"}},
		Root:  filepath.Join(h.Dir, "allocs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alloc.Close)
	task, err := alloc.NewTask(pluginhost.TaskSpec{Name: "app", Config: readTestdata(t, "jobs", configFile)})
	if err != nil {
		t.Fatal(err)
	}
	if err := pluginhost.CopyDir(testdata("static-app"), task.Dir().LocalDir); err != nil {
		t.Fatal(err)
	}
	return &staticApp{alloc: alloc, task: task, url: fmt.Sprintf("http://127.0.0.1:%d/", port)}
}

// start starts the task (or skips the test while StartTask is
// unimplemented), checks the handle and registers a best-effort
// Stop+Destroy for the end of the test.
func (a *staticApp) start(t *testing.T) *driverpb.StartTaskResponse {
	t.Helper()
	resp := startTaskOrSkip(t, a.task)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.task.StopWith(ctx, 2*time.Second, "")
		_ = a.task.Destroy(ctx, true)
	})
	h := resp.GetHandle()
	if h.GetVersion() < 1 {
		t.Errorf("handle.version %d, want >= 1", h.GetVersion())
	}
	if h.GetState() != driverpb.TaskState_RUNNING {
		t.Errorf("handle.state %v, want RUNNING", h.GetState())
	}
	if h.GetConfig().GetId() != a.task.TaskID() {
		t.Errorf("handle.config.id %q, want the task id %q", h.GetConfig().GetId(), a.task.TaskID())
	}
	if len(h.GetDriverState()) == 0 {
		t.Errorf("handle.driver_state is empty; recovery needs it")
	}
	return resp
}

// mustServe waits until the app answers 200 with the sample page.
func (a *staticApp) mustServe(t *testing.T, timeout time.Duration) {
	t.Helper()
	code, body, err := getEventually(a.url, timeout)
	if err != nil {
		t.Fatalf("GET %s: %v", a.url, err)
	}
	if code != http.StatusOK || !strings.Contains(body, staticMarker) {
		t.Fatalf("GET %s: HTTP %d, body %.200q", a.url, code, body)
	}
}

// waitCall is a WaitTask call parked in the background, as the agent
// parks one right after StartTask.
type waitCall struct {
	done chan struct{}
	resp *driverpb.WaitTaskResponse
	err  error
}

func parkWait(task *pluginhost.TaskRunner) *waitCall {
	w := &waitCall{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.resp, w.err = task.Wait(context.Background())
	}()
	return w
}

// result waits for the call to return; ok is false on timeout.
func (w *waitCall) result(timeout time.Duration) (*driverpb.WaitTaskResponse, error, bool) {
	select {
	case <-w.done:
		return w.resp, w.err, true
	case <-time.After(timeout):
		return nil, nil, false
	}
}

// mustBlock fails if WaitTask returned while the task should be running.
func (w *waitCall) mustBlock(t *testing.T, d time.Duration) {
	t.Helper()
	if resp, err, done := w.result(d); done {
		t.Fatalf("WaitTask returned while the task runs: %v / %v", resp, err)
	}
}

// mustExitCleanly waits for the parked WaitTask to return exit code 0.
func (w *waitCall) mustExitCleanly(t *testing.T, timeout time.Duration) {
	t.Helper()
	resp, err, done := w.result(timeout)
	if !done {
		t.Fatalf("WaitTask did not return within %v of StopTask", timeout)
	}
	if err != nil {
		t.Fatalf("WaitTask: %v", err)
	}
	if r := resp.GetResult(); r.GetExitCode() != 0 || r.GetSignal() != 0 || resp.GetErr() != "" {
		t.Fatalf("WaitTask result exit_code=%d signal=%d err=%q, want a clean exit",
			r.GetExitCode(), r.GetSignal(), resp.GetErr())
	}
}

// mustBeRunning checks InspectTask the way the Go client decodes it.
func mustBeRunning(t *testing.T, task *pluginhost.TaskRunner) {
	t.Helper()
	resp, err := task.Inspect(context.Background())
	if err != nil {
		t.Fatalf("InspectTask: %v", err)
	}
	st := resp.GetTask()
	if st.GetState() != driverpb.TaskState_RUNNING {
		t.Fatalf("InspectTask state %v, want RUNNING", st.GetState())
	}
	if st.GetStartedAt() == nil || st.GetCompletedAt() == nil || st.GetResult() == nil {
		t.Fatalf("InspectTask must set started_at, completed_at and result (Go client dereferences them): %v", st)
	}
	if st.GetId() != task.TaskID() {
		t.Errorf("InspectTask id %q, want %q", st.GetId(), task.TaskID())
	}
}

// taskProcesses returns the live processes that belong to this test's
// tasks (found by the test's private dir in cmdline, env or cwd), once no
// new one has appeared for half a second: an OnDemand pool's front takes
// its files over with a new generation right after the first answer.
func taskProcesses(t *testing.T, h *testHost) []int {
	t.Helper()
	seen := map[int]bool{}
	var pids []int
	quiet := 0
	for deadline := time.Now().Add(15 * time.Second); quiet < 5 && time.Now().Before(deadline); {
		pids = pluginhost.ProcessesMentioning(h.Dir)
		quiet++
		for _, pid := range pids {
			if !seen[pid] {
				seen[pid] = true
				quiet = 0
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(pids) == 0 {
		t.Fatalf("no process mentions %s in its command line, environment or cwd; cannot follow the task's processes", h.Dir)
	}
	return pids
}

func TestStaticAppLifecycle(t *testing.T) {
	h := startHost(t, nil)
	app := newStaticApp(t, h, "static-app.json")
	app.start(t)
	w := parkWait(app.task)
	w.mustBlock(t, 300*time.Millisecond)

	app.mustServe(t, 10*time.Second)
	mustBeRunning(t, app.task)
	pids := taskProcesses(t, h)
	t.Logf("task processes: %v", pids)

	ctx := ctxTimeout(t, time.Minute)
	if err := app.task.Stop(ctx); err != nil {
		t.Fatalf("StopTask: %v", err)
	}
	w.mustExitCleanly(t, 10*time.Second)
	if left := pluginhost.WaitPidsGone(pids, 5*time.Second); len(left) > 0 {
		t.Fatalf("processes %v survived StopTask", left)
	}
	if left := pluginhost.ProcessesMentioning(h.Dir); len(left) > 0 {
		t.Fatalf("processes %v still belong to the task after StopTask", left)
	}
	logs := app.task.Logs()
	for _, fifo := range []*pluginhost.FifoReader{logs.Stdout, logs.Stderr} {
		switch {
		case !fifo.Opened():
			t.Errorf("the plugin never opened %s for the task's output", fifo.Path)
		case !fifo.WaitEOF(3 * time.Second):
			t.Errorf("a write end of %s is still open after the task exited (leaked fd in the plugin?)", fifo.Path)
		}
	}
	if _, _, err := get(app.url); err == nil {
		t.Errorf("%s still answers after StopTask", app.url)
	}

	resp, err := app.task.Inspect(ctx)
	if err != nil {
		t.Fatalf("InspectTask after exit: %v", err)
	}
	if resp.GetTask().GetState() != driverpb.TaskState_EXITED {
		t.Errorf("InspectTask after exit: state %v, want EXITED", resp.GetTask().GetState())
	}
	// Waiting again after the exit returns the same result at once.
	parkWait(app.task).mustExitCleanly(t, 2*time.Second)
	// StopTask on an exited task succeeds (the agent would retry otherwise).
	if err := app.task.Stop(ctx); err != nil {
		t.Errorf("StopTask on an exited task: %v", err)
	}
	if err := app.task.Destroy(ctx, true); err != nil {
		t.Fatalf("DestroyTask: %v", err)
	}
	if _, err := app.task.Inspect(ctx); status.Code(err) != codes.NotFound {
		t.Errorf("InspectTask after DestroyTask: %v, want NOT_FOUND", err)
	}
}

func TestStaticAppWithDeprecatedPoolSpelling(t *testing.T) {
	h := startHost(t, nil)
	app := newStaticApp(t, h, "static-app-deprecated.json")
	app.start(t)
	app.mustServe(t, 10*time.Second)
}

func TestStaticAppStatsSignalAndEvents(t *testing.T) {
	h := startHost(t, nil)
	app := newStaticApp(t, h, "static-app.json")
	app.start(t)
	app.mustServe(t, 10*time.Second)

	ctx := ctxTimeout(t, 30*time.Second)
	stream, err := app.task.Stats(ctx, time.Second)
	if err != nil {
		t.Fatalf("TaskStats: %v", err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("first TaskStats sample: %v", err)
	}
	s := first.GetStats()
	if s == nil || s.GetTimestamp() == nil || s.GetAggResourceUsage() == nil {
		t.Fatalf("TaskStats sample lacks stats, timestamp or agg_resource_usage (the agent dereferences them): %v", first)
	}
	for pid, u := range s.GetResourceUsageByPid() {
		if u == nil {
			t.Errorf("resource_usage_by_pid[%s] is null", pid)
		}
	}
	mem := s.GetAggResourceUsage().GetMemory()
	for _, f := range mem.GetMeasuredFields() {
		if f == driverpb.MemoryUsage_RSS && mem.GetRss() == 0 {
			t.Errorf("RSS is listed as measured but is 0 for a running site")
		}
	}

	// SIGHUP (template change_mode = "signal", `nomad alloc signal`)
	// recycles the pools; recycling overlaps by default, so the site keeps
	// answering throughout.
	probe := startProber(app.url, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	if err := app.task.Signal(ctx, "SIGHUP"); err != nil {
		t.Errorf("SignalTask(SIGHUP): %v", err)
	}
	time.Sleep(time.Second)
	ok, fail, errs := probe.finish()
	if fail > 0 || ok == 0 {
		t.Errorf("across a SIGHUP recycle: %d ok, %d failed %v", ok, fail, errs)
	}
	app.mustServe(t, 5*time.Second)

	// Events, if any, must be routable: alloc id and task name set.
	for _, ev := range h.Driver().Events.Events() {
		if ev.GetAllocId() == "" || ev.GetTaskName() == "" {
			t.Errorf("task event without alloc_id/task_name is dropped by the agent: %v", ev)
		}
	}
}
