package agent

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (a *Agent) jobsRequest(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	switch r.Method {
	case http.MethodGet:
		ns := namespaceOf(r)
		prefix := r.URL.Query().Get("prefix")
		meta, err := queryBool(r, "meta")
		if err != nil {
			return nil, err
		}
		// Nomad's order (namespace, ID); a filter sees the whole job;
		// ?meta=true adds each job's Meta.
		return pagedQuery(a, w, r, func() ([]*JobListStub, uint64) {
			list, idx := a.store.Jobs(ns, prefix)
			for _, s := range list {
				if j, _ := a.store.Job(JobKey{s.Namespace, s.ID}); j != nil && meta {
					s.Meta = j.Meta
				}
			}
			return list, idx
		},
			namespaceIDToken(func(j *JobListStub) string { return j.Namespace }, func(j *JobListStub) string { return j.ID }),
			func(s *JobListStub) any {
				if j, _ := a.store.Job(JobKey{s.Namespace, s.ID}); j != nil {
					return j
				}
				return s
			})
	case http.MethodPut, http.MethodPost:
		return a.register(w, r, "")
	}
	return nil, errMethod
}

func (a *Agent) jobSpecific(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id, suffix, err := jobPath(r)
	if err != nil {
		return nil, err
	}
	key := JobKey{namespaceOf(r), id}
	if tag, ok := strings.CutPrefix(suffix, "versions/"); ok {
		return a.jobVersionTag(w, r, key, strings.TrimSuffix(tag, "/tag"))
	}
	if suffix == "submission" {
		if r.Method != http.MethodGet {
			return nil, errMethod
		}
		return a.jobSubmission(w, r, key)
	}
	switch suffix {
	case "actions":
		return a.jobActions(w, r, key)
	case "action":
		return a.jobRunAction(w, r, key)
	}
	switch {
	case suffix == "plan" || suffix == "revert" || suffix == "stable" || suffix == "evaluate" || suffix == "dispatch" ||
		suffix == "dispatch/payload" || suffix == "periodic/force" || (suffix == "scale" && r.Method != http.MethodGet):
		return a.jobWrite(w, r, key, suffix)
	}
	if suffix != "" && r.Method != http.MethodGet {
		return nil, errMethod
	}
	switch suffix {
	case "allocations":
		withResources, err := queryBool(r, "resources")
		if err != nil {
			return nil, err
		}
		all, _ := strconv.ParseBool(r.URL.Query().Get("all")) // as Nomad, a malformed value is false
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			list, idx, err := a.store.JobAllocs(key)
			if err == nil && !all {
				j, _ := a.store.Job(key)
				list = jobInstanceAllocs(list, a.store.allocJobCreateIndexes(key), j)
			}
			if !withResources {
				for _, s := range list {
					s.AllocatedResources = nil
				}
			}
			return list, idx, err
		})
	case "scale":
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) { return a.jobScaleStatus(key) })
	case "services":
		// No services are registered by this host (none are run).
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			if j, idx := a.store.Job(key); j == nil {
				return nil, idx, ErrJobNotFound
			}
			return []interface{}{}, a.store.TableIndex(tableJobs), nil
		})
	case "summary":
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) { return a.store.Summary(key) })
	case "versions":
		diffs, err := queryBool(r, "diffs")
		if err != nil {
			return nil, errors.New(err.Error()) // a 500 in Nomad
		}
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			vs, idx, err := a.store.Versions(key)
			if errors.Is(err, ErrJobNotFound) {
				return nil, idx, coded(http.StatusNotFound, "job versions not found")
			}
			out := &JobVersionsResponse{Versions: vs, QueryMeta: QueryMeta{Index: idx, KnownLeader: true}}
			if err == nil && diffs {
				out.Diffs, err = versionDiffs(vs, r.URL.Query().Get("diff_tag"), r.URL.Query().Get("diff_version"))
			}
			return out, idx, err
		})
	case "evaluations":
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			if j, idx := a.store.Job(key); j == nil {
				return nil, idx, ErrJobNotFound
			}
			list, idx := a.store.Evals(EvalFilter{Namespace: key.Namespace, JobID: key.ID})
			return list, idx, nil
		})
	case "deployments", "deployment":
		all, _ := strconv.ParseBool(r.URL.Query().Get("all")) // as Nomad, a malformed value is false
		latest := suffix == "deployment"
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			if j, idx := a.store.Job(key); j == nil {
				return nil, idx, ErrJobNotFound
			}
			list, idx := a.store.Deployments(key.Namespace, "", key.ID, all)
			if !latest {
				return list, idx, nil
			}
			if len(list) == 0 {
				return nil, idx, nil
			}
			return list[0], idx, nil
		})
	}
	switch r.Method {
	case http.MethodGet:
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			j, idx := a.store.Job(key)
			if j == nil {
				return nil, idx, ErrJobNotFound
			}
			return j, idx, nil
		})
	case http.MethodPut, http.MethodPost:
		return a.register(w, r, id)
	case http.MethodDelete:
		return a.deregister(w, r, key)
	}
	return nil, errMethod
}

// jobPath splits /v1/job/<id>[/<action>] on the escaped path: a child
// job's ID holds a "/" ("batch/dispatch-1700000000-0a1b2c3d"), which
// clients send as %2F.
func jobPath(r *http.Request) (string, string, error) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/v1/job/")
	rawID, suffix, _ := strings.Cut(rest, "/")
	id, err := url.PathUnescape(rawID)
	if err != nil || id == "" {
		return "", "", coded(http.StatusNotFound, "Invalid URL path")
	}
	switch suffix {
	case "", "allocations", "summary", "versions", "evaluations", "deployments", "deployment",
		"plan", "revert", "stable", "evaluate", "dispatch", "dispatch/payload", "periodic/force", "scale", "services",
		"submission", "actions", "action":
		return id, suffix, nil
	}
	// versions/<tag name>/tag
	if name, ok := strings.CutPrefix(suffix, "versions/"); ok && strings.HasSuffix(name, "/tag") {
		if tag, err := url.PathUnescape(strings.TrimSuffix(name, "/tag")); err == nil && tag != "" && !strings.Contains(tag, "/") {
			return id, "versions/" + tag + "/tag", nil
		}
	}
	return "", "", coded(http.StatusNotFound, "Invalid URL path")
}

// register is POST /v1/jobs and POST /v1/job/:id.
func (a *Agent) register(w http.ResponseWriter, r *http.Request, urlID string) (interface{}, error) {
	var req JobRegisterRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	job := req.Job
	if job == nil {
		return nil, coded(http.StatusBadRequest, "Job must be specified")
	}
	if job.ID == "" {
		return nil, coded(http.StatusBadRequest, "Job ID hasn't been provided")
	}
	if urlID != "" && job.ID != urlID {
		return nil, coded(http.StatusBadRequest, "Job ID does not match name")
	}
	if job.Namespace == "" {
		job.Namespace = namespaceOf(r)
	}
	warnings, err := a.prepareJob(job)
	if err != nil {
		return nil, err
	}
	key := JobKey{job.Namespace, job.ID}
	if req.PreserveCounts {
		if old, _ := a.store.Job(key); old != nil {
			for _, g := range job.TaskGroups {
				if og := groupOf(old, g.Name); og != nil {
					g.Count = og.Count
				}
			}
		}
	}
	res, err := a.store.UpsertJob(job, req.EnforceIndex, req.JobModifyIndex)
	if err != nil {
		return nil, err
	}
	if req.Submission != nil {
		a.store.SetSubmission(key, res.Job.Version, req.Submission)
	}
	a.sched.Enqueue(key)
	setIndex(w, res.Index)
	return &JobRegisterResponse{EvalID: res.EvalID, EvalCreateIndex: res.Index, JobModifyIndex: res.Job.JobModifyIndex,
		Warnings: strings.Join(warnings, "\n"), QueryMeta: QueryMeta{Index: res.Index, KnownLeader: true}}, nil
}

// prepareJob canonicalizes and validates a job against this node.
func (a *Agent) prepareJob(job *Job) ([]string, error) {
	job.Canonicalize(a.cfg.Region)
	return job.Validate(ValidateOptions{Driver: a.DriverName(), TaskConfig: a.checkTaskConfig})
}

func (a *Agent) deregister(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	purge, err := queryBool(r, "purge")
	if err != nil {
		return nil, err
	}
	_, eval, idx, err := a.store.StopJob(key, purge)
	if err != nil {
		return nil, err
	}
	a.sched.Enqueue(key)
	setIndex(w, idx)
	return &JobDeregisterResponse{EvalID: eval.ID, EvalCreateIndex: idx, JobModifyIndex: idx,
		QueryMeta: QueryMeta{Index: idx, KnownLeader: true}}, nil
}

// jobsParse is POST /v1/jobs/parse: HCL job text to the API's JSON job.
func (a *Agent) jobsParse(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		return nil, errMethod
	}
	var req JobParseRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.JobHCL == "" {
		return nil, coded(http.StatusBadRequest, "Job spec is empty")
	}
	job, err := ParseJobHCL([]byte(req.JobHCL), "input.hcl")
	if err != nil {
		return nil, coded(http.StatusBadRequest, "%v", err)
	}
	if req.Canonicalize {
		job.Canonicalize(a.cfg.Region)
	}
	return job, nil
}

// validateJob is POST /v1/validate/job.
func (a *Agent) validateJob(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		return nil, errMethod
	}
	var req JobRegisterRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Job == nil {
		return nil, coded(http.StatusBadRequest, "Job must be specified")
	}
	warnings, err := a.prepareJob(req.Job)
	out := &JobValidateResponse{DriverConfigValidated: true, Warnings: strings.Join(warnings, "\n")}
	if ve, ok := err.(*ValidationError); ok {
		out.ValidationErrors = ve.Problems
		out.Error = ve.Error()
	} else if err != nil {
		out.Error = err.Error()
	}
	return out, nil
}

// allocsList is GET /v1/allocations (?prefix=, ?resources=true,
// ?task_states=false, and Nomad's paging), oldest first as in Nomad; a
// filter sees the list stub.
func (a *Agent) allocsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	prefix := r.URL.Query().Get("prefix")
	ns := namespaceOf(r)
	withResources, err := queryBool(r, "resources")
	if err != nil {
		return nil, err
	}
	taskStates := true
	if s := r.URL.Query().Get("task_states"); s != "" {
		if taskStates, err = strconv.ParseBool(s); err != nil {
			return nil, coded(http.StatusBadRequest, "Failed to parse value of \"task_states\" (%v) as a bool", s)
		}
	}
	order, tok := listOrder(prefix, func(s *AllocListStub) uint64 { return s.CreateIndex }, func(s *AllocListStub) string { return s.ID })
	return pagedQuery(a, w, r, func() ([]*AllocListStub, uint64) {
		list, idx := a.store.Allocs(func(al *Allocation) bool {
			return strings.HasPrefix(al.ID, prefix) && (ns == "*" || al.Namespace == ns)
		})
		for _, s := range list {
			if !withResources {
				s.AllocatedResources = nil
			}
			if !taskStates {
				s.TaskStates = nil
			}
		}
		order(list)
		return list, idx
	}, tok, func(s *AllocListStub) any { return s })
}

// allocSpecific is GET /v1/allocation/:id (a unique ID prefix works too).
func (a *Agent) allocSpecific(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	id := strings.TrimPrefix(r.URL.Path, "/v1/allocation/")
	if id == "" || strings.Contains(id, "/") {
		return nil, coded(http.StatusNotFound, "Invalid URL path")
	}
	return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
		full, err := a.resolveAllocID(id)
		if err != nil {
			return nil, a.store.TableIndex(tableAllocs), err
		}
		al, idx := a.store.Alloc(full)
		if al == nil {
			return nil, idx, ErrAllocNotFound
		}
		return al, idx, nil
	})
}

// resolveAllocID accepts a full ID or a unique prefix (as the CLI does).
func (a *Agent) resolveAllocID(id string) (string, error) {
	if al, _ := a.store.Alloc(id); al != nil {
		return id, nil
	}
	list, _ := a.store.Allocs(func(al *Allocation) bool { return strings.HasPrefix(al.ID, id) })
	switch len(list) {
	case 1:
		return list[0].ID, nil
	case 0:
		return "", ErrAllocNotFound
	}
	return "", coded(http.StatusBadRequest, "allocation ID prefix %q matches %d allocations", id, len(list))
}
