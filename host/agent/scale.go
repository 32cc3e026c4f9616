package agent

import (
	"net/http"
	"time"
)

// maxScalingEvents are kept per group (Nomad's JobScalingEventsLimit).
const maxScalingEvents = 20

// tableScaling is the scaling events' table for blocking queries.
const tableScaling = "scaling_event"

// ScalingRequest is POST /v1/job/:id/scale.
type ScalingRequest struct {
	Count          *int64
	Target         map[string]string
	Message        string
	Error          bool
	Meta           map[string]interface{}
	PolicyOverride bool
	JobModifyIndex uint64
}

// ScalingEvent is one scaling action on a group.
type ScalingEvent struct {
	Count         *int64
	PreviousCount int64
	Error         bool
	Message       string
	Meta          map[string]interface{}
	EvalID        *string
	Time          uint64
}

// JobScaleStatusResponse is GET /v1/job/:id/scale.
type JobScaleStatusResponse struct {
	JobID          string
	Namespace      string
	JobCreateIndex uint64
	JobModifyIndex uint64
	JobStopped     bool
	TaskGroups     map[string]TaskGroupScaleStatus
}

// TaskGroupScaleStatus is one group's scale status.
type TaskGroupScaleStatus struct {
	Desired   int
	Placed    int
	Running   int
	Healthy   int
	Unhealthy int
	Events    []*ScalingEvent
}

// jobScale is POST /v1/job/:id/scale: a new version with the group's count
// (and an evaluation), or, without a count, only a scaling event.
func (a *Agent) jobScale(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	var req ScalingRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if job := req.Target["Job"]; job != "" && job != key.ID {
		return nil, coded(http.StatusBadRequest, "job ID in payload did not match URL")
	}
	group := req.Target["Group"]
	if group == "" {
		return nil, coded(http.StatusBadRequest, "missing task group name for scaling action")
	}
	if req.Count != nil && *req.Count < 0 {
		return nil, coded(http.StatusBadRequest, "scaling action count can't be negative")
	}
	cur, _ := a.store.Job(key)
	switch {
	case cur == nil:
		return nil, ErrJobNotFound
	case cur.IsPeriodic():
		return nil, coded(http.StatusBadRequest, "cannot scale periodic job")
	case cur.IsParameterized():
		return nil, coded(http.StatusBadRequest, "cannot scale parameterized job")
	case groupOf(cur, group) == nil:
		return nil, coded(http.StatusBadRequest, "task group %q specified for scaling does not exist in job", group)
	}
	ev := &ScalingEvent{Count: req.Count, PreviousCount: int64(*groupOf(cur, group).Count), Error: req.Error,
		Message: req.Message, Meta: req.Meta, Time: uint64(time.Now().UnixNano())}
	out := &JobRegisterResponse{JobModifyIndex: cur.JobModifyIndex}
	if req.Count != nil {
		j := *cur
		j.TaskGroups = make([]*TaskGroup, len(cur.TaskGroups))
		for i, g := range cur.TaskGroups {
			c := *g
			if g.Name == group {
				n := int(*req.Count)
				c.Count = &n
			}
			j.TaskGroups[i] = &c
		}
		enforce, index := req.JobModifyIndex != 0, req.JobModifyIndex
		if !enforce {
			enforce, index = true, cur.JobModifyIndex
		}
		res, err := a.store.UpsertJob(&j, enforce, index)
		if err != nil {
			return nil, err
		}
		a.sched.Enqueue(key)
		ev.EvalID = &res.EvalID
		out.EvalID, out.EvalCreateIndex, out.JobModifyIndex = res.EvalID, res.Index, res.Job.JobModifyIndex
	}
	idx := a.store.AddScalingEvent(key, group, ev)
	out.Index, out.KnownLeader = idx, true
	setIndex(w, idx)
	return out, nil
}

// jobScaleStatus is GET /v1/job/:id/scale.
func (a *Agent) jobScaleStatus(key JobKey) (interface{}, uint64, error) {
	j, idx := a.store.Job(key)
	if j == nil {
		return nil, idx, ErrJobNotFound
	}
	if ev := a.store.TableIndex(tableScaling); ev > idx {
		idx = ev
	}
	out := &JobScaleStatusResponse{JobID: j.ID, Namespace: j.Namespace, JobCreateIndex: j.CreateIndex,
		JobModifyIndex: j.JobModifyIndex, JobStopped: j.Stop, TaskGroups: map[string]TaskGroupScaleStatus{}}
	events := a.store.ScalingEvents(key)
	for _, g := range j.TaskGroups {
		out.TaskGroups[g.Name] = TaskGroupScaleStatus{Desired: *g.Count, Events: events[g.Name]}
	}
	for _, rec := range a.store.AllocRecords() {
		al := rec.Alloc
		st, ok := out.TaskGroups[al.TaskGroup]
		if !ok || al.JobID != key.ID || al.Namespace != key.Namespace || allocTerminal(al) {
			continue
		}
		st.Placed++
		if al.ClientStatus == AllocClientRunning {
			st.Running++
		}
		if ds := al.DeploymentStatus; ds != nil && ds.Healthy != nil {
			if *ds.Healthy {
				st.Healthy++
			} else {
				st.Unhealthy++
			}
		}
		out.TaskGroups[al.TaskGroup] = st
	}
	return out, idx, nil
}

// AddScalingEvent records a scaling event (newest first, 20 per group).
func (s *Store) AddScalingEvent(key JobKey, group string, ev *ScalingEvent) uint64 {
	return s.write(func(index uint64) []string {
		m := s.summary[key]
		if m == nil {
			return nil
		}
		if m.ScalingEvents == nil {
			m.ScalingEvents = map[string][]*ScalingEvent{}
		}
		list := append([]*ScalingEvent{ev}, m.ScalingEvents[group]...)
		if len(list) > maxScalingEvents {
			list = list[:maxScalingEvents]
		}
		m.ScalingEvents[group] = list
		return []string{tableScaling}
	})
}

// ScalingEvents returns a job's scaling events per group.
func (s *Store) ScalingEvents(key JobKey) map[string][]*ScalingEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]*ScalingEvent{}
	if m := s.summary[key]; m != nil {
		for g, list := range m.ScalingEvents {
			out[g] = append([]*ScalingEvent(nil), list...)
		}
	}
	return out
}
