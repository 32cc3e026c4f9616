package agent

import (
	"net/http"
	"time"
)

// jobDispatch is POST /v1/job/:id/dispatch.
func (a *Agent) jobDispatch(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	var req JobDispatchRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if err := checkBodyJobID(req.JobID, key); err != nil {
		return nil, err
	}
	out, err := a.store.DispatchJob(key, &req)
	if err != nil {
		return nil, err
	}
	if out.EvalID != "" {
		a.sched.Enqueue(JobKey{key.Namespace, out.DispatchedJobID})
	}
	setIndex(w, out.Index)
	return out, nil
}

// jobPeriodicForce is POST /v1/job/:id/periodic/force.
func (a *Agent) jobPeriodicForce(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	child, ev, err := a.store.LaunchPeriodic(key, time.Now())
	if err != nil {
		return nil, err
	}
	a.sched.Enqueue(JobKey{child.Namespace, child.ID})
	a.periodic.Kick()
	setIndex(w, ev.CreateIndex)
	return &PeriodicForceResponse{EvalID: ev.ID, EvalCreateIndex: ev.CreateIndex, Index: ev.CreateIndex}, nil
}

// nextPeriodicLaunch is when a periodic job launches next (zero if it is
// not an active periodic job), for plan's NextPeriodicLaunch.
func (a *Agent) nextPeriodicLaunch(j *Job) time.Time {
	if !j.IsPeriodicActive() {
		return time.Time{}
	}
	t, err := j.Periodic.next(time.Now())
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
