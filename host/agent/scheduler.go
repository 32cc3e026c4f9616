package agent

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// scheduler reconciles each job with its allocations on this node, one
// job at a time: it places missing allocations (ports included), stops
// those no longer wanted, replaces those a job update changes destructively
// (groupUpdate, as Nomad's scheduler decides), updates the others in place
// and scales by index.
type scheduler struct {
	a *Agent

	mu     sync.Mutex
	dirty  map[JobKey]bool
	kick   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	active bool
}

func newScheduler(a *Agent) *scheduler {
	return &scheduler{a: a, dirty: map[JobKey]bool{}, kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
}

func (s *scheduler) start() {
	s.mu.Lock()
	s.active = true
	s.mu.Unlock()
	go s.loop()
}

func (s *scheduler) stop() {
	s.mu.Lock()
	active := s.active
	s.active = false
	s.mu.Unlock()
	if active {
		close(s.quit)
		<-s.done
	}
}

// Enqueue asks for a job to be reconciled (and the periodic runner to
// look at the jobs again: this is where every job change passes).
func (s *scheduler) Enqueue(key JobKey) {
	s.mu.Lock()
	s.dirty[key] = true
	s.mu.Unlock()
	if s.a.periodic != nil {
		s.a.periodic.Kick()
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// allocTerminal is called when an allocation's tasks are all dead: ports
// are free again, so the jobs waiting for them are looked at.
func (s *scheduler) allocTerminal() {
	keys := s.a.store.QueuedJobs()
	if len(keys) == 0 {
		return
	}
	s.mu.Lock()
	for _, k := range keys {
		s.dirty[k] = true
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *scheduler) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
		}
		s.mu.Lock()
		keys := make([]JobKey, 0, len(s.dirty))
		for k := range s.dirty {
			keys = append(keys, k)
		}
		s.dirty = map[JobKey]bool{}
		s.mu.Unlock()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			s.reconcile(k)
		}
	}
}

// stopAlloc marks an allocation desired-stop and tells its runner.
func (s *scheduler) stopAlloc(id, why string) {
	_, _ = s.a.store.UpdateAlloc(id, func(r *allocRecord) bool {
		if r.Alloc.DesiredStatus == AllocDesiredStop {
			return false
		}
		r.Alloc.DesiredStatus, r.Alloc.DesiredDescription = AllocDesiredStop, why
		return true
	})
	if r := s.a.runner(id); r != nil {
		r.kill(why, false)
	}
}

// pass is one reconcile of a job: its live allocations sorted by what
// the job's current version asks of them.
type pass struct {
	s      *scheduler
	key    JobKey
	job    *Job
	live   []*allocRecord
	evalID string
	deploy *Deployment
	out    evalOutcome
	// byGroup: allocations kept as they are (or updated in place).
	byGroup map[string][]*allocRecord
	// destructive: allocations a job update replaces, by group (at the
	// pace of the group's deployment, if it has one).
	destructive map[string][]*allocRecord
	// resched: failed allocations to replace (evaluate with
	// ForceReschedule), by group and index.
	resched map[string]map[int]string
	// inPlace: allocations that take the new job version as they run.
	inPlace []*allocRecord
}

func (s *scheduler) reconcile(key JobKey) {
	a := s.a
	snapshot := a.store.Index()
	job, _ := a.store.Job(key)
	p := &pass{s: s, key: key, job: job, out: evalOutcome{Queued: map[string]int{}, Failed: map[string]*AllocMetric{}},
		byGroup: map[string][]*allocRecord{}, destructive: map[string][]*allocRecord{}, resched: map[string]map[int]string{}}
	for _, rec := range a.store.AllocRecords() {
		al := rec.Alloc
		if al.JobID == key.ID && al.Namespace == key.Namespace && al.DesiredStatus == AllocDesiredRun &&
			al.NextAllocation == "" {
			p.live = append(p.live, rec)
		}
	}
	defer func() { a.store.EvalDone(key, snapshot, p.out) }()
	defer a.gcAllocs(key)
	if job == nil || job.Stop || job.isTemplate() {
		p.stopAll()
		return
	}
	p.classify()
	p.evalID = a.store.LatestEvalID(key)
	p.deploy = s.deployment(job, p.byGroup, p.destructive)
	p.updateInPlace()
	for _, g := range job.TaskGroups {
		p.reconcileGroup(g)
	}
	if p.deploy != nil {
		a.store.RecountDeployment(p.deploy.ID)
		if p.deploy.active() {
			p.out.DeploymentID = p.deploy.ID
		}
	}
}

// stopAll stops everything of a stopped, purged or template job.
func (p *pass) stopAll() {
	a := p.s.a
	a.store.CancelDeployments(p.key, descStoppedJob)
	for _, rec := range p.live {
		p.s.stopAlloc(rec.Alloc.ID, "alloc not needed due to job update")
	}
	if p.job != nil {
		for _, g := range p.job.TaskGroups {
			a.store.SetQueued(p.key, g.Name, 0)
		}
	}
}

// classify sorts the live allocations: stopped (group gone), to
// reschedule, destructive, in place, or kept.
func (p *pass) classify() {
	for _, rec := range p.live {
		al := rec.Alloc
		switch {
		case groupOf(p.job, al.TaskGroup) == nil:
			p.s.stopAlloc(al.ID, "alloc not needed due to job update")
			continue
		case al.ClientStatus == AllocClientFailed && al.DesiredTransition.ForceReschedule != nil &&
			*al.DesiredTransition.ForceReschedule:
			if p.resched[al.TaskGroup] == nil {
				p.resched[al.TaskGroup] = map[int]string{}
			}
			p.resched[al.TaskGroup][rec.GroupIndex] = al.ID
			continue
		case al.Job == nil:
			p.s.stopAlloc(al.ID, "alloc is being updated due to job update")
			continue
		case al.Job.Version != p.job.Version || al.Job.JobModifyIndex != p.job.JobModifyIndex:
			if why := groupUpdate(al.Job, p.job, al.TaskGroup); why != "" {
				p.s.a.log.Debug("destructive update", "alloc", al.ID, "change", why)
				p.destructive[al.TaskGroup] = append(p.destructive[al.TaskGroup], rec)
				continue
			}
			p.inPlace = append(p.inPlace, rec)
		}
		p.byGroup[al.TaskGroup] = append(p.byGroup[al.TaskGroup], rec)
	}
}

// deployID is the deployment new allocations of a group belong to ("" if
// none).
func (p *pass) deployID(group string) string {
	if p.deploy != nil && p.deploy.active() && p.deploy.TaskGroups[group] != nil {
		return p.deploy.ID
	}
	return ""
}

// updateInPlace gives the in-place allocations the job's new version.
func (p *pass) updateInPlace() {
	for _, rec := range p.inPlace {
		deployID := p.deployID(rec.Alloc.TaskGroup)
		_, _ = p.s.a.store.UpdateAlloc(rec.Alloc.ID, func(r *allocRecord) bool {
			r.Alloc.Job = p.job
			// As in Nomad, an allocation updated in place joins the new
			// deployment, whose health tracking starts again for it.
			if deployID != "" {
				r.Alloc.DeploymentID, r.Alloc.DeploymentStatus = deployID, nil
			}
			return true
		})
	}
}

// reconcileGroup places canaries, stops the surplus and places what is
// missing for one group.
func (p *pass) reconcileGroup(g *TaskGroup) {
	a := p.s.a
	keep, canaryAt := p.s.groupUpdates(g, p.deploy, p.byGroup[g.Name], p.destructive[g.Name], p.live)
	for _, idx := range canaryAt {
		if err := p.s.place(p.job, g, idx, p.evalID, "", p.deploy.ID, true); err != nil {
			p.out.Failed[g.Name] = placementFailure(p.out.Failed[g.Name], p.job, err)
			a.log.Warn("canary not placed", "job", p.key.String(), "group", g.Name, "index", idx, "error", err)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].GroupIndex < keep[j].GroupIndex })
	count := *g.Count
	if p.job.Type == JobTypeSystem || p.job.Type == JobTypeSysBatch {
		count = 1
	}
	used := map[int]bool{}
	for i, rec := range keep {
		if i >= count {
			p.s.stopAlloc(rec.Alloc.ID, "alloc not needed due to job update")
			continue
		}
		used[rec.GroupIndex] = true
	}
	queued := 0
	for idx := 0; idx < count; idx++ {
		if used[idx] {
			continue
		}
		if err := p.s.place(p.job, g, idx, p.evalID, p.resched[g.Name][idx], p.deployID(g.Name), false); err != nil {
			queued++
			p.out.Failed[g.Name] = placementFailure(p.out.Failed[g.Name], p.job, err)
			a.log.Warn("allocation not placed", "job", p.key.String(), "group", g.Name, "index", idx, "error", err)
		}
	}
	p.out.Queued[g.Name] = queued
	a.store.SetQueued(p.key, g.Name, queued)
}

// deployment is the deployment of the job's version: created when a
// service job whose groups roll has allocations to place or replace.
func (s *scheduler) deployment(job *Job, kept, destructive map[string][]*allocRecord) *Deployment {
	work := false
	canary := map[string]bool{}
	for _, g := range job.TaskGroups {
		work = work || len(destructive[g.Name]) > 0 || len(kept[g.Name]) < *g.Count
		canary[g.Name] = len(destructive[g.Name]) > 0
	}
	return s.a.store.DeploymentFor(job, work, canary)
}

// groupUpdates decides a group's allocations under its deployment: the
// ones to keep, after stopping those replaced now, and the indexes where
// canaries go. Before promotion the canaries run beside all the old
// allocations; once promoted each takes the place of the old allocation
// of its index and the rest roll; a failed deployment's canaries stop.
func (s *scheduler) groupUpdates(g *TaskGroup, d *Deployment, kept, dest, live []*allocRecord) ([]*allocRecord, []int) {
	var st *DeploymentState
	if d != nil {
		st = d.TaskGroups[g.Name]
	}
	if st == nil || st.DesiredCanaries == 0 {
		return append(kept, s.rollDestructive(g, d, dest, live)...), nil
	}
	var canaries, others []*allocRecord
	for _, rec := range kept {
		if ds := rec.Alloc.DeploymentStatus; rec.Alloc.DeploymentID == d.ID && ds != nil && ds.Canary {
			canaries = append(canaries, rec)
		} else {
			others = append(others, rec)
		}
	}
	if !d.active() {
		if d.Status == DeploymentStatusFailed {
			for _, rec := range canaries {
				s.stopAlloc(rec.Alloc.ID, "alloc not needed as deployment failed")
			}
			canaries = nil
		}
		return append(append(others, canaries...), s.rollDestructive(g, d, dest, live)...), nil
	}
	covered := map[int]bool{}
	for _, rec := range canaries {
		covered[rec.GroupIndex] = true
	}
	if !st.Promoted {
		sort.Slice(dest, func(i, j int) bool { return dest[i].GroupIndex < dest[j].GroupIndex })
		var at []int
		need := st.DesiredCanaries - len(canaries)
		for _, rec := range dest {
			if need > 0 && !covered[rec.GroupIndex] {
				at = append(at, rec.GroupIndex)
				covered[rec.GroupIndex] = true
				need--
			}
		}
		// More canaries than allocations to replace: they share indexes.
		for i := 0; need > 0; i, need = i+1, need-1 {
			at = append(at, i%max(1, *g.Count))
		}
		return append(others, dest...), at
	}
	var rest []*allocRecord
	for _, rec := range dest {
		if covered[rec.GroupIndex] {
			s.stopAlloc(rec.Alloc.ID, "alloc is being updated due to job update")
			continue
		}
		rest = append(rest, rec)
	}
	return append(append(others, canaries...), s.rollDestructive(g, d, rest, live)...), nil
}

// rollDestructive stops the allocations a deployment may replace now
// (max_parallel minus its placements not yet healthy; none while it is
// paused or after it failed) and returns the others, which keep running
// their old version for now. Without a deployment all are replaced.
func (s *scheduler) rollDestructive(g *TaskGroup, d *Deployment, dest, live []*allocRecord) []*allocRecord {
	sort.Slice(dest, func(i, j int) bool { return dest[i].GroupIndex < dest[j].GroupIndex })
	allow := len(dest)
	if d != nil && d.TaskGroups[g.Name] != nil {
		allow = 0
		if d.Status == DeploymentStatusRunning {
			inflight := 0
			for _, rec := range live {
				al := rec.Alloc
				if al.DeploymentID == d.ID && al.TaskGroup == g.Name &&
					(al.DeploymentStatus == nil || al.DeploymentStatus.Healthy == nil) {
					inflight++
				}
			}
			allow = *g.Update.MaxParallel - inflight
		}
	}
	var kept []*allocRecord
	for i, rec := range dest {
		if i < allow {
			s.stopAlloc(rec.Alloc.ID, "alloc is being updated due to job update")
			continue
		}
		kept = append(kept, rec)
	}
	return kept
}

// usedPorts maps host ports held by allocations whose tasks may still run.
func (a *Agent) usedPorts() map[int]string {
	used := map[int]string{}
	for _, rec := range a.store.AllocRecords() {
		al := rec.Alloc
		if allocClientTerminal(al) || al.AllocatedResources == nil {
			continue
		}
		for _, p := range al.AllocatedResources.Shared.Ports {
			used[p.Value] = al.Name
		}
	}
	return used
}

// errNoStart is returned when the agent is exiting.
var errNoStart = errors.New("the agent is shutting down")

// errMissingDriver: the driver's fingerprint says it is not healthy (or
// not detected); Nomad's feasibility check filters such a node out.
var errMissingDriver = errors.New("missing drivers")

// driverUsable is false once the driver fingerprinted itself unhealthy or
// undetected (before its first fingerprint it is taken as usable).
func (a *Agent) driverUsable() bool {
	drv := a.host.Driver()
	if drv == nil {
		return true
	}
	fp, _ := drv.Fingerprints.Latest()
	return fp == nil || fp.GetHealth() == driverpb.FingerprintResponse_HEALTHY
}

// place creates one allocation of a group and starts its runner; prev is
// the failed allocation it replaces ("" if none), linked both ways.
func (s *scheduler) place(job *Job, g *TaskGroup, idx int, evalID, prev, deploymentID string, canary bool) error {
	a := s.a
	if a.isStopping() {
		return errNoStart
	}
	if !a.driverUsable() {
		return errMissingDriver
	}
	ports := groupPorts(g)
	mapped, err := a.ports.assign(ports, a.usedPorts())
	if err != nil {
		return err
	}
	res := &AllocatedResources{Tasks: map[string]*AllocatedTaskResources{}, Shared: AllocatedSharedResources{Ports: mapped}}
	if len(g.Networks) > 0 || len(mapped) > 0 {
		nw := &NetworkResource{Mode: "host", IP: a.cfg.Client.HostIP}
		for _, m := range mapped {
			p := Port{Label: m.Label, Value: m.Value, To: m.To, HostNetwork: "default"}
			if isReserved(ports, m.Label) {
				nw.ReservedPorts = append(nw.ReservedPorts, p)
			} else {
				nw.DynamicPorts = append(nw.DynamicPorts, p)
			}
		}
		res.Shared.Networks = []*NetworkResource{nw}
	}
	states := map[string]*TaskState{}
	for _, t := range g.Tasks {
		tr := &AllocatedTaskResources{Cpu: AllocatedCpuResources{CpuShares: int64(*t.Resources.CPU)},
			Memory: AllocatedMemoryResources{MemoryMB: int64(*t.Resources.MemoryMB)}}
		if t.Resources.MemoryMaxMB != nil {
			tr.Memory.MemoryMaxMB = int64(*t.Resources.MemoryMaxMB)
		}
		res.Tasks[t.Name] = tr
		states[t.Name] = &TaskState{State: TaskStatePending}
	}
	al := &Allocation{
		ID: pluginhost.NewUUID(), Namespace: job.Namespace, EvalID: evalID,
		Name: fmt.Sprintf("%s.%s[%d]", job.ID, g.Name, idx), NodeID: a.nodeID, NodeName: a.cfg.Name,
		JobID: job.ID, Job: job, TaskGroup: g.Name, AllocatedResources: res,
		DesiredStatus: AllocDesiredRun, ClientStatus: AllocClientPending, ClientDescription: "No tasks have started",
		TaskStates: states, PreviousAllocation: prev, DeploymentID: deploymentID,
	}
	if canary {
		al.DeploymentStatus = &AllocDeploymentStatus{Canary: true}
	}
	rec := &allocRecord{Alloc: al, GroupIndex: idx, Tasks: map[string]*taskRecord{}}
	a.store.PutAlloc(rec)
	if prev != "" {
		_, _ = a.store.UpdateAlloc(prev, func(r *allocRecord) bool {
			r.Alloc.NextAllocation = al.ID
			return true
		})
	}
	a.addRunner(a.store.AllocRecord(al.ID), runFresh)
	return nil
}

// groupPorts lists the ports a group asks for (dynamic ones unassigned).
func groupPorts(g *TaskGroup) []Port {
	var ports []Port
	for _, n := range g.Networks {
		ports = append(ports, n.ReservedPorts...)
		for _, d := range n.DynamicPorts {
			d.Value = 0
			ports = append(ports, d)
		}
	}
	for _, t := range g.Tasks {
		ports = append(ports, t.taskPorts()...)
	}
	return ports
}

// placementFailure adds one unplaced allocation to a group's AllocMetric:
// the node was evaluated and exhausted in the dimension the error names.
func placementFailure(m *AllocMetric, job *Job, err error) *AllocMetric {
	if m != nil {
		m.CoalescedFailures++
		return m
	}
	if errors.Is(err, errMissingDriver) {
		return &AllocMetric{NodesEvaluated: 1, NodesInPool: 1, NodePool: job.NodePool, NodesFiltered: 1,
			NodesAvailable: map[string]int{}, ConstraintFiltered: map[string]int{errMissingDriver.Error(): 1}}
	}
	return &AllocMetric{NodesEvaluated: 1, NodesInPool: 1, NodePool: job.NodePool, NodesExhausted: 1,
		NodesAvailable: map[string]int{}, DimensionExhausted: map[string]int{err.Error(): 1}}
}

func isReserved(ports []Port, label string) bool {
	for _, p := range ports {
		if p.Label == label {
			return p.Value > 0
		}
	}
	return false
}
