package agent

import (
	"context"
	"sync"
	"time"

	"nomad_iis/host/pluginhost"
)

// pluginMonitor plays the driver manager's part when the plugin dies on
// its own: it notices (the process is gone), re-dispenses the plugin
// (launch 3 with SetConfig) and recovers every running task with its
// in-memory handle. Each successful re-dispense starts a new epoch.
type pluginMonitor struct {
	a *Agent

	mu       sync.Mutex
	ep       int
	healthy  bool
	restarts int
	changed  chan struct{}

	stopCh chan struct{}
	done   chan struct{}
}

func newPluginMonitor(a *Agent) *pluginMonitor {
	return &pluginMonitor{a: a, changed: make(chan struct{}), stopCh: make(chan struct{}), done: make(chan struct{})}
}

func (m *pluginMonitor) start() {
	m.set(func() { m.healthy = true })
	go m.loop()
}

func (m *pluginMonitor) stop() {
	select {
	case <-m.stopCh:
		return
	default:
	}
	close(m.stopCh)
	select {
	case <-m.done:
	case <-time.After(time.Minute):
	}
}

func (m *pluginMonitor) set(fn func()) {
	m.mu.Lock()
	fn()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

func (m *pluginMonitor) snapshot() (int, bool, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ep, m.healthy, m.changed
}

// epoch is the number of re-dispenses so far.
func (m *pluginMonitor) epoch() int {
	ep, _, _ := m.snapshot()
	return ep
}

// Restarts is how often the plugin was re-dispensed after dying.
func (m *pluginMonitor) Restarts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.restarts
}

// waitHealthy returns once the plugin is up (or ctx ends).
func (m *pluginMonitor) waitHealthy(ctx context.Context) error {
	for {
		_, healthy, ch := m.snapshot()
		if healthy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// waitAfter waits until a re-dispense after epoch has finished, or at most
// max while the plugin still looks healthy (the failure was something
// else), or until ctx ends.
func (m *pluginMonitor) waitAfter(ctx context.Context, epoch int, max time.Duration) {
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	for {
		ep, healthy, ch := m.snapshot()
		if ep > epoch && healthy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-deadline.C:
			if healthy {
				return
			}
		}
	}
}

func (m *pluginMonitor) loop() {
	defer close(m.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.stopCh:
			return
		case <-tick.C:
		}
		drv := m.a.host.Driver()
		if drv == nil || (!drv.Exited() && pluginhost.PidAlive(drv.Pid())) {
			continue
		}
		m.a.log.Warn("plugin exited unexpectedly; re-dispensing it", "pid", drv.Pid())
		m.set(func() { m.healthy = false })
		if !m.redispense() {
			return
		}
	}
}

// redispense launches the plugin again (with backoff) and recovers the
// running tasks; false means the monitor was stopped meanwhile.
func (m *pluginMonitor) redispense() bool {
	backoff := 200 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := m.a.host.Crash(ctx)
		cancel()
		if err == nil {
			break
		}
		m.a.log.Error("re-dispensing the plugin failed", "error", err, "retry_in", backoff)
		select {
		case <-m.stopCh:
			return false
		case <-time.After(backoff):
		}
		if backoff < 10*time.Second {
			backoff *= 2
		}
	}
	start := time.Now()
	n, failed := m.recoverAll()
	m.a.log.Info("plugin re-dispensed; tasks recovered", "pid", m.a.host.Driver().Pid(), "tasks", n,
		"failed", failed, "elapsed", time.Since(start))
	if err := m.a.loadTaskSchema(context.Background()); err != nil {
		m.a.log.Warn("TaskConfigSchema after re-dispense", "error", err)
	}
	m.set(func() {
		m.ep++
		m.restarts++
		m.healthy = true
	})
	return true
}

// recoverAll calls RecoverTask for every live task, 32 at a time.
func (m *pluginMonitor) recoverAll() (int, int) {
	m.a.mu.Lock()
	var tasks []*taskRunner
	for _, r := range m.a.runners {
		tasks = append(tasks, r.taskRunners()...)
	}
	m.a.mu.Unlock()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n, failed := 0, 0
	for _, t := range tasks {
		wg.Add(1)
		sem <- struct{}{}
		go func(t *taskRunner) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := t.recoverAfterCrash(ctx)
			cancel()
			mu.Lock()
			n++
			if err != nil {
				failed++
				m.a.log.Warn("RecoverTask after re-dispense failed", "alloc", t.r.id, "task", t.name, "error", err)
			}
			mu.Unlock()
		}(t)
	}
	wg.Wait()
	return n, failed
}
