package agent

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxTrackedVersions is how many versions of a job are kept (Nomad's
// default job_tracked_versions).
const maxTrackedVersions = 6

// Table names whose indexes blocking queries watch.
const (
	tableJobs    = "jobs"
	tableAllocs  = "allocs"
	tableSummary = "job_summary"
	tableNodes   = "nodes"
)

// ErrJobNotFound is returned for an unknown job (HTTP 404 "job not found").
var ErrJobNotFound = errors.New("job not found")

// ErrAllocNotFound is returned for an unknown allocation.
var ErrAllocNotFound = errors.New("alloc not found")

// EnforceIndexError is a failed check-and-set register.
type EnforceIndexError struct{ Msg string }

func (e *EnforceIndexError) Error() string { return e.Msg }

// JobKey names a job: namespace and ID.
type JobKey struct {
	Namespace string
	ID        string
}

func (k JobKey) String() string { return k.Namespace + "/" + k.ID }

// summaryMeta is the stored part of a job summary.
type summaryMeta struct {
	CreateIndex uint64
	ModifyIndex uint64
	// Queued counts allocations that could not be placed, per group.
	Queued map[string]int
	// ScalingEvents are the groups' scaling events, newest first.
	ScalingEvents map[string][]*ScalingEvent `json:",omitempty"`
}

// allocRecord is an allocation with the host's private bookkeeping.
type allocRecord struct {
	Alloc *Allocation
	// GroupIndex is the allocation's index in its group (NOMAD_ALLOC_INDEX).
	GroupIndex int
	// Tasks is per-task runtime state.
	Tasks map[string]*taskRecord
}

// taskRecord is what the agent must remember about a task to recover it.
type taskRecord struct {
	// Handle is the protobuf TaskHandle of the running start (nil if none).
	Handle []byte `json:",omitempty"`
	// StoppedByHost is set when the host stopped the task on its own exit;
	// the next start of the host starts it again.
	StoppedByHost bool `json:",omitempty"`
}

// Store is the agent's state: jobs, their versions and summaries, and
// allocations, with a monotonic index. Every write raises the index, marks
// the touched tables and wakes blocking queries. Stored jobs are never
// changed in place; allocations are copied on the way out.
type Store struct {
	mu       sync.Mutex
	index    uint64
	tables   map[string]uint64
	jobs     map[JobKey]*Job
	versions map[JobKey][]*Job
	summary  map[JobKey]*summaryMeta
	allocs   map[string]*allocRecord
	// evalPending marks jobs the scheduler has not looked at since their
	// last register or stop (Nomad's pending evaluation).
	evalPending map[JobKey]bool
	evals       map[string]*Evaluation
	// launches is each periodic job's last launch.
	launches    map[JobKey]time.Time
	deployments map[string]*Deployment
	submissions map[JobKey]map[uint64]*JobSubmission
	changed     chan struct{}
	onWrite     func()
}

// NewStore returns an empty store; onWrite (may be nil) is called after
// every write, outside the lock.
func NewStore(onWrite func()) *Store {
	return &Store{
		tables:      map[string]uint64{},
		jobs:        map[JobKey]*Job{},
		versions:    map[JobKey][]*Job{},
		summary:     map[JobKey]*summaryMeta{},
		allocs:      map[string]*allocRecord{},
		evalPending: map[JobKey]bool{},
		evals:       map[string]*Evaluation{},
		launches:    map[JobKey]time.Time{},
		deployments: map[string]*Deployment{},
		submissions: map[JobKey]map[uint64]*JobSubmission{},
		changed:     make(chan struct{}),
		onWrite:     onWrite,
	}
}

// write runs fn under the lock with the next index; fn returns the tables
// it changed (none: the index is not raised).
func (s *Store) write(fn func(index uint64) []string) uint64 {
	s.mu.Lock()
	next := s.index + 1
	tables := fn(next)
	if len(tables) > 0 {
		s.index = next
		for _, t := range tables {
			s.tables[t] = next
		}
		close(s.changed)
		s.changed = make(chan struct{})
	}
	idx := s.index
	s.mu.Unlock()
	if len(tables) > 0 && s.onWrite != nil {
		s.onWrite()
	}
	return idx
}

// Changed returns a channel closed at the next write.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Index is the latest index.
func (s *Store) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// TableIndex is the index of the last write to a table (at least 1, as
// Nomad never answers a blocking query with index 0).
func (s *Store) TableIndex(table string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return atLeastOne(s.tables[table])
}

func atLeastOne(i uint64) uint64 {
	if i == 0 {
		return 1
	}
	return i
}

// RegisterResult is what UpsertJob did.
type RegisterResult struct {
	Job     *Job
	Index   uint64
	Changed bool
	// EvalID is the evaluation the register created.
	EvalID string
}

// UpsertJob registers a new job or a new version of one, with Nomad's
// check-and-set: with enforce, modifyIndex 0 means "only if new", any other
// value must equal the job's current JobModifyIndex.
func (s *Store) UpsertJob(job *Job, enforce bool, modifyIndex uint64) (RegisterResult, error) {
	var res RegisterResult
	var err error
	s.write(func(index uint64) []string {
		res, err = s.upsertJobLocked(index, job, enforce, modifyIndex)
		if err != nil {
			return nil
		}
		return []string{tableJobs, tableSummary, tableEvals}
	})
	return res, err
}

// upsertJobLocked is UpsertJob inside a write at index.
func (s *Store) upsertJobLocked(index uint64, job *Job, enforce bool, modifyIndex uint64) (RegisterResult, error) {
	var res RegisterResult
	key := JobKey{job.Namespace, job.ID}
	existing := s.jobs[key]
	if enforce {
		if err := checkEnforce(existing, modifyIndex); err != nil {
			return res, err
		}
	}
	j := *job
	j.ModifyIndex, j.JobModifyIndex, j.SubmitTime = index, index, time.Now().UnixNano()
	j.Stable = false
	if existing == nil {
		j.CreateIndex, j.Version = index, 0
		res.Changed = true
	} else {
		j.CreateIndex = existing.CreateIndex
		j.Version = existing.Version
		if specChanged(existing, &j) {
			j.Version++
			res.Changed = true
		}
	}
	// A tag names one version: a new version starts without one.
	j.VersionTag = nil
	if existing != nil && existing.Version == j.Version {
		j.VersionTag = existing.VersionTag
	}
	s.evalPending[key] = true
	j.Status, j.StatusDescription = s.jobStatusLocked(key, &j), ""
	s.jobs[key] = &j
	s.addVersionLocked(key, &j)
	if s.summary[key] == nil {
		s.summary[key] = &summaryMeta{CreateIndex: index, ModifyIndex: index, Queued: map[string]int{}}
	}
	res.Job, res.Index = &j, index
	res.EvalID = s.newEvalLocked(index, key, &j, EvalTriggerJobRegister).ID
	return res, nil
}

func checkEnforce(existing *Job, modifyIndex uint64) error {
	const prefix = "Enforcing job modify index"
	switch {
	case modifyIndex == 0 && existing != nil:
		return &EnforceIndexError{fmt.Sprintf("%s 0: job already exists", prefix)}
	case modifyIndex != 0 && existing == nil:
		return &EnforceIndexError{fmt.Sprintf("%s %d: job does not exist", prefix, modifyIndex)}
	case modifyIndex != 0 && existing.JobModifyIndex != modifyIndex:
		return &EnforceIndexError{fmt.Sprintf("%s %d: job exists with conflicting job modify index: %d",
			prefix, modifyIndex, existing.JobModifyIndex)}
	}
	return nil
}

// specChanged compares what a user controls (Nomad's Job.SpecChanged).
func specChanged(a, b *Job) bool {
	strip := func(j *Job) Job {
		c := *j
		c.Stop, c.Status, c.StatusDescription, c.Stable, c.VersionTag = false, "", "", false, nil
		c.Version, c.SubmitTime, c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0, 0, 0
		return c
	}
	x, y := strip(a), strip(b)
	bx, err1 := x.MarshalJSON()
	by, err2 := y.MarshalJSON()
	return err1 != nil || err2 != nil || string(bx) != string(by) || a.Stop != b.Stop
}

func (s *Store) addVersionLocked(key JobKey, j *Job) {
	vs := s.versions[key]
	if len(vs) > 0 && vs[0].Version == j.Version {
		vs[0] = j
	} else {
		vs = append([]*Job{j}, vs...)
	}
	s.versions[key] = trimVersions(vs)
}

// StopJob marks a job stopped (DELETE without purge) or removes it (purge).
// Its allocations are stopped by the scheduler either way; the returned
// evaluation is the deregister's.
func (s *Store) StopJob(key JobKey, purge bool) (*Job, *Evaluation, uint64, error) {
	var out *Job
	var eval *Evaluation
	var err error
	idx := s.write(func(index uint64) []string {
		existing := s.jobs[key]
		if existing == nil {
			err = ErrJobNotFound
			return nil
		}
		if purge {
			delete(s.jobs, key)
			delete(s.versions, key)
			delete(s.summary, key)
			s.evalPending[key] = true
			out = existing
			eval = s.newEvalLocked(index, key, existing, EvalTriggerJobDeregister)
			return []string{tableJobs, tableSummary, tableEvals}
		}
		s.evalPending[key] = true
		j := *existing
		j.Stop = true
		j.ModifyIndex, j.JobModifyIndex = index, index
		j.Version++
		j.VersionTag = nil
		j.Status = s.jobStatusLocked(key, &j)
		s.jobs[key] = &j
		s.addVersionLocked(key, &j)
		out = &j
		eval = s.newEvalLocked(index, key, &j, EvalTriggerJobDeregister)
		return []string{tableJobs, tableSummary, tableEvals}
	})
	if eval != nil {
		c := *eval
		eval = &c
	}
	return out, eval, idx, err
}

// Job returns a stored job (nil if unknown) and the index to report.
func (s *Store) Job(key JobKey) (*Job, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[key]
	if j == nil {
		return nil, atLeastOne(s.tables[tableJobs])
	}
	return j, j.ModifyIndex
}

// JobKeys lists every stored job.
func (s *Store) JobKeys() []JobKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]JobKey, 0, len(s.jobs))
	for k := range s.jobs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

// Jobs lists the jobs whose ID starts with prefix in a namespace ("*": all).
func (s *Store) Jobs(namespace, prefix string) ([]*JobListStub, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*JobListStub{}
	for k, j := range s.jobs {
		if (namespace != "*" && k.Namespace != namespace) || !strings.HasPrefix(k.ID, prefix) {
			continue
		}
		out = append(out, &JobListStub{
			ID: j.ID, ParentID: j.ParentID, Name: j.Name, Namespace: j.Namespace,
			Datacenters: j.Datacenters, NodePool: j.NodePool, Type: j.Type, Priority: j.Priority,
			Periodic: j.IsPeriodic(), ParameterizedJob: j.IsParameterized(),
			Stop: j.Stop, Status: j.Status, StatusDescription: j.StatusDescription,
			JobSummary: s.summaryLocked(k), CreateIndex: j.CreateIndex, ModifyIndex: j.ModifyIndex,
			JobModifyIndex: j.JobModifyIndex, SubmitTime: j.SubmitTime,
		})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Namespace != out[b].Namespace {
			return out[a].Namespace < out[b].Namespace
		}
		return out[a].ID < out[b].ID
	})
	idx := s.tables[tableJobs]
	if s.tables[tableSummary] > idx {
		idx = s.tables[tableSummary]
	}
	return out, atLeastOne(idx)
}

// Versions returns a job's tracked versions, newest first.
func (s *Store) Versions(key JobKey) ([]*Job, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[key]
	if j == nil {
		return nil, atLeastOne(s.tables[tableJobs]), ErrJobNotFound
	}
	// The highest ModifyIndex: tagging an old version changes it too.
	idx := j.ModifyIndex
	for _, v := range s.versions[key] {
		if v.ModifyIndex > idx {
			idx = v.ModifyIndex
		}
	}
	return append([]*Job(nil), s.versions[key]...), idx, nil
}

// JobVersion returns one version of a job (nil if not tracked).
func (s *Store) JobVersion(key JobKey, version uint64) *Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.versions[key] {
		if v.Version == version {
			return v
		}
	}
	return nil
}

// Summary returns a job's summary.
func (s *Store) Summary(key JobKey) (*JobSummary, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs[key] == nil {
		return nil, atLeastOne(s.tables[tableSummary]), ErrJobNotFound
	}
	sum := s.summaryLocked(key)
	return sum, sum.ModifyIndex, nil
}

func (s *Store) summaryLocked(key JobKey) *JobSummary {
	meta := s.summary[key]
	if meta == nil {
		meta = &summaryMeta{}
	}
	sum := &JobSummary{JobID: key.ID, Namespace: key.Namespace, Summary: map[string]TaskGroupSummary{},
		Children: s.childrenLocked(key), CreateIndex: meta.CreateIndex, ModifyIndex: meta.ModifyIndex}
	if j := s.jobs[key]; j != nil {
		for _, g := range j.TaskGroups {
			sum.Summary[g.Name] = TaskGroupSummary{Queued: meta.Queued[g.Name]}
		}
	}
	for _, r := range s.allocs {
		a := r.Alloc
		if a.JobID != key.ID || a.Namespace != key.Namespace {
			continue
		}
		g := sum.Summary[a.TaskGroup]
		switch a.ClientStatus {
		case AllocClientPending:
			g.Starting++
		case AllocClientRunning:
			g.Running++
		case AllocClientComplete:
			g.Complete++
		case AllocClientFailed:
			g.Failed++
		case AllocClientLost:
			g.Lost++
		default:
			g.Unknown++
		}
		sum.Summary[a.TaskGroup] = g
	}
	return sum
}

// SetQueued records how many allocations of a group could not be placed.
func (s *Store) SetQueued(key JobKey, group string, n int) {
	s.write(func(index uint64) []string {
		meta := s.summary[key]
		if meta == nil || meta.Queued[group] == n {
			return nil
		}
		meta.Queued[group] = n
		meta.ModifyIndex = index
		if s.refreshJobLocked(key, index) {
			return []string{tableSummary, tableJobs}
		}
		return []string{tableSummary}
	})
}

// QueuedJobs lists the jobs with allocations waiting to be placed.
func (s *Store) QueuedJobs() []JobKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []JobKey
	for k, m := range s.summary {
		for _, n := range m.Queued {
			if n > 0 {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// jobStatusLocked is Nomad's job status: running while any allocation is
// not terminal; pending while an evaluation is pending or allocations wait
// to be placed; dead otherwise.
func (s *Store) jobStatusLocked(key JobKey, j *Job) string {
	// A periodic or parameterized parent runs nothing itself (Nomad).
	if j.isTemplate() {
		if j.Stop {
			return JobStatusDead
		}
		return JobStatusRunning
	}
	for _, r := range s.allocs {
		a := r.Alloc
		if a.JobID == key.ID && a.Namespace == key.Namespace && !allocTerminal(a) {
			return JobStatusRunning
		}
	}
	if j.Stop {
		return JobStatusDead
	}
	if s.evalPending[key] {
		return JobStatusPending
	}
	if m := s.summary[key]; m != nil {
		for _, n := range m.Queued {
			if n > 0 {
				return JobStatusPending
			}
		}
	}
	return JobStatusDead
}

// allocTerminal is Nomad's Allocation.TerminalStatus.
func allocTerminal(a *Allocation) bool {
	switch a.DesiredStatus {
	case AllocDesiredStop, "evict":
		return true
	}
	switch a.ClientStatus {
	case AllocClientComplete, AllocClientFailed, AllocClientLost:
		return true
	}
	return false
}

// allocClientTerminal reports whether the client is done with the alloc.
func allocClientTerminal(a *Allocation) bool {
	switch a.ClientStatus {
	case AllocClientComplete, AllocClientFailed, AllocClientLost:
		return true
	}
	return false
}

// refreshJobLocked recomputes a job's status after its allocations
// changed; a changed status is a new job object with a new ModifyIndex.
func (s *Store) refreshJobLocked(key JobKey, index uint64) bool {
	j := s.jobs[key]
	if j == nil {
		return false
	}
	status := s.jobStatusLocked(key, j)
	if status == j.Status {
		return false
	}
	c := *j
	c.Status, c.ModifyIndex = status, index
	s.jobs[key] = &c
	if vs := s.versions[key]; len(vs) > 0 && vs[0].Version == c.Version {
		vs[0] = &c
	}
	// The parent's summary counts its children by status.
	if c.ParentID != "" {
		if m := s.summary[JobKey{key.Namespace, c.ParentID}]; m != nil {
			m.ModifyIndex = index
			s.tables[tableSummary] = index
		}
	}
	return true
}

// PutAlloc stores a new allocation.
func (s *Store) PutAlloc(rec *allocRecord) uint64 {
	return s.write(func(index uint64) []string {
		a := rec.Alloc
		a.CreateIndex, a.ModifyIndex, a.AllocModifyIndex = index, index, index
		now := time.Now().UnixNano()
		a.CreateTime, a.ModifyTime = now, now
		s.allocs[a.ID] = rec
		key := JobKey{a.Namespace, a.JobID}
		if m := s.summary[key]; m != nil {
			m.ModifyIndex = index
		}
		tables := []string{tableAllocs, tableSummary}
		if s.refreshJobLocked(key, index) {
			tables = append(tables, tableJobs)
		}
		return tables
	})
}

// UpdateAlloc changes an allocation under the lock; fn returns false when
// it changed nothing.
func (s *Store) UpdateAlloc(id string, fn func(r *allocRecord) bool) (uint64, error) {
	var err error
	idx := s.write(func(index uint64) []string {
		r := s.allocs[id]
		if r == nil {
			err = ErrAllocNotFound
			return nil
		}
		before := r.Alloc.ClientStatus
		desired := r.Alloc.DesiredStatus
		if !fn(r) {
			return nil
		}
		a := r.Alloc
		a.ModifyIndex, a.ModifyTime = index, time.Now().UnixNano()
		if a.DesiredStatus != desired {
			a.AllocModifyIndex = index
		}
		key := JobKey{a.Namespace, a.JobID}
		tables := []string{tableAllocs}
		if a.ClientStatus != before || a.DesiredStatus != desired {
			if m := s.summary[key]; m != nil {
				m.ModifyIndex = index
			}
			tables = append(tables, tableSummary)
		}
		if s.refreshJobLocked(key, index) {
			tables = append(tables, tableJobs)
		}
		return tables
	})
	return idx, err
}

// DeleteAlloc removes an allocation (garbage collection).
func (s *Store) DeleteAlloc(id string) {
	s.write(func(index uint64) []string {
		r := s.allocs[id]
		if r == nil {
			return nil
		}
		delete(s.allocs, id)
		key := JobKey{r.Alloc.Namespace, r.Alloc.JobID}
		if m := s.summary[key]; m != nil {
			m.ModifyIndex = index
		}
		s.refreshJobLocked(key, index)
		return []string{tableAllocs, tableSummary, tableJobs}
	})
}

// AllocRecord returns a deep copy of an allocation record (nil if unknown).
func (s *Store) AllocRecord(id string) *allocRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.allocs[id]
	if r == nil {
		return nil
	}
	return r.copy()
}

// AllocRecords returns deep copies of every allocation record.
func (s *Store) AllocRecords() []*allocRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*allocRecord, 0, len(s.allocs))
	for _, r := range s.allocs {
		out = append(out, r.copy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alloc.CreateIndex < out[j].Alloc.CreateIndex })
	return out
}

// Alloc returns a copy of an allocation and the index to report.
func (s *Store) Alloc(id string) (*Allocation, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.allocs[id]
	if r == nil {
		return nil, atLeastOne(s.tables[tableAllocs])
	}
	return r.copy().Alloc, r.Alloc.ModifyIndex
}

// Allocs lists allocations; filter may be nil. The index is the allocs
// table's.
func (s *Store) Allocs(filter func(a *Allocation) bool) ([]*AllocListStub, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*AllocListStub{}
	for _, r := range s.allocs {
		if filter != nil && !filter(r.Alloc) {
			continue
		}
		out = append(out, r.copy().Alloc.Stub())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex > out[j].CreateIndex })
	return out, atLeastOne(s.tables[tableAllocs])
}

// JobAllocs lists a job's allocations (404 if the job is unknown and it
// has none, as after a purge the allocations are still listed).
func (s *Store) JobAllocs(key JobKey) ([]*AllocListStub, uint64, error) {
	list, idx := s.Allocs(func(a *Allocation) bool { return a.JobID == key.ID && a.Namespace == key.Namespace })
	if len(list) == 0 {
		if j, _ := s.Job(key); j == nil {
			return nil, idx, ErrJobNotFound
		}
	}
	return list, idx, nil
}

func (r *allocRecord) copy() *allocRecord {
	c := &allocRecord{GroupIndex: r.GroupIndex, Tasks: map[string]*taskRecord{}}
	a := *r.Alloc
	a.TaskStates = map[string]*TaskState{}
	for k, ts := range r.Alloc.TaskStates {
		t := *ts
		t.Events = append([]*TaskEvent(nil), ts.Events...)
		a.TaskStates[k] = &t
	}
	if r.Alloc.AllocatedResources != nil {
		ar := *r.Alloc.AllocatedResources
		ar.Shared.Ports = append([]PortMapping(nil), ar.Shared.Ports...)
		a.AllocatedResources = &ar
	}
	c.Alloc = &a
	for k, t := range r.Tasks {
		tc := *t
		c.Tasks[k] = &tc
	}
	return c
}

// Stub is the allocation's list form.
func (a *Allocation) Stub() *AllocListStub {
	st := &AllocListStub{
		ID: a.ID, EvalID: a.EvalID, Name: a.Name, Namespace: a.Namespace, NodeID: a.NodeID,
		NodeName: a.NodeName, JobID: a.JobID, TaskGroup: a.TaskGroup,
		AllocatedResources: a.AllocatedResources, DesiredStatus: a.DesiredStatus,
		DesiredDescription: a.DesiredDescription, ClientStatus: a.ClientStatus,
		ClientDescription: a.ClientDescription, TaskStates: a.TaskStates,
		NextAllocation: a.NextAllocation, PreviousAllocation: a.PreviousAllocation, DeploymentStatus: a.DeploymentStatus,
		CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex,
		CreateTime: a.CreateTime, ModifyTime: a.ModifyTime,
	}
	if a.Job != nil {
		st.JobType, st.JobVersion = a.Job.Type, a.Job.Version
	}
	return st
}

// groupOf returns a job's group by name.
func groupOf(j *Job, name string) *TaskGroup {
	if j == nil {
		return nil
	}
	for _, g := range j.TaskGroups {
		if g.Name == name {
			return g
		}
	}
	return nil
}
