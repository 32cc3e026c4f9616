package agent

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"nomad_iis/host/pluginhost"
)

// runMode says how a runner begins.
type runMode int

const (
	// runFresh is a new allocation.
	runFresh runMode = iota
	// runRestore is an allocation of the previous agent run.
	runRestore
)

// allocRunner runs one allocation's tasks through the plugin.
type allocRunner struct {
	a      *Agent
	id     string
	rec    *allocRecord
	job    *Job
	group  *TaskGroup
	palloc *pluginhost.Alloc

	mu    sync.Mutex
	tasks []*taskRunner

	killOnce   sync.Once
	killCh     chan struct{}
	killMu     sync.Mutex
	killReason string
	hostExit   bool

	done chan struct{}
}

func newAllocRunner(a *Agent, rec *allocRecord) *allocRunner {
	r := &allocRunner{a: a, id: rec.Alloc.ID, rec: rec, job: rec.Alloc.Job,
		group: groupOf(rec.Alloc.Job, rec.Alloc.TaskGroup), killCh: make(chan struct{}), done: make(chan struct{})}
	if rec.Alloc.DesiredStatus != AllocDesiredRun {
		r.kill(rec.Alloc.DesiredDescription, false)
	}
	return r
}

// kill stops every task of the allocation (once). hostExit marks tasks as
// stopped by the host's own exit, so its next start starts them again.
func (r *allocRunner) kill(reason string, hostExit bool) {
	r.killOnce.Do(func() {
		r.killMu.Lock()
		r.killReason, r.hostExit = reason, hostExit
		r.killMu.Unlock()
		close(r.killCh)
	})
}

func (r *allocRunner) killInfo() (string, bool) {
	r.killMu.Lock()
	defer r.killMu.Unlock()
	return r.killReason, r.hostExit
}

func (r *allocRunner) killed() bool {
	select {
	case <-r.killCh:
		return true
	default:
		return false
	}
}

// wait blocks until the runner has finished.
func (r *allocRunner) wait() { <-r.done }

func (r *allocRunner) run(mode runMode) {
	defer close(r.done)
	defer r.a.removeRunner(r.id)
	if err := r.setup(); err != nil {
		r.a.log.Error("allocation setup failed", "alloc", r.id, "error", err)
		r.failSetup(err)
		r.finish()
		return
	}
	var wg sync.WaitGroup
	for _, t := range r.taskRunners() {
		wg.Add(1)
		go func(t *taskRunner) {
			defer wg.Done()
			t.run(r.taskMode(t, mode))
		}(t)
	}
	wg.Wait()
	r.palloc.Close()
	if r.a.ctx.Err() != nil {
		return // the agent exits and leaves the tasks running
	}
	r.finish()
}

// setup builds the alloc dir and the task runners.
func (r *allocRunner) setup() error {
	if r.group == nil {
		return fmt.Errorf("group %q is not in job version %d", r.rec.Alloc.TaskGroup, r.job.Version)
	}
	al := r.rec.Alloc
	var ports []pluginhost.Port
	if al.AllocatedResources != nil {
		for _, p := range al.AllocatedResources.Shared.Ports {
			ports = append(ports, pluginhost.Port{Label: p.Label, Value: p.Value, To: p.To, HostIP: p.HostIP})
		}
	}
	cfg := r.a.cfg
	palloc, err := r.a.host.NewAlloc(pluginhost.AllocOptions{
		ID: al.ID, JobID: al.JobID, JobName: r.job.Name, Group: al.TaskGroup, Namespace: al.Namespace,
		Region: r.job.Region, Datacenter: cfg.Datacenter, NodeName: cfg.Name, NodeID: r.a.nodeID,
		Ports: ports, Root: r.a.allocRoot, Index: r.rec.GroupIndex,
	})
	if err != nil {
		return err
	}
	r.palloc = palloc
	maxKill := cfg.maxKillTimeout()
	for _, t := range r.group.Tasks {
		kill := *t.KillTimeout
		if kill > maxKill {
			kill = maxKill
		}
		spec := pluginhost.TaskSpec{
			Name: t.Name, Config: configOrEmpty(t.Config), Env: t.Env, User: t.User,
			CPUShares: int64(*t.Resources.CPU), MemoryMB: int64(*t.Resources.MemoryMB),
			KillTimeout: kill, KillSignal: t.KillSignal, Meta: mergeMeta(r.job.Meta, r.group.Meta, t.Meta),
		}
		if t.Resources.MemoryMaxMB != nil {
			spec.MemoryMaxMB = int64(*t.Resources.MemoryMaxMB)
		}
		ptr, err := palloc.NewTask(spec)
		if err != nil {
			palloc.Close()
			return err
		}
		r.mu.Lock()
		r.tasks = append(r.tasks, newTaskRunner(r, t, ptr))
		r.mu.Unlock()
	}
	return nil
}

// taskRunners returns the allocation's task runners.
func (r *allocRunner) taskRunners() []*taskRunner {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*taskRunner(nil), r.tasks...)
}

func mergeMeta(levels ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range levels {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// taskMode picks where a task starts from its record.
func (r *allocRunner) taskMode(t *taskRunner, mode runMode) taskStart {
	if mode == runFresh {
		return startFresh
	}
	ts := r.rec.Alloc.TaskStates[t.name]
	tr := r.rec.Tasks[t.name]
	switch {
	case tr != nil && tr.StoppedByHost && r.rec.Alloc.DesiredStatus == AllocDesiredRun:
		return startAgain
	case ts != nil && ts.State == TaskStateDead:
		return startNone
	case tr != nil && len(tr.Handle) > 0:
		return startRecover
	}
	return startAgain
}

// failSetup marks every task dead and failed.
func (r *allocRunner) failSetup(err error) {
	if r.group == nil {
		_, _ = r.a.store.UpdateAlloc(r.id, func(rec *allocRecord) bool {
			rec.Alloc.ClientStatus, rec.Alloc.ClientDescription = AllocClientFailed, err.Error()
			return true
		})
		return
	}
	for _, t := range r.group.Tasks {
		name := t.Name
		r.update(name, func(ts *TaskState, tr *taskRecord) {
			ts.State, ts.Failed, ts.FinishedAt = TaskStateDead, true, time.Now().UTC()
			appendEvent(ts, &TaskEvent{Type: EventSetupFailure, SetupError: err.Error(), FailsTask: true,
				DisplayMessage: "failed to set up the allocation: " + err.Error()})
		})
	}
}

// update changes a task's state and record and refreshes the allocation's
// client status.
func (r *allocRunner) update(name string, fn func(ts *TaskState, tr *taskRecord)) {
	_, _ = r.a.store.UpdateAlloc(r.id, func(rec *allocRecord) bool {
		al := rec.Alloc
		if name != "" {
			ts := al.TaskStates[name]
			if ts == nil {
				ts = &TaskState{State: TaskStatePending}
				al.TaskStates[name] = ts
			}
			tr := rec.Tasks[name]
			if tr == nil {
				tr = &taskRecord{}
				rec.Tasks[name] = tr
			}
			fn(ts, tr)
		}
		al.ClientStatus, al.ClientDescription = clientStatus(al.TaskStates)
		return true
	})
}

// clientStatus is Nomad's alloc client status from its task states.
func clientStatus(states map[string]*TaskState) (string, string) {
	var pending, running, dead, failed bool
	for _, ts := range states {
		switch ts.State {
		case TaskStatePending:
			pending = true
		case TaskStateRunning:
			running = true
		case TaskStateDead:
			if ts.Failed {
				failed = true
			} else {
				dead = true
			}
		}
	}
	switch {
	case failed:
		return AllocClientFailed, "Failed tasks"
	case pending:
		return AllocClientPending, "No tasks have started"
	case running:
		return AllocClientRunning, "Tasks are running"
	case dead:
		return AllocClientComplete, "All tasks have completed"
	}
	return AllocClientPending, "No tasks have started"
}

// appendEvent adds an event, keeping the newest maxTaskEvents.
func appendEvent(ts *TaskState, ev *TaskEvent) {
	if ev.Time == 0 {
		ev.Time = time.Now().UnixNano()
	}
	ts.Events = append(ts.Events, ev)
	if n := len(ts.Events); n > maxTaskEvents {
		ts.Events = append([]*TaskEvent(nil), ts.Events[n-maxTaskEvents:]...)
	}
}

// onTaskDead reacts to a task that ended for good: a failed task or a
// dead leader stops its siblings.
func (r *allocRunner) onTaskDead(t *taskRunner, failed bool) {
	if failed {
		r.kill("Sibling task failed", false)
	} else if t.task.Leader {
		r.kill("Leader task dead", false)
	}
}

// finish runs once every task is dead: the scheduler may now reuse the
// ports, and allocations nobody needs any more are collected.
func (r *allocRunner) finish() {
	r.a.sched.allocTerminal()
	r.a.gcAllocs(JobKey{r.rec.Alloc.Namespace, r.rec.Alloc.JobID})
}

// maxTerminalAllocs is how many finished allocations of a live job are
// kept for inspection.
const maxTerminalAllocs = 20

// gcAllocs removes the finished allocations of a job that is gone (and
// their directories), and all but the newest maxTerminalAllocs finished
// allocations of a live job.
func (a *Agent) gcAllocs(key JobKey) {
	job, _ := a.store.Job(key)
	var terminal []*allocRecord
	for _, rec := range a.store.AllocRecords() {
		al := rec.Alloc
		if al.JobID != key.ID || al.Namespace != key.Namespace || !allocClientTerminal(al) || a.runner(al.ID) != nil {
			continue
		}
		stoppedByHost := false
		for _, t := range rec.Tasks {
			stoppedByHost = stoppedByHost || t.StoppedByHost
		}
		if stoppedByHost && al.DesiredStatus == AllocDesiredRun {
			continue
		}
		terminal = append(terminal, rec)
	}
	sort.Slice(terminal, func(i, j int) bool { return terminal[i].Alloc.ModifyIndex > terminal[j].Alloc.ModifyIndex })
	keep := maxTerminalAllocs
	if job == nil {
		keep = 0
	}
	for i, rec := range terminal {
		if i < keep {
			continue
		}
		a.store.DeleteAlloc(rec.Alloc.ID)
		_ = os.RemoveAll(a.allocDir(rec.Alloc.ID))
	}
}

func (a *Agent) allocDir(id string) string {
	return a.allocRoot + string(os.PathSeparator) + id
}
