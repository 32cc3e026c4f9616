package agent

import (
	"net/http"
	"strings"
)

// deploymentsList is GET /v1/deployments (?prefix=, ?namespace=, and
// Nomad's paging: ?filter=, ?per_page=, ?next_token=, ?reverse=), oldest
// first as in Nomad.
func (a *Agent) deploymentsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	ns, prefix := namespaceOf(r), r.URL.Query().Get("prefix")
	order, tok := listOrder(prefix, func(d *Deployment) uint64 { return d.CreateIndex }, func(d *Deployment) string { return d.ID })
	return pagedQuery(a, w, r, func() ([]*Deployment, uint64) {
		list, idx := a.store.Deployments(ns, prefix, "", true)
		order(list)
		return list, idx
	}, tok, func(d *Deployment) any { return d })
}

// deploymentSpecific is GET /v1/deployment/:id, GET
// /v1/deployment/allocations/:id and POST /v1/deployment/<action>/:id.
func (a *Agent) deploymentSpecific(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/deployment/")
	action, id, found := strings.Cut(rest, "/")
	if !found {
		action, id = "", rest
	}
	if id == "" || strings.Contains(id, "/") {
		return nil, coded(http.StatusNotFound, "Invalid URL path")
	}
	switch action {
	case "":
		if r.Method != http.MethodGet {
			return nil, errMethod
		}
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			d, idx, err := a.store.Deployment(id)
			if err != nil {
				return nil, idx, err
			}
			return d, idx, nil
		})
	case "allocations":
		if r.Method != http.MethodGet {
			return nil, errMethod
		}
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			if _, _, err := a.store.Deployment(id); err != nil {
				return nil, a.store.TableIndex(tableDeployments), err
			}
			list, idx := a.store.Allocs(func(al *Allocation) bool { return al.DeploymentID == id })
			return list, idx, nil
		})
	case "fail", "pause", "promote", "allocation-health":
		if r.Method != http.MethodPut && r.Method != http.MethodPost {
			return nil, errMethod
		}
		return a.deploymentWrite(w, r, action, id)
	}
	return nil, coded(http.StatusNotFound, "Invalid URL path")
}

func (a *Agent) deploymentWrite(w http.ResponseWriter, r *http.Request, action, id string) (interface{}, error) {
	d, _, err := a.store.Deployment(id)
	if err != nil {
		return nil, err
	}
	key := JobKey{d.Namespace, d.JobID}
	out := &DeploymentUpdateResponse{}
	switch action {
	case "fail":
		if !d.active() {
			return nil, coded(http.StatusBadRequest, "can't fail terminal deployment")
		}
		if out.RevertedJobVersion, err = a.deployWatch.fail(d, descFailedByUser); err != nil {
			return nil, err
		}
	case "pause":
		var req DeploymentPauseRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		if !d.active() {
			return nil, coded(http.StatusBadRequest, "can't pause terminal deployment")
		}
		status, desc := DeploymentStatusRunning, descRunning+descTaskStates
		if req.Pause {
			status, desc = DeploymentStatusPaused, descPaused
		}
		if _, _, err := a.store.SetDeploymentStatus(id, status, desc); err != nil {
			return nil, err
		}
	case "promote":
		var req DeploymentPromoteRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		if err := a.store.PromoteDeployment(id, req.Groups, req.All); err != nil {
			return nil, err
		}
	case "allocation-health":
		var req DeploymentAllocHealthRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		if !d.active() {
			return nil, coded(http.StatusBadRequest, "can't set health of allocations for a terminal deployment")
		}
		set := func(ids []string, healthy bool) error {
			for _, allocID := range ids {
				al, _ := a.store.Alloc(allocID)
				if al == nil || al.DeploymentID != id {
					return coded(http.StatusBadRequest, "Allocation %q is not part of deployment", allocID)
				}
				if err := a.store.SetAllocHealth(allocID, healthy); err != nil {
					return err
				}
			}
			return nil
		}
		if err := set(req.HealthyAllocationIDs, true); err != nil {
			return nil, err
		}
		if err := set(req.UnhealthyAllocationIDs, false); err != nil {
			return nil, err
		}
	}
	if j, _ := a.store.Job(key); j != nil {
		if ev, _, err := a.store.CreateEval(key, EvalTriggerDeployment); err == nil {
			out.EvalID, out.EvalCreateIndex = ev.ID, ev.CreateIndex
		}
		a.sched.Enqueue(key)
	}
	cur, idx, err := a.store.Deployment(id)
	if err != nil {
		return nil, err
	}
	out.DeploymentModifyIndex, out.Index = cur.ModifyIndex, idx
	setIndex(w, idx)
	return out, nil
}
