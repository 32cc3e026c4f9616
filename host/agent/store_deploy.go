package agent

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"nomad_iis/host/pluginhost"
)

// tableDeployments is the deployments table's name for blocking queries.
const tableDeployments = "deployment"

// maxDeploymentsPerJob terminal deployments are kept per job.
const maxDeploymentsPerJob = 10

// ErrDeploymentNotFound is an unknown deployment.
var ErrDeploymentNotFound = errors.New("deployment not found")

// rollingGroups reports whether any of a service job's groups makes
// deployments.
func rollingGroups(j *Job) bool {
	if j.Type != JobTypeService {
		return false
	}
	for _, g := range j.TaskGroups {
		if g.Update.rolling() {
			return true
		}
	}
	return false
}

// DeploymentFor returns (a copy of) the deployment of the job's current
// version; with create, a job whose groups roll gets one when it has none,
// and the job's older active deployments are cancelled. The groups in
// canary (those with a destructive update) start with their canaries.
func (s *Store) DeploymentFor(job *Job, create bool, canary map[string]bool) *Deployment {
	var out *Deployment
	s.write(func(index uint64) []string {
		for _, d := range s.deployments {
			if d.Namespace == job.Namespace && d.JobID == job.ID && d.JobVersion == job.Version &&
				d.JobCreateIndex == job.CreateIndex {
				out = d
				return nil
			}
		}
		if !create || !rollingGroups(job) {
			return nil
		}
		now := time.Now()
		for id, d := range s.deployments {
			if d.Namespace == job.Namespace && d.JobID == job.ID && d.active() {
				c := *d
				c.Status, c.StatusDescription, c.ModifyIndex, c.ModifyTime = DeploymentStatusCancelled, descNewerJob, index, now.UnixNano()
				s.deployments[id] = &c
			}
		}
		d := &Deployment{ID: pluginhost.NewUUID(), Namespace: job.Namespace, JobID: job.ID, JobVersion: job.Version,
			JobModifyIndex: job.JobModifyIndex, JobSpecModifyIndex: job.JobModifyIndex, JobCreateIndex: job.CreateIndex,
			TaskGroups: map[string]*DeploymentState{}, Status: DeploymentStatusRunning,
			StatusDescription: descRunning + descTaskStates, EvalPriority: job.Priority,
			CreateIndex: index, ModifyIndex: index, CreateTime: now.UnixNano(), ModifyTime: now.UnixNano()}
		for _, g := range job.TaskGroups {
			if !g.Update.rolling() {
				continue
			}
			u := g.Update
			st := &DeploymentState{AutoRevert: *u.AutoRevert, AutoPromote: *u.AutoPromote,
				ProgressDeadline: *u.ProgressDeadline, RequireProgressBy: now.Add(*u.ProgressDeadline).UTC(),
				DesiredTotal: *g.Count, PlacedCanaries: []string{}}
			if canary[g.Name] && *u.Canary > 0 {
				st.DesiredCanaries = *u.Canary
				d.StatusDescription = descNeedsPromotion + descTaskStates
				if st.AutoPromote {
					d.StatusDescription = descAutoPromotion + descTaskStates
				}
			}
			d.TaskGroups[g.Name] = st
		}
		s.deployments[d.ID] = d
		s.gcDeploymentsLocked(JobKey{job.Namespace, job.ID})
		out = d
		return []string{tableDeployments}
	})
	return copyDeployment(out)
}

// gcDeploymentsLocked keeps a job's newest terminal deployments.
func (s *Store) gcDeploymentsLocked(key JobKey) {
	var terminal []*Deployment
	for _, d := range s.deployments {
		if d.Namespace == key.Namespace && d.JobID == key.ID && !d.active() {
			terminal = append(terminal, d)
		}
	}
	sort.Slice(terminal, func(i, j int) bool { return terminal[i].CreateIndex > terminal[j].CreateIndex })
	for i, d := range terminal {
		if i >= maxDeploymentsPerJob {
			delete(s.deployments, d.ID)
		}
	}
}

func copyDeployment(d *Deployment) *Deployment {
	if d == nil {
		return nil
	}
	c := *d
	c.TaskGroups = map[string]*DeploymentState{}
	for k, v := range d.TaskGroups {
		st := *v
		st.PlacedCanaries = append([]string{}, v.PlacedCanaries...)
		c.TaskGroups[k] = &st
	}
	return &c
}

// CancelDeployments ends a job's active deployments (the job stopped).
func (s *Store) CancelDeployments(key JobKey, desc string) {
	s.write(func(index uint64) []string {
		var tables []string
		for id, d := range s.deployments {
			if d.Namespace == key.Namespace && d.JobID == key.ID && d.active() {
				c := copyDeployment(d)
				c.Status, c.StatusDescription, c.ModifyIndex, c.ModifyTime = DeploymentStatusCancelled, desc, index, time.Now().UnixNano()
				s.deployments[id] = c
				tables = []string{tableDeployments}
			}
		}
		return tables
	})
}

// SetDeploymentStatus changes a deployment's status; a successful one
// marks its job version stable. Refused for a terminal deployment.
func (s *Store) SetDeploymentStatus(id, status, desc string) (*Deployment, uint64, error) {
	var out *Deployment
	var err error
	idx := s.write(func(index uint64) []string {
		var tables []string
		out, tables, err = s.setDeploymentStatusLocked(index, id, status, desc)
		return tables
	})
	return out, idx, err
}

// FailDeployment marks a deployment failed and, given a job version to go
// back to (auto_revert), registers that version again in the same write,
// as Nomad's deployment watcher does.
func (s *Store) FailDeployment(id, desc string, revert *Job) (*RegisterResult, error) {
	var res *RegisterResult
	var err error
	s.write(func(index uint64) []string {
		var tables []string
		if _, tables, err = s.setDeploymentStatusLocked(index, id, DeploymentStatusFailed, desc); err != nil || revert == nil {
			return tables
		}
		j := *revert
		r, rerr := s.upsertJobLocked(index, &j, false, 0)
		if rerr != nil {
			err = rerr
			return tables
		}
		res = &r
		return append(tables, tableJobs, tableSummary, tableEvals)
	})
	return res, err
}

func (s *Store) setDeploymentStatusLocked(index uint64, id, status, desc string) (*Deployment, []string, error) {
	d := s.deployments[id]
	if d == nil {
		return nil, nil, ErrDeploymentNotFound
	}
	if !d.active() {
		return nil, nil, coded(http.StatusBadRequest, "can't update terminal deployment (status %s)", d.Status)
	}
	c := copyDeployment(d)
	c.Status, c.StatusDescription, c.ModifyIndex, c.ModifyTime = status, desc, index, time.Now().UnixNano()
	s.deployments[id] = c
	out := copyDeployment(c)
	tables := []string{tableDeployments}
	if status == DeploymentStatusSuccessful {
		key := JobKey{d.Namespace, d.JobID}
		if j := s.jobs[key]; j != nil && j.Version == d.JobVersion && !j.Stable {
			stable := *j
			stable.Stable, stable.ModifyIndex = true, index
			s.jobs[key] = &stable
			if vs := s.versions[key]; len(vs) > 0 && vs[0].Version == stable.Version {
				vs[0] = &stable
			}
			tables = append(tables, tableJobs)
		}
	}
	return out, tables, nil
}

// SetAllocHealth records an allocation's health in its deployment and
// recounts the deployment's group.
func (s *Store) SetAllocHealth(allocID string, healthy bool) error {
	var err error
	s.write(func(index uint64) []string {
		r := s.allocs[allocID]
		if r == nil {
			err = ErrAllocNotFound
			return nil
		}
		a := r.Alloc
		canary := a.DeploymentStatus != nil && a.DeploymentStatus.Canary
		a.DeploymentStatus = &AllocDeploymentStatus{Healthy: &healthy, Timestamp: time.Now().UTC(), Canary: canary,
			ModifyIndex: index}
		a.ModifyIndex, a.ModifyTime = index, time.Now().UnixNano()
		if d := s.deployments[a.DeploymentID]; d != nil {
			c := copyDeployment(d)
			s.recountLocked(c)
			if st := c.TaskGroups[a.TaskGroup]; st != nil && healthy {
				// Progress: the deadline moves on with each healthy allocation.
				st.RequireProgressBy = time.Now().Add(st.ProgressDeadline).UTC()
			}
			c.ModifyIndex, c.ModifyTime = index, time.Now().UnixNano()
			s.deployments[c.ID] = c
		}
		return []string{tableAllocs, tableDeployments}
	})
	return err
}

// recountLocked recomputes a deployment's per-group counts from its
// allocations.
func (s *Store) recountLocked(d *Deployment) {
	for _, st := range d.TaskGroups {
		st.PlacedAllocs, st.HealthyAllocs, st.UnhealthyAllocs = 0, 0, 0
		st.PlacedCanaries = []string{}
	}
	for _, r := range s.allocs {
		a := r.Alloc
		st := d.TaskGroups[a.TaskGroup]
		if a.DeploymentID != d.ID || st == nil {
			continue
		}
		st.PlacedAllocs++
		if ds := a.DeploymentStatus; ds != nil && ds.Canary {
			st.PlacedCanaries = append(st.PlacedCanaries, a.ID)
		}
		if ds := a.DeploymentStatus; ds != nil && ds.Healthy != nil {
			if *ds.Healthy {
				st.HealthyAllocs++
			} else {
				st.UnhealthyAllocs++
			}
		}
	}
}

// CanaryHealth counts a deployment group's healthy canaries and placed ones.
func (s *Store) CanaryHealth(d *Deployment, group string) (healthy, placed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.allocs {
		a := r.Alloc
		if a.DeploymentID != d.ID || a.TaskGroup != group || a.DeploymentStatus == nil || !a.DeploymentStatus.Canary ||
			a.DesiredStatus != AllocDesiredRun {
			continue
		}
		placed++
		if a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy {
			healthy++
		}
	}
	return healthy, placed
}

// PromoteDeployment promotes the canaries of some groups (all: every group
// with canaries), as Nomad's: each must have all its canaries healthy.
func (s *Store) PromoteDeployment(id string, groups []string, all bool) error {
	var err error
	s.write(func(index uint64) []string {
		d := s.deployments[id]
		switch {
		case d == nil:
			err = ErrDeploymentNotFound
		case !d.active():
			err = coded(http.StatusBadRequest, "can't promote terminal deployment")
		}
		if err != nil {
			return nil
		}
		want := map[string]bool{}
		for _, g := range groups {
			want[g] = true
		}
		c := copyDeployment(d)
		s.recountLocked(c)
		promoted := 0
		for name, st := range c.TaskGroups {
			if st.DesiredCanaries == 0 || st.Promoted || (!all && !want[name]) {
				continue
			}
			healthy := 0
			for _, allocID := range st.PlacedCanaries {
				if r := s.allocs[allocID]; r != nil && r.Alloc.DeploymentStatus != nil &&
					r.Alloc.DeploymentStatus.Healthy != nil && *r.Alloc.DeploymentStatus.Healthy {
					healthy++
				}
			}
			if healthy < st.DesiredCanaries {
				err = coded(http.StatusBadRequest, "Task group %q has %d/%d healthy allocations", name, healthy, st.DesiredCanaries)
				return nil
			}
			st.Promoted = true
			promoted++
		}
		if promoted == 0 {
			err = coded(http.StatusBadRequest, "no canaries to promote")
			return nil
		}
		if c.Status == DeploymentStatusRunning {
			c.StatusDescription = descRunning + descTaskStates
			for _, st := range c.TaskGroups {
				if st.DesiredCanaries > 0 && !st.Promoted {
					c.StatusDescription = descNeedsPromotion + descTaskStates
				}
			}
		}
		c.ModifyIndex, c.ModifyTime = index, time.Now().UnixNano()
		s.deployments[id] = c
		return []string{tableDeployments}
	})
	return err
}

// RecountDeployment refreshes a deployment's counts (after a placement).
func (s *Store) RecountDeployment(id string) {
	s.write(func(index uint64) []string {
		d := s.deployments[id]
		if d == nil {
			return nil
		}
		c := copyDeployment(d)
		s.recountLocked(c)
		if jsonEqual(c.TaskGroups, d.TaskGroups) {
			return nil
		}
		c.ModifyIndex, c.ModifyTime = index, time.Now().UnixNano()
		s.deployments[id] = c
		return []string{tableDeployments}
	})
}

// Deployment returns a copy of one deployment and the index to report.
func (s *Store) Deployment(id string) (*Deployment, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[id]
	if d == nil {
		return nil, atLeastOne(s.tables[tableDeployments]), ErrDeploymentNotFound
	}
	return copyDeployment(d), d.ModifyIndex, nil
}

// Deployments lists deployments, newest first: of one job (jobID set; all
// false: only those of the job's current instance), or with an ID prefix.
func (s *Store) Deployments(namespace, prefix, jobID string, all bool) ([]*Deployment, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var job *Job
	if jobID != "" {
		job = s.jobs[JobKey{namespace, jobID}]
	}
	out := []*Deployment{}
	for _, d := range s.deployments {
		if (namespace != "*" && d.Namespace != namespace) || !strings.HasPrefix(d.ID, prefix) ||
			(jobID != "" && d.JobID != jobID) || (!all && job != nil && d.JobCreateIndex != job.CreateIndex) {
			continue
		}
		out = append(out, copyDeployment(d))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex > out[j].CreateIndex })
	return out, atLeastOne(s.tables[tableDeployments])
}

// ActiveDeployments lists the deployments still running or paused.
func (s *Store) ActiveDeployments() []*Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Deployment
	for _, d := range s.deployments {
		if d.active() {
			out = append(out, copyDeployment(d))
		}
	}
	return out
}
