package tests

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"nomad_iis/host/pluginhost"
)

// recoveryMode is one way the plugin goes away while a task runs.
type recoveryMode struct {
	name string
	// outage makes the plugin go away and brings it back as the agent would.
	outage func(ctx context.Context, h *testHost) error
	// fromStateDB: the agent recovers from its persisted handle (no
	// msgpack_driver_config), not from memory.
	fromStateDB bool
	// samePid: the recovered instance is the same process.
	samePid bool
}

var recoveryModes = []recoveryMode{
	{
		name: "restart",
		outage: func(ctx context.Context, h *testHost) error {
			k, err := h.Restart(ctx)
			if err == nil && !k.Graceful {
				h.t.Errorf("plugin needed SIGKILL on agent shutdown (%v)", k.Elapsed)
			}
			if k.Hung {
				h.t.Errorf("the plugin's stdout/stderr pipes stayed open after it exited: a task process inherited them")
			}
			return err
		},
		fromStateDB: true,
	},
	{
		name:   "crash",
		outage: func(ctx context.Context, h *testHost) error { return h.Crash(ctx) },
	},
	{
		name:        "reattach",
		outage:      func(ctx context.Context, h *testHost) error { return h.Reattach(ctx) },
		fromStateDB: true,
		samePid:     true,
	},
}

func TestRecoverTask(t *testing.T) {
	for _, mode := range recoveryModes {
		mode := mode
		t.Run(mode.name, func(t *testing.T) { testRecovery(t, mode) })
	}
}

// testRecovery starts the static app, makes the plugin go away, brings it
// back, recovers the task and shows the site never stopped answering.
func testRecovery(t *testing.T, mode recoveryMode) {
	h := startHost(t, nil)
	app := newStaticApp(t, h, "static-app.json")
	app.start(t)
	app.mustServe(t, 10*time.Second)
	pids := taskProcesses(t, h)
	parked := parkWait(app.task)
	parked.mustBlock(t, 300*time.Millisecond)

	oldPid := h.Driver().Pid()
	probe := startProber(app.url, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)

	ctx := ctxTimeout(t, 2*time.Minute)
	if err := mode.outage(ctx, h); err != nil {
		probe.finish()
		t.Fatalf("%s: %v", mode.name, err)
	}
	h.track()
	newPid := h.Driver().Pid()
	if mode.samePid && newPid != oldPid {
		t.Errorf("reattached to pid %d, want the surviving %d", newPid, oldPid)
	}
	if !mode.samePid && newPid == oldPid {
		t.Errorf("plugin pid %d did not change", newPid)
	}

	// The WaitTask parked before the outage ends with a transport error,
	// never with an exit result.
	resp, err, done := parked.result(5 * time.Second)
	switch {
	case !done:
		t.Errorf("WaitTask parked on the old connection did not end")
	case err == nil:
		t.Errorf("WaitTask returned an exit result %v across the outage; the agent would mark the task dead", resp)
	case status.Code(err) != codes.Unavailable && status.Code(err) != codes.Canceled:
		t.Errorf("WaitTask ended with %v, want UNAVAILABLE or CANCELED (plugin gone)", err)
	}

	for i := 1; i <= 2; i++ {
		if err := app.task.Recover(ctx, mode.fromStateDB); err != nil {
			probe.finish()
			t.Fatalf("RecoverTask (call %d): %v", i, err)
		}
	}
	mustBeRunning(t, app.task)
	ok, fail, errs := probe.finish()
	t.Logf("probe across %s: %d ok, %d failed %v", mode.name, ok, fail, errs)
	if fail > 0 {
		t.Errorf("%d requests failed across the %s: %v", fail, mode.name, errs)
	}
	if ok == 0 {
		t.Errorf("no request succeeded across the %s", mode.name)
	}
	app.mustServe(t, 2*time.Second)

	// The recovered task can be waited on and stopped like a fresh one.
	again := parkWait(app.task)
	again.mustBlock(t, 300*time.Millisecond)
	if err := app.task.Stop(ctx); err != nil {
		t.Fatalf("StopTask after recovery: %v", err)
	}
	again.mustExitCleanly(t, 10*time.Second)
	if left := pluginhost.WaitPidsGone(pids, 5*time.Second); len(left) > 0 {
		t.Fatalf("processes %v survived StopTask after recovery", left)
	}
	if err := app.task.Destroy(ctx, true); err != nil {
		t.Fatalf("DestroyTask: %v", err)
	}
}

func TestRecoverTaskFailsForAGoneTask(t *testing.T) {
	h := startHost(t, nil)
	app := newStaticApp(t, h, "static-app.json")
	app.start(t)
	app.mustServe(t, 10*time.Second)
	pids := taskProcesses(t, h)
	ctx := ctxTimeout(t, 2*time.Minute)

	// Agent restart while the task's processes die behind everyone's back.
	if _, err := h.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	h.track()
	if left := pluginhost.KillPids(pids); len(left) > 0 {
		t.Fatalf("could not kill %v", left)
	}
	if err := app.task.Recover(ctx, true); err == nil {
		t.Fatal("RecoverTask succeeded for a task whose processes are gone")
	}
	// The agent then destroys it (force) and would start it anew.
	_ = app.task.Destroy(ctx, true)
}
