package agent

import (
	"errors"
	"sort"
	"strings"
	"time"

	"nomad_iis/host/pluginhost"
)

// tableEvals is the evaluations table's name for blocking queries.
const tableEvals = "evals"

// Evaluations kept once terminal: per job, and in all.
const (
	maxTerminalEvalsPerJob = 20
	maxTerminalEvals       = 500
)

// ErrEvalNotFound is an unknown evaluation (HTTP 404 "eval not found").
var ErrEvalNotFound = errors.New("eval not found")

// evalOutcome is what one scheduler pass over a job decided, per group.
type evalOutcome struct {
	Queued map[string]int
	Failed map[string]*AllocMetric
	// DeploymentID is the deployment the pass placed under ("" if none),
	// which clients following the evaluation go on to watch.
	DeploymentID string
}

// newEvalLocked stores a pending evaluation of a job at index.
func (s *Store) newEvalLocked(index uint64, key JobKey, j *Job, trigger string) *Evaluation {
	now := time.Now().UnixNano()
	e := &Evaluation{ID: pluginhost.NewUUID(), Namespace: key.Namespace, JobID: key.ID, TriggeredBy: trigger,
		Status: EvalStatusPending, Priority: 50, Type: JobTypeService, CreateIndex: index, ModifyIndex: index,
		CreateTime: now, ModifyTime: now}
	if j != nil {
		e.Priority, e.Type, e.JobModifyIndex = j.Priority, j.Type, j.JobModifyIndex
	}
	s.evals[e.ID] = e
	s.tables[tableEvals] = index
	return e
}

// CreateEval starts a new evaluation of an existing job (evaluate, a
// periodic launch) and returns it with the write's index.
func (s *Store) CreateEval(key JobKey, trigger string) (*Evaluation, uint64, error) {
	var out *Evaluation
	var err error
	idx := s.write(func(index uint64) []string {
		j := s.jobs[key]
		if j == nil {
			err = ErrJobNotFound
			return nil
		}
		s.evalPending[key] = true
		out = s.newEvalLocked(index, key, j, trigger)
		return []string{tableEvals}
	})
	if out != nil {
		c := *out
		out = &c
	}
	return out, idx, err
}

// EvalDone records that the scheduler has processed a job as the store was
// at index snapshot: the evaluations pending then complete with the
// outcome (newer ones wait for the next pass); allocations it could not
// place leave a blocked evaluation (as Nomad's scheduler does), which
// completes once nothing is queued any more. The job's status is refreshed.
func (s *Store) EvalDone(key JobKey, snapshot uint64, out evalOutcome) {
	s.write(func(index uint64) []string {
		var tables []string
		wasPending := s.evalPending[key]
		queued := 0
		for _, n := range out.Queued {
			queued += n
		}
		var blocked *Evaluation
		for _, e := range s.evals {
			if e.JobID == key.ID && e.Namespace == key.Namespace && e.Status == EvalStatusBlocked {
				blocked = e
			}
		}
		now := time.Now().UnixNano()
		finish := func(e *Evaluation, status, desc string) {
			c := *e
			c.Status, c.StatusDescription, c.ModifyIndex, c.ModifyTime = status, desc, index, now
			s.evals[c.ID] = &c
			tables = append(tables, tableEvals)
		}
		if queued == 0 && blocked != nil {
			finish(blocked, EvalStatusComplete, "")
			blocked = nil
		}
		var pending []*Evaluation
		newer := false
		for _, e := range s.evals {
			if e.JobID == key.ID && e.Namespace == key.Namespace && e.Status == EvalStatusPending {
				if e.CreateIndex > snapshot {
					newer = true
					continue
				}
				pending = append(pending, e)
			}
		}
		if !newer {
			delete(s.evalPending, key)
		}
		sort.Slice(pending, func(i, j int) bool { return pending[i].CreateIndex < pending[j].CreateIndex })
		if queued > 0 && blocked == nil && len(pending) > 0 {
			last := pending[len(pending)-1]
			blocked = s.newEvalLocked(index, key, s.jobs[key], EvalTriggerQueuedAllocs)
			blocked.Status, blocked.PreviousEval = EvalStatusBlocked, last.ID
			blocked.StatusDescription = "created to place remaining allocations"
		}
		for _, e := range pending {
			finish(e, EvalStatusComplete, "")
			c := s.evals[e.ID]
			c.SnapshotIndex = snapshot
			c.QueuedAllocations, c.FailedTGAllocs, c.DeploymentID = out.Queued, nil, out.DeploymentID
			if queued > 0 {
				c.FailedTGAllocs = out.Failed
				if blocked != nil {
					c.BlockedEval = blocked.ID
				}
			}
		}
		s.gcEvalsLocked()
		if s.refreshJobLocked(key, index) {
			tables = append(tables, tableJobs)
		}
		if tables == nil && wasPending {
			tables = []string{}
		}
		return tables
	})
}

// gcEvalsLocked drops the oldest terminal evaluations beyond the limits.
func (s *Store) gcEvalsLocked() {
	var terminal []*Evaluation
	for _, e := range s.evals {
		if e.terminal() {
			terminal = append(terminal, e)
		}
	}
	sort.Slice(terminal, func(i, j int) bool { return terminal[i].ModifyIndex > terminal[j].ModifyIndex })
	perJob := map[JobKey]int{}
	for i, e := range terminal {
		k := JobKey{e.Namespace, e.JobID}
		perJob[k]++
		if i >= maxTerminalEvals || perJob[k] > maxTerminalEvalsPerJob {
			delete(s.evals, e.ID)
		}
	}
}

// LatestEvalID is the job's newest pending evaluation, else its newest one.
func (s *Store) LatestEvalID(key JobKey) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Evaluation
	rank := func(e *Evaluation) bool { return e.Status == EvalStatusPending }
	for _, e := range s.evals {
		if e.JobID != key.ID || e.Namespace != key.Namespace {
			continue
		}
		if best == nil || (rank(e) && !rank(best)) || (rank(e) == rank(best) && e.CreateIndex > best.CreateIndex) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	return best.ID
}

// Eval returns a copy of an evaluation and the index to report.
func (s *Store) Eval(id string) (*Evaluation, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.evals[id]
	if e == nil {
		return nil, atLeastOne(s.tables[tableEvals]), ErrEvalNotFound
	}
	c := *e
	return &c, e.ModifyIndex, nil
}

// EvalFilter selects evaluations for a list.
type EvalFilter struct {
	Namespace string // "*": all
	Prefix    string // of the ID
	JobID     string
	Status    string
}

// Evals lists evaluations, newest first, with the evals table's index.
func (s *Store) Evals(f EvalFilter) ([]*Evaluation, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*Evaluation{}
	for _, e := range s.evals {
		if (f.Namespace != "*" && e.Namespace != f.Namespace) || !strings.HasPrefix(e.ID, f.Prefix) ||
			(f.JobID != "" && e.JobID != f.JobID) || (f.Status != "" && e.Status != f.Status) {
			continue
		}
		c := *e
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateIndex != out[j].CreateIndex {
			return out[i].CreateIndex > out[j].CreateIndex
		}
		return out[i].ID < out[j].ID
	})
	return out, atLeastOne(s.tables[tableEvals])
}
