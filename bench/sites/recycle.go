package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"nomad_iis/bench/benchkit"
	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// recyclePhase serves the static 1 KiB file, then the bench app, with wrk
// -c64 while the task's pools are recycled every second (SignalTask
// "RECYCLE", the plugin protocol's way); no request may fail. The task
// events confirm each recycle.
func recyclePhase(ctx context.Context, e *env, t *table) error {
	task, err := startStatic(ctx, e, "recycle")
	if err != nil {
		return err
	}
	err = recycleUnderLoad(ctx, e, t, task, task.URL+"1k.bin", "1 KiB")
	task.Remove(ctx)
	if err != nil {
		return err
	}
	app, _, err := startApp(ctx, e, "recycle-app")
	if err != nil {
		return err
	}
	defer app.Remove(ctx)
	return recycleUnderLoad(ctx, e, t, app, app.URL, "httpPlatform app")
}

// recycleUnderLoad runs wrk on url while recycling the task; three rows.
func recycleUnderLoad(ctx context.Context, e *env, t *table, task *benchkit.Task, url, what string) error {
	if _, err := benchkit.Wrk(url, 2, 64, time.Second); err != nil {
		return err
	}
	events := e.host.Driver().Events
	seen := len(events.Events())
	stop := recycleEvery(ctx, task.Runner, *recycleEach)
	r, err := benchkit.Wrk(url, 2, 64, *recycleFor)
	signalled, signalErr := stop()
	if err != nil {
		return err
	}
	if signalErr != nil {
		return fmt.Errorf("SignalTask RECYCLE: %w", signalErr)
	}
	// The last recycles' events may still be on their way.
	recycled := 0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		recycled = countRecycles(events.Events()[seen:], task.Runner.TaskID())
		if recycled >= signalled || time.Now().After(deadline) {
			break
		}
	}
	name := fmt.Sprintf("recycle every %v, %s, wrk -c64 %v", *recycleEach, what, *recycleFor)
	t.info(name+": req/s", fmt.Sprintf("%.0f", r.RPS), "")
	t.check(name+": recycles (events / signals)", fmt.Sprintf("%d / %d", recycled, signalled), "", "",
		"all", signalled > 0 && recycled >= signalled)
	t.check(name+": errors (non-2xx + socket)", fmt.Sprint(r.Errors), "", "", "0", r.Errors == 0)
	return nil
}

// recycleEvery sends SignalTask "RECYCLE" to the task every interval until
// the returned stop is called, each call in its own goroutine so that a
// slow recycle does not stretch the interval; stop waits for the calls and
// says how many were sent and the first error.
func recycleEvery(ctx context.Context, task *pluginhost.TaskRunner, interval time.Duration) func() (int, error) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int
	var firstErr error
	signal := func() {
		defer wg.Done()
		err := task.Signal(ctx, "RECYCLE")
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	ticking := make(chan struct{})
	go func() {
		defer close(ticking)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				wg.Add(1)
				sent++
				go signal()
			}
		}
	}()
	return func() (int, error) {
		close(done)
		<-ticking
		wg.Wait()
		return sent, firstErr
	}
}

// countRecycles counts the task's "... recycled" events.
func countRecycles(evs []*driverpb.DriverTaskEvent, taskID string) int {
	n := 0
	for _, ev := range evs {
		if ev.GetTaskId() == taskID && strings.Contains(ev.GetMessage(), "recycled") {
			n++
		}
	}
	return n
}
