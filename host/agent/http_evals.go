package agent

import (
	"net/http"
	"slices"
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
	count := r.URL.Path == "/v1/evaluations/count"
	tok := createIndexIDToken(func(e *Evaluation) uint64 { return e.CreateIndex }, func(e *Evaluation) string { return e.ID })
	if f.Prefix != "" {
		tok = idToken(func(e *Evaluation) string { return e.ID })
	}
	var next string
	out, err := a.blockingQuery(w, r, func() (interface{}, uint64, error) {
		list, idx := a.store.Evals(f)
		if f.Prefix != "" {
			slices.SortFunc(list, func(x, y *Evaluation) int { return strings.Compare(x.ID, y.ID) })
		} else {
			slices.Reverse(list) // the store's order is newest first
		}
		if count {
			page.perPage, page.nextToken, page.reverse = 0, "", false
		}
		list, next, err = paginate(list, page, tok, func(e *Evaluation) any { return e })
		if count {
			return &EvalCountResponse{Count: len(list), QueryMeta: QueryMeta{Index: idx, KnownLeader: true}}, idx, err
		}
		return list, idx, err
	})
	setNextToken(w, next)
	return out, err
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
