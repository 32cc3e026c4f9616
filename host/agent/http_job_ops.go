package agent

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// JobPlanRequest is POST /v1/job/:id/plan.
type JobPlanRequest struct {
	Job            *Job
	Diff           bool
	PolicyOverride bool
}

// JobPlanResponse is Nomad's dry-run answer.
type JobPlanResponse struct {
	JobModifyIndex     uint64
	CreatedEvals       []*Evaluation
	Diff               *JobDiff
	Annotations        *PlanAnnotations
	FailedTGAllocs     map[string]*AllocMetric
	NextPeriodicLaunch time.Time
	Warnings           string
	Index              uint64
}

// PlanAnnotations says what the scheduler would do, per group.
type PlanAnnotations struct {
	DesiredTGUpdates map[string]*DesiredUpdates
	PreemptedAllocs  []*AllocListStub
}

// DesiredUpdates counts a group's planned changes.
type DesiredUpdates struct {
	Ignore            uint64
	Place             uint64
	Migrate           uint64
	Stop              uint64
	InPlaceUpdate     uint64
	DestructiveUpdate uint64
	Canary            uint64
	Preemptions       uint64
}

// JobRevertRequest is POST /v1/job/:id/revert.
type JobRevertRequest struct {
	JobID               string
	JobVersion          uint64
	EnforcePriorVersion *uint64
}

// JobStabilityRequest is POST /v1/job/:id/stable.
type JobStabilityRequest struct {
	JobID      string
	JobVersion uint64
	Stable     bool
}

// JobStabilityResponse is its answer (JobModifyIndex is the write's index,
// as Nomad answers).
type JobStabilityResponse struct {
	JobModifyIndex uint64
	Index          uint64
}

// JobEvaluateRequest is POST /v1/job/:id/evaluate (the body is optional).
type JobEvaluateRequest struct {
	JobID       string
	EvalOptions struct{ ForceReschedule bool }
}

// jobWrite routes the POST/PUT actions on /v1/job/:id/<action>.
func (a *Agent) jobWrite(w http.ResponseWriter, r *http.Request, key JobKey, action string) (interface{}, error) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		return nil, errMethod
	}
	switch action {
	case "plan":
		return a.jobPlan(w, r, key)
	case "revert":
		return a.jobRevert(w, r, key)
	case "stable":
		return a.jobStable(w, r, key)
	case "evaluate":
		return a.jobEvaluate(w, r, key)
	case "dispatch":
		return a.jobDispatch(w, r, key)
	case "dispatch/payload":
		return a.jobDispatchPayload(w, r, key)
	case "periodic/force":
		return a.jobPeriodicForce(w, r, key)
	case "scale":
		return a.jobScale(w, r, key)
	}
	return nil, coded(http.StatusNotFound, "Invalid URL path")
}

// checkBodyJobID refuses a body naming another job than the URL.
func checkBodyJobID(bodyID string, key JobKey) error {
	if bodyID != "" && bodyID != key.ID {
		return coded(http.StatusBadRequest, "Job ID does not match")
	}
	return nil
}

// requireBodyJobID is revert's and stable's check: the body must name the
// URL's job.
func requireBodyJobID(bodyID string, key JobKey) error {
	if bodyID == "" {
		return coded(http.StatusBadRequest, "JobID must be specified")
	}
	return checkBodyJobID(bodyID, key)
}

func (a *Agent) jobPlan(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	var req JobPlanRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	job := req.Job
	if job == nil {
		return nil, coded(http.StatusBadRequest, "Job must be specified")
	}
	if job.ID == "" {
		return nil, coded(http.StatusBadRequest, "Job must have a valid ID")
	}
	if job.ID != key.ID {
		return nil, coded(http.StatusBadRequest, "Job ID does not match")
	}
	if job.Namespace == "" {
		job.Namespace = key.Namespace
	}
	key.Namespace = job.Namespace
	warnings, err := a.prepareJob(job)
	if err != nil {
		return nil, err
	}
	cur, idx := a.store.Job(key)
	out := &JobPlanResponse{Annotations: &PlanAnnotations{DesiredTGUpdates: map[string]*DesiredUpdates{}},
		FailedTGAllocs: map[string]*AllocMetric{}, CreatedEvals: []*Evaluation{},
		Warnings: strings.Join(warnings, "\n"), Index: idx}
	if cur != nil {
		out.JobModifyIndex = cur.JobModifyIndex
	}
	out.NextPeriodicLaunch = a.nextPeriodicLaunch(job)
	if !job.isTemplate() {
		a.planGroups(job, cur, out)
	}
	if req.Diff {
		d, err := diffJobs(cur, job)
		if err != nil {
			return nil, err
		}
		for _, g := range d.TaskGroups {
			g.Updates = updatesMap(out.Annotations.DesiredTGUpdates[g.Name])
		}
		annotateDiff(d)
		out.Diff = d
	}
	if len(out.FailedTGAllocs) == 0 {
		out.FailedTGAllocs = nil
	}
	setIndex(w, idx)
	return out, nil
}

// planGroups fills in what the scheduler would do with the job's groups
// now, without doing it: keep, update in place or replace the running
// allocations, stop the surplus, place the missing (and which of those
// would not fit).
func (a *Agent) planGroups(job, cur *Job, out *JobPlanResponse) {
	byGroup := map[string][]*allocRecord{}
	for _, rec := range a.store.AllocRecords() {
		al := rec.Alloc
		if al.JobID == job.ID && al.Namespace == job.Namespace && al.DesiredStatus == AllocDesiredRun && al.NextAllocation == "" {
			byGroup[al.TaskGroup] = append(byGroup[al.TaskGroup], rec)
		}
	}
	used := a.usedPorts()
	for _, g := range job.TaskGroups {
		u := &DesiredUpdates{}
		out.Annotations.DesiredTGUpdates[g.Name] = u
		keep := byGroup[g.Name]
		sort.Slice(keep, func(i, j int) bool { return keep[i].GroupIndex < keep[j].GroupIndex })
		count := *g.Count
		if job.Type == JobTypeSystem || job.Type == JobTypeSysBatch {
			count = 1
		}
		have := map[int]bool{}
		for i, rec := range keep {
			al := rec.Alloc
			switch {
			case i >= count:
				u.Stop++
				continue
			case al.Job == nil || (cur != nil && cur.Stop):
				u.DestructiveUpdate++
			case !specChanged(al.Job, job):
				u.Ignore++
			case groupUpdate(al.Job, job, g.Name) != "":
				u.DestructiveUpdate++
			default:
				u.InPlaceUpdate++
			}
			have[rec.GroupIndex] = true
		}
		for idx := 0; idx < count; idx++ {
			if have[idx] {
				continue
			}
			u.Place++
			mapped, err := a.ports.assign(groupPorts(g), used)
			if err == nil && !a.driverUsable() {
				err = errMissingDriver
			}
			if err != nil {
				out.FailedTGAllocs[g.Name] = placementFailure(out.FailedTGAllocs[g.Name], job, err)
				continue
			}
			for _, m := range mapped {
				used[m.Value] = "planned"
			}
		}
	}
	for name, recs := range byGroup {
		if groupOf(job, name) == nil {
			out.Annotations.DesiredTGUpdates[name] = &DesiredUpdates{Stop: uint64(len(recs))}
		}
	}
}

// updatesMap is DesiredUpdates as a TaskGroupDiff's Updates.
func updatesMap(u *DesiredUpdates) map[string]uint64 {
	if u == nil {
		return nil
	}
	m := map[string]uint64{}
	for k, v := range map[string]uint64{"ignore": u.Ignore, "create": u.Place, "destroy": u.Stop, "migrate": u.Migrate,
		"in-place update": u.InPlaceUpdate, "create/destroy update": u.DestructiveUpdate, "canary": u.Canary} {
		if v > 0 {
			m[k] = v
		}
	}
	return m
}

func (a *Agent) jobRevert(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	var req JobRevertRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := requireBodyJobID(req.JobID, key); err != nil {
		return nil, err
	}
	target, cur, err := a.store.RevertTarget(key, req.JobVersion, req.EnforcePriorVersion)
	if err != nil {
		return nil, err
	}
	j := *target
	res, err := a.store.UpsertJob(&j, true, cur.JobModifyIndex)
	if err != nil {
		return nil, err
	}
	a.sched.Enqueue(key)
	setIndex(w, res.Index)
	return &JobRegisterResponse{EvalID: res.EvalID, EvalCreateIndex: res.Index, JobModifyIndex: res.Job.JobModifyIndex,
		QueryMeta: QueryMeta{Index: res.Index, KnownLeader: true}}, nil
}

func (a *Agent) jobStable(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	var req JobStabilityRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := requireBodyJobID(req.JobID, key); err != nil {
		return nil, err
	}
	idx, err := a.store.SetStable(key, req.JobVersion, req.Stable)
	if err != nil {
		return nil, err
	}
	setIndex(w, idx)
	return &JobStabilityResponse{JobModifyIndex: idx, Index: idx}, nil
}

func (a *Agent) jobEvaluate(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	var req JobEvaluateRequest
	if r.Body != nil {
		raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
		if err != nil {
			return nil, coded(http.StatusBadRequest, "Failed to read the request body: %v", err)
		}
		// As Nomad: no body evaluates the URL's job; a body must name it.
		if strings.TrimSpace(string(raw)) != "" {
			if err := decodeJSON(raw, &req); err != nil {
				return nil, err
			}
			if req.JobID == "" {
				return nil, coded(http.StatusBadRequest, "Job ID must be specified")
			}
			if req.JobID != key.ID {
				return nil, coded(http.StatusBadRequest, "JobID not same as job name")
			}
		}
	}
	j, _ := a.store.Job(key)
	switch {
	case j == nil:
		return nil, ErrJobNotFound
	case j.IsPeriodic():
		return nil, coded(http.StatusBadRequest, "can't evaluate periodic job")
	case j.IsParameterized():
		return nil, coded(http.StatusBadRequest, "can't evaluate parameterized job")
	}
	if req.EvalOptions.ForceReschedule {
		a.store.ForceReschedule(key)
	}
	ev, idx, err := a.store.CreateEval(key, EvalTriggerJobRegister)
	if err != nil {
		return nil, err
	}
	a.sched.Enqueue(key)
	setIndex(w, idx)
	return &JobRegisterResponse{EvalID: ev.ID, EvalCreateIndex: ev.CreateIndex, JobModifyIndex: j.JobModifyIndex,
		QueryMeta: QueryMeta{Index: idx, KnownLeader: true}}, nil
}
