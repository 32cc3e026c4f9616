package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
)

// JobStatusesRequest is the optional body of /v1/jobs/statuses.
type JobStatusesRequest struct {
	Jobs            []struct{ ID, Namespace string }
	IncludeChildren bool
}

// JobStatusesJob is one job in Nomad's /v1/jobs/statuses answer.
type JobStatusesJob struct {
	ID               string
	Namespace        string
	Name             string
	Type             string
	NodePool         string
	Datacenters      []string
	Priority         int
	Version          uint64
	SubmitTime       int64
	ModifyIndex      uint64
	Allocs           []JobStatusesAlloc
	GroupCountSum    int
	ChildStatuses    []string
	ParentID         string
	LatestDeployment *JobStatusesLatestDeployment
	Stop             bool
	IsPack           bool
	Status           string
}

// JobStatusesAlloc is an allocation in a JobStatusesJob.
type JobStatusesAlloc struct {
	ID               string
	Group            string
	ClientStatus     string
	NodeID           string
	DeploymentStatus struct {
		Canary  bool
		Healthy *bool
	}
	JobVersion     uint64
	FollowupEvalID string
	HasPausedTask  bool
}

// JobStatusesLatestDeployment is the latest deployment of a JobStatusesJob.
type JobStatusesLatestDeployment struct {
	ID                string
	IsActive          bool
	JobVersion        uint64
	Status            string
	StatusDescription string
	AllAutoPromote    bool
	RequiresPromotion bool
}

// jobsStatuses is GET or POST /v1/jobs/statuses (Nomad 1.9+, what the
// UI's job list reads): jobs newest-changed first with their allocations,
// latest deployment and children's statuses; ?include_children, an
// optional body naming the jobs, and Nomad's paging (by ModifyIndex).
// The index is the highest one among the jobs on the page, as in Nomad.
func (a *Agent) jobsStatuses(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, errMethod
	}
	ns := namespaceOf(r)
	children, err := queryBool(r, "include_children")
	if err != nil {
		return nil, err
	}
	var wanted map[JobKey]bool
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 16<<20))
	if err != nil {
		return nil, coded(http.StatusBadRequest, "error decoding request: %v", err)
	}
	if len(body) > 0 {
		var in JobStatusesRequest
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, coded(http.StatusBadRequest, "error decoding request: %v", err)
		}
		if len(in.Jobs) == 0 {
			return nil, coded(http.StatusBadRequest, "no jobs in request")
		}
		if ns == defaultNamespace {
			ns = "*"
		}
		wanted = map[JobKey]bool{}
		for _, j := range in.Jobs {
			if j.Namespace == "" {
				j.Namespace = defaultNamespace
			}
			wanted[JobKey{j.Namespace, j.ID}] = true
		}
		children = children || in.IncludeChildren
	}
	page, err := parsePageOptions(r)
	if err != nil {
		return nil, err
	}
	// Nomad lists newest changes first; ?reverse=true oldest first.
	page.reverse = !page.reverse
	var next string
	out, err := a.blockingQuery(w, r, func() (interface{}, uint64, error) {
		stubs, _ := a.store.Jobs(ns, "")
		var jobs []*Job
		for _, s := range stubs {
			key := JobKey{s.Namespace, s.ID}
			if (s.ParentID != "" && !children) || (wanted != nil && !wanted[key]) {
				continue
			}
			if j, _ := a.store.Job(key); j != nil {
				jobs = append(jobs, j)
			}
		}
		sort.SliceStable(jobs, func(i, k int) bool { return jobs[i].ModifyIndex < jobs[k].ModifyIndex })
		jobs, next, err = paginate(jobs, page, modifyIndexToken(func(j *Job) uint64 { return j.ModifyIndex }),
			func(j *Job) any { return j })
		list := []*JobStatusesJob{}
		var index uint64
		for _, j := range jobs {
			s, idx := a.jobStatus(j)
			list = append(list, s)
			index = max(index, idx)
		}
		return list, atLeastOne(index), err
	})
	setNextToken(w, next)
	return out, err
}

// jobStatus is a job's entry and the highest index among the job, its
// allocations, deployment and children.
func (a *Agent) jobStatus(j *Job) (*JobStatusesJob, uint64) {
	out := &JobStatusesJob{ID: j.ID, Namespace: j.Namespace, Name: j.Name, Type: j.Type, NodePool: j.NodePool,
		Datacenters: j.Datacenters, Priority: j.Priority, Version: j.Version, SubmitTime: j.SubmitTime,
		ModifyIndex: j.ModifyIndex, ParentID: j.ParentID, Stop: j.Stop, Status: j.Status}
	_, out.IsPack = j.Meta["pack.name"]
	for _, g := range j.TaskGroups {
		if g.Count != nil {
			out.GroupCountSum += *g.Count
		}
	}
	index := j.ModifyIndex
	if j.IsParameterized() || j.IsPeriodic() {
		out.ChildStatuses = []string{}
		kids, _ := a.store.Jobs(j.Namespace, j.ID)
		for _, c := range kids {
			if c.ParentID == j.ID {
				out.ChildStatuses = append(out.ChildStatuses, c.Status)
				index = max(index, c.ModifyIndex)
			}
		}
		return out, index
	}
	allocs, _, _ := a.store.JobAllocs(JobKey{j.Namespace, j.ID})
	for _, al := range allocs {
		s := JobStatusesAlloc{ID: al.ID, Group: al.TaskGroup, ClientStatus: al.ClientStatus, NodeID: al.NodeID,
			JobVersion: al.JobVersion, FollowupEvalID: al.FollowupEvalID}
		if ds := al.DeploymentStatus; ds != nil {
			s.DeploymentStatus.Canary, s.DeploymentStatus.Healthy = ds.Canary, ds.Healthy
		}
		out.Allocs = append(out.Allocs, s)
		index = max(index, al.ModifyIndex)
	}
	if deps, _ := a.store.Deployments(j.Namespace, "", j.ID, true); len(deps) > 0 {
		d := deps[0]
		out.LatestDeployment = &JobStatusesLatestDeployment{ID: d.ID, IsActive: d.active(), JobVersion: d.JobVersion,
			Status: d.Status, StatusDescription: d.StatusDescription,
			AllAutoPromote: d.allAutoPromote(), RequiresPromotion: d.requiresPromotion()}
		index = max(index, d.ModifyIndex)
	}
	return out, index
}
