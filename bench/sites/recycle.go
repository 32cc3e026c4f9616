package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"nomad_iis/bench/benchkit"
	"nomad_iis/gen/driverpb"
)

// recyclePhase serves the static 1 KiB file with wrk -c64 while the task's
// pools are recycled every second (SignalTask "RECYCLE", the plugin
// protocol's way); no request may fail. The task events confirm each
// recycle.
func recyclePhase(ctx context.Context, e *env, t *table) error {
	task, err := startStatic(ctx, e, "recycle")
	if err != nil {
		return err
	}
	defer task.Remove(ctx)
	if _, err := benchkit.Wrk(task.URL+"1k.bin", 2, 64, time.Second); err != nil {
		return err
	}
	events := e.host.Driver().Events
	seen := len(events.Events())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var signalled int
	var signalErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(*recycleEach)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if err := task.Runner.Signal(ctx, "RECYCLE"); err != nil && signalErr == nil {
					signalErr = err
				}
				signalled++
			}
		}
	}()
	r, err := benchkit.Wrk(task.URL+"1k.bin", 2, 64, *recycleFor)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	if signalErr != nil {
		return fmt.Errorf("SignalTask RECYCLE: %w", signalErr)
	}
	time.Sleep(500 * time.Millisecond) // the last recycle's event
	recycled := countRecycles(events.Events()[seen:], task.Runner.TaskID())
	name := fmt.Sprintf("static 1 KiB, wrk -c64 for %v, recycled every %v", *recycleFor, *recycleEach)
	t.info(name+": req/s", fmt.Sprintf("%.0f", r.RPS), "")
	t.check(name+": recycles (task events / signals)", fmt.Sprintf("%d / %d", recycled, signalled), "", "",
		"all", signalled > 0 && recycled >= signalled)
	t.check(name+": errors (non-2xx + socket)", fmt.Sprint(r.Errors), "", "", "0", r.Errors == 0)
	return nil
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
