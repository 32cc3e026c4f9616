package agent

import (
	"fmt"
	"sync"
	"time"
)

// deploymentWatcher follows the running deployments, as Nomad's
// deployment watcher and the client's health tracker together: an
// allocation is healthy once all its tasks have run for min_healthy_time,
// unhealthy when one failed or it was not healthy within healthy_deadline;
// a deployment fails on an unhealthy allocation or a missed
// progress_deadline (rolling back to the last stable version with
// auto_revert), and succeeds when every group has its count healthy (the
// job version becomes stable). On the same tick it places what waited for
// the driver to be healthy again.
type deploymentWatcher struct {
	a       *Agent
	quit    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	started bool
	once    sync.Once
	// usable is the driver's last seen health, for placing what waited
	// for it once it is healthy again.
	usable bool
}

const deploymentTick = 200 * time.Millisecond

func newDeploymentWatcher(a *Agent) *deploymentWatcher {
	return &deploymentWatcher{a: a, quit: make(chan struct{}), done: make(chan struct{}), usable: true}
}

func (w *deploymentWatcher) start() {
	w.mu.Lock()
	w.started = true
	w.mu.Unlock()
	go w.loop()
}

func (w *deploymentWatcher) stop() {
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if !started {
		return
	}
	w.once.Do(func() { close(w.quit) })
	<-w.done
}

func (w *deploymentWatcher) loop() {
	defer close(w.done)
	t := time.NewTicker(deploymentTick)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
		for _, d := range w.a.store.ActiveDeployments() {
			w.watch(d, time.Now())
		}
		w.driverHealth()
	}
}

// driverHealth places the allocations queued while the driver was not
// healthy, once it is.
func (w *deploymentWatcher) driverHealth() {
	usable := w.a.driverUsable()
	if usable && !w.usable {
		w.a.sched.allocTerminal()
	}
	w.usable = usable
}

// watch looks at one active deployment once.
func (w *deploymentWatcher) watch(d *Deployment, now time.Time) {
	a := w.a
	key := JobKey{d.Namespace, d.JobID}
	changed := false
	for _, rec := range a.store.AllocRecords() {
		al := rec.Alloc
		if al.DeploymentID != d.ID || (al.DeploymentStatus != nil && al.DeploymentStatus.Healthy != nil) {
			continue
		}
		if healthy, decided := allocHealth(al, now); decided {
			if err := a.store.SetAllocHealth(al.ID, healthy); err == nil {
				changed = true
			}
		}
	}
	if d.Status != DeploymentStatusRunning {
		return
	}
	cur, _, err := a.store.Deployment(d.ID)
	if err != nil {
		return
	}
	done := true
	for name, st := range cur.TaskGroups {
		awaiting := false
		if st.DesiredCanaries > 0 && !st.Promoted {
			done = false
			healthy, _ := a.store.CanaryHealth(cur, name)
			awaiting = healthy >= st.DesiredCanaries
			if awaiting && st.AutoPromote {
				if err := a.store.PromoteDeployment(cur.ID, []string{name}, false); err == nil {
					a.log.Info("canaries promoted automatically", "deployment", d.ID, "group", name)
					changed = true
				}
			}
		}
		switch {
		case st.UnhealthyAllocs > 0:
			w.fail(cur, descFailedAllocations)
			return
		case awaiting:
			// Waiting for a promotion is no lack of progress.
		case st.HealthyAllocs < st.DesiredTotal && now.After(st.RequireProgressBy):
			a.log.Info("deployment missed its progress deadline", "deployment", d.ID, "group", name)
			w.fail(cur, descProgressDeadline)
			return
		case st.HealthyAllocs < st.DesiredTotal || w.oldAllocsLeft(key, cur, name):
			done = false
		}
	}
	if done {
		if _, _, err := a.store.SetDeploymentStatus(d.ID, DeploymentStatusSuccessful, descSuccessful); err == nil {
			a.log.Info("deployment successful", "deployment", d.ID, "job", key.String())
		}
		return
	}
	if changed {
		// Health moved: the rolling update may place its next batch.
		a.sched.Enqueue(key)
	}
}

// oldAllocsLeft reports whether a group still runs allocations the
// deployment has not replaced.
func (w *deploymentWatcher) oldAllocsLeft(key JobKey, d *Deployment, group string) bool {
	for _, rec := range w.a.store.AllocRecords() {
		al := rec.Alloc
		if al.JobID == key.ID && al.Namespace == key.Namespace && al.TaskGroup == group &&
			al.DesiredStatus == AllocDesiredRun && al.DeploymentID != d.ID && !allocClientTerminal(al) {
			return true
		}
	}
	return false
}

// allocHealth decides an allocation's health from its task states.
func allocHealth(al *Allocation, now time.Time) (healthy, decided bool) {
	g := groupOf(al.Job, al.TaskGroup)
	if g == nil || g.Update == nil {
		return false, false
	}
	if al.ClientStatus == AllocClientFailed {
		return false, true
	}
	var latest time.Time
	running := len(al.TaskStates) > 0
	for _, ts := range al.TaskStates {
		if ts.Failed {
			return false, true
		}
		if ts.State != TaskStateRunning {
			running = false
		}
		if ts.StartedAt.After(latest) {
			latest = ts.StartedAt
		}
	}
	if running && now.Sub(latest) >= *g.Update.MinHealthyTime {
		return true, true
	}
	if now.Sub(time.Unix(0, al.CreateTime)) > *g.Update.HealthyDeadline {
		return false, true
	}
	return false, false
}

// fail ends a deployment as failed; with auto_revert in a group the job
// goes back to its newest stable version (Nomad's rollback), named in the
// description. It returns the reverted-to version, if any.
func (w *deploymentWatcher) fail(d *Deployment, desc string) (*uint64, error) {
	a := w.a
	key := JobKey{d.Namespace, d.JobID}
	autoRevert := false
	for _, st := range d.TaskGroups {
		autoRevert = autoRevert || st.AutoRevert
	}
	var target *Job
	if autoRevert {
		if vs, _, err := a.store.Versions(key); err == nil {
			for _, v := range vs {
				if v.Stable && v.Version != d.JobVersion {
					target = v
					break
				}
			}
		}
		if target == nil {
			desc += " - no stable job version to auto revert to"
		} else {
			desc = fmt.Sprintf("%s - rolling back to job version %d", desc, target.Version)
		}
	}
	if _, err := a.store.FailDeployment(d.ID, desc, target); err != nil {
		return nil, err
	}
	a.log.Info("deployment failed", "deployment", d.ID, "job", key.String(), "reason", desc)
	if target == nil {
		return nil, nil
	}
	a.sched.Enqueue(key)
	v := target.Version
	return &v, nil
}
