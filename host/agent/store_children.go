package agent

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"nomad_iis/host/pluginhost"
)

// periodicLaunch is the last launch of a periodic job (persisted).
type periodicLaunch struct {
	Namespace string
	ID        string
	Launch    time.Time
}

// insertChildLocked stores a new child job (a dispatch or a periodic
// launch) with its evaluation, and raises the parent's summary index.
func (s *Store) insertChildLocked(index uint64, parent JobKey, child *Job, trigger string) *Evaluation {
	key := JobKey{child.Namespace, child.ID}
	child.CreateIndex, child.ModifyIndex, child.JobModifyIndex = index, index, index
	child.SubmitTime, child.Version, child.Stable = time.Now().UnixNano(), 0, false
	child.Status, child.StatusDescription = JobStatusPending, ""
	s.jobs[key] = child
	s.versions[key] = []*Job{child}
	s.summary[key] = &summaryMeta{CreateIndex: index, ModifyIndex: index, Queued: map[string]int{}}
	s.evalPending[key] = true
	if m := s.summary[parent]; m != nil {
		m.ModifyIndex = index
	}
	return s.newEvalLocked(index, key, child, trigger)
}

// DispatchJob creates a child of a parameterized job (Nomad's
// Job.Dispatch, with its checks and messages).
func (s *Store) DispatchJob(key JobKey, req *JobDispatchRequest) (*JobDispatchResponse, error) {
	var out *JobDispatchResponse
	var err error
	s.write(func(index uint64) []string {
		parent := s.jobs[key]
		switch {
		case parent == nil:
			err = coded(http.StatusNotFound, "parameterized job not found")
		case !parent.IsParameterized():
			err = coded(http.StatusBadRequest, "Specified job %q is not a parameterized job", key.ID)
		case parent.Stop:
			err = coded(http.StatusBadRequest, "Specified job %q is stopped", key.ID)
		}
		if err != nil {
			return nil
		}
		if verr := validateDispatch(req, parent); verr != nil {
			err = coded(http.StatusBadRequest, "%v", verr)
			return nil
		}
		if req.IdempotencyToken != "" {
			for _, j := range s.jobs {
				if j.ParentID == key.ID && j.Namespace == key.Namespace && j.DispatchIdempotencyToken == req.IdempotencyToken {
					out = &JobDispatchResponse{DispatchedJobID: j.ID, JobCreateIndex: j.CreateIndex, Index: j.ModifyIndex}
					return nil
				}
			}
		}
		child := *parent
		child.ID = dispatchedID(key.ID, req.IdPrefixTemplate, time.Now())
		child.Name, child.ParentID, child.Dispatched = child.ID, key.ID, true
		child.DispatchIdempotencyToken = req.IdempotencyToken
		child.Priority = parent.Priority
		if req.Priority != 0 {
			child.Priority = req.Priority
		}
		child.Meta = map[string]string{}
		for k, v := range parent.Meta {
			child.Meta[k] = v
		}
		for k, v := range req.Meta {
			child.Meta[k] = v
		}
		child.Payload = append([]byte(nil), req.Payload...)
		ev := s.insertChildLocked(index, key, &child, EvalTriggerJobRegister)
		out = &JobDispatchResponse{DispatchedJobID: child.ID, EvalID: ev.ID, EvalCreateIndex: index,
			JobCreateIndex: index, Index: index}
		return []string{tableJobs, tableSummary, tableEvals}
	})
	return out, err
}

// dispatchedID is Nomad's DispatchedID.
func dispatchedID(parent, prefix string, t time.Time) string {
	u := pluginhost.NewUUID()[:8]
	if prefix != "" {
		return fmt.Sprintf("%s%s%s-%d-%s", parent, dispatchLaunchSuffix, prefix, t.Unix(), u)
	}
	return fmt.Sprintf("%s%s%d-%s", parent, dispatchLaunchSuffix, t.Unix(), u)
}

// LaunchPeriodic creates the child of a periodic job for a launch time
// (`<parent>/periodic-<unix>`) and records the launch.
func (s *Store) LaunchPeriodic(key JobKey, launch time.Time) (*Job, *Evaluation, error) {
	var child *Job
	var ev *Evaluation
	var err error
	s.write(func(index uint64) []string {
		parent := s.jobs[key]
		switch {
		case parent == nil:
			err = ErrJobNotFound
		case !parent.IsPeriodic():
			err = coded(http.StatusBadRequest, "can't force launch non-periodic job")
		}
		if err != nil {
			return nil
		}
		s.launches[key] = launch
		id := fmt.Sprintf("%s%s%d", key.ID, periodicLaunchSuffix, launch.Unix())
		if existing := s.jobs[JobKey{key.Namespace, id}]; existing != nil {
			err = coded(http.StatusConflict, "periodic job %q was already launched at %v", key.ID, launch.UTC())
			return []string{tableJobs}
		}
		c := *parent
		c.ID, c.Name, c.ParentID, c.Periodic = id, id, key.ID, nil
		ev = s.insertChildLocked(index, key, &c, EvalTriggerPeriodicJob)
		child = &c
		return []string{tableJobs, tableSummary, tableEvals}
	})
	if ev != nil {
		e := *ev
		ev = &e
	}
	return child, ev, err
}

// LastLaunch is a periodic job's last launch (zero if none).
func (s *Store) LastLaunch(key JobKey) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.launches[key]
}

// RunningChildren reports whether a job has children not yet dead.
func (s *Store) RunningChildren(key JobKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.ParentID == key.ID && j.Namespace == key.Namespace && j.Status != JobStatusDead {
			return true
		}
	}
	return false
}

// childrenLocked counts a job's children by status (JobSummary.Children).
func (s *Store) childrenLocked(key JobKey) *JobChildrenSummary {
	c := &JobChildrenSummary{}
	for _, j := range s.jobs {
		if j.ParentID != key.ID || j.Namespace != key.Namespace {
			continue
		}
		switch j.Status {
		case JobStatusPending:
			c.Pending++
		case JobStatusRunning:
			c.Running++
		default:
			c.Dead++
		}
	}
	return c
}

// launchList renders the launches for the state file.
func (s *Store) launchList() []periodicLaunch {
	out := []periodicLaunch{}
	for k, t := range s.launches {
		out = append(out, periodicLaunch{Namespace: k.Namespace, ID: k.ID, Launch: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func sortedStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
