package benchkit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"nomad_iis/host/pluginhost"
)

// StartToFirstOK calls StartTask and polls path on the site until it
// answers 200; it returns the time from the call to that answer.
func (t *Task) StartToFirstOK(ctx context.Context, path string) (time.Duration, error) {
	t0 := time.Now()
	if _, err := t.Runner.Start(ctx); err != nil {
		return 0, fmt.Errorf("StartTask: %w", err)
	}
	if err := FirstOK(t.URL+path, 10*time.Second); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// TimedStop calls StopTask (5 s timeout, default signal) and returns how
// long it took.
func (t *Task) TimedStop(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	if err := t.Runner.StopWith(ctx, 5*time.Second, ""); err != nil {
		return 0, fmt.Errorf("StopTask: %w", err)
	}
	return time.Since(t0), nil
}

// StartStopOnce makes a fresh task (job `job`), times StartTask to the first
// 200 of `path` and then StopTask, and removes the task.
func StartStopOnce(ctx context.Context, h *pluginhost.Host, dir, job string, config []byte,
	files, path string) (start, stop time.Duration, err error) {
	task, err := NewTask(h, dir, job, config, files)
	if err != nil {
		return 0, 0, err
	}
	defer task.Remove(ctx)
	if start, err = task.StartToFirstOK(ctx, path); err != nil {
		return 0, 0, err
	}
	if stop, err = task.TimedStop(ctx); err != nil {
		return 0, 0, err
	}
	return start, stop, nil
}

// StartMany starts n tasks (jobs jobPrefix-0, -1, ...) with StartNewTask,
// parallel at a time. The tasks started are returned (nil where a start
// failed) for the caller to remove; the error is the first one.
func StartMany(ctx context.Context, h *pluginhost.Host, dir, jobPrefix string, n, parallel int,
	config []byte, files string) ([]*Task, error) {
	tasks := make([]*Task, n)
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range tasks {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			task, err := StartNewTask(ctx, h, dir, fmt.Sprintf("%s-%d", jobPrefix, i), config, files)
			tasks[i] = task
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	return tasks, firstErr
}

// RemoveAll stops and destroys the tasks (nil entries are skipped),
// parallel at a time.
func RemoveAll(ctx context.Context, tasks []*Task, parallel int) {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, t := range tasks {
		if t == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(t *Task) {
			defer wg.Done()
			defer func() { <-sem }()
			t.Remove(ctx)
		}(t)
	}
	wg.Wait()
}
