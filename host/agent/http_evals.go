package agent

import (
	"net/http"
	"strings"
)

// evalsList is GET /v1/evaluations (?prefix=, ?job=, ?status=,
// ?namespace=, `*` for all, ?filter=, ?per_page=, ?next_token=, ?reverse=)
// and GET /v1/evaluations/count. As in Nomad the list is oldest first
// (by CreateIndex; by ID with a prefix).
func (a *Agent) evalsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	q := r.URL.Query()
	f := EvalFilter{Namespace: namespaceOf(r), Prefix: q.Get("prefix"), JobID: q.Get("job"), Status: q.Get("status")}
	page, err := parsePageOptions(r)
	if err != nil {
		return nil, err
	}
	if page.filter != "" && (f.JobID != "" || f.Status != "") {
		return nil, coded(http.StatusBadRequest, "Filter expression cannot be used with other filter parameters")
	}
	evalIndex := func(e *Evaluation) uint64 { return e.CreateIndex }
	evalID := func(e *Evaluation) string { return e.ID }
	self := func(e *Evaluation) any { return e }
	if r.URL.Path == "/v1/evaluations/count" {
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			list, idx := a.store.Evals(f)
			list, _, err := paginate(list, pageOptions{filter: page.filter}, idToken(evalID), self)
			return &EvalCountResponse{Count: len(list), QueryMeta: QueryMeta{Index: idx, KnownLeader: true}}, idx, err
		})
	}
	order, tok := listOrder(f.Prefix, evalIndex, evalID)
	return pagedQuery(a, w, r, func() ([]*Evaluation, uint64) {
		list, idx := a.store.Evals(f)
		order(list)
		return list, idx
	}, tok, self)
}

// evalSpecific is GET /v1/evaluation/:id and /v1/evaluation/:id/allocations.
func (a *Agent) evalSpecific(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	id, suffix := splitSuffix(strings.TrimPrefix(r.URL.Path, "/v1/evaluation/"), "allocations")
	if id == "" || strings.Contains(id, "/") {
		return nil, coded(http.StatusNotFound, "Invalid URL path")
	}
	if suffix == "allocations" {
		return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
			list, idx := a.store.Allocs(func(al *Allocation) bool { return al.EvalID == id })
			for _, s := range list {
				s.AllocatedResources = nil
			}
			return list, idx, nil
		})
	}
	return a.blockingQuery(w, r, func() (interface{}, uint64, error) {
		e, idx, err := a.store.Eval(id)
		if err != nil {
			return nil, idx, err
		}
		return e, idx, nil
	})
}
