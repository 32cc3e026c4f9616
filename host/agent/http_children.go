package agent

import (
	"io"
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
	return a.dispatch(w, key, &req)
}

// jobDispatchPayload is POST /v1/job/:id/dispatch/payload: the body, as it
// is, is the payload of a dispatch without meta.
func (a *Agent) jobDispatchPayload(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	payload, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 16<<20))
	if err != nil {
		return nil, coded(http.StatusBadRequest, "%v", err)
	}
	return a.dispatch(w, key, &JobDispatchRequest{Payload: payload})
}

// dispatch creates a dispatched child and queues its evaluation.
func (a *Agent) dispatch(w http.ResponseWriter, key JobKey, req *JobDispatchRequest) (interface{}, error) {
	out, err := a.store.DispatchJob(key, req)
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
