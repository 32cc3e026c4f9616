package agent

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/go-bexpr"
)

// pageOptions are a list's ?per_page, ?next_token, ?filter and ?reverse,
// read as Nomad's HTTP server reads them.
type pageOptions struct {
	perPage   int32
	nextToken string
	filter    string
	reverse   bool
}

func parsePageOptions(r *http.Request) (pageOptions, error) {
	q := r.URL.Query()
	o := pageOptions{nextToken: q.Get("next_token"), filter: q.Get("filter"), reverse: q.Get("reverse") == "true"}
	if s := q.Get("per_page"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return o, coded(http.StatusBadRequest, "Expect a number for `per_page` query string parameter")
		}
		o.perPage = int32(n)
	}
	return o, nil
}

// tokenizer gives an item's pagination token and how it compares with
// the requested next_token (-1 before it, 0 at it, 1 after it).
type tokenizer[T any] func(item T, target string) (string, int)

// idToken orders by ID.
func idToken[T any](id func(T) string) tokenizer[T] {
	return func(item T, target string) (string, int) {
		t := id(item)
		return t, cmp.Compare(t, target)
	}
}

// createIndexIDToken is Nomad's "<CreateIndex>.<ID>" token, the index
// compared as a number.
func createIndexIDToken[T any](index func(T) uint64, id func(T) string) tokenizer[T] {
	return func(item T, target string) (string, int) {
		token := fmt.Sprintf("%d.%s", index(item), id(item))
		ti, tid, ok := strings.Cut(target, ".")
		n, err := strconv.ParseUint(ti, 10, 64)
		if !ok || err != nil {
			return token, cmp.Compare(token, target)
		}
		if c := cmp.Compare(index(item), n); c != 0 {
			return token, c
		}
		return token, cmp.Compare(id(item), tid)
	}
}

// namespaceIDToken is Nomad's "<Namespace>.<ID>" token.
func namespaceIDToken[T any](ns, id func(T) string) tokenizer[T] {
	return func(item T, target string) (string, int) {
		t := ns(item) + "." + id(item)
		return t, cmp.Compare(t, target)
	}
}

// modifyIndexToken orders by ModifyIndex, compared as a number.
func modifyIndexToken[T any](index func(T) uint64) tokenizer[T] {
	return func(item T, target string) (string, int) {
		n, _ := strconv.ParseUint(target, 10, 64)
		return strconv.FormatUint(index(item), 10), cmp.Compare(index(item), n)
	}
}

// paginate pages items (in ascending token order) as Nomad's paginator
// does: reverse flips the order, items before next_token are skipped,
// the filter (a go-bexpr expression over filterOn(item)) drops items, and
// the first item past per_page becomes the next token.
func paginate[T any](items []T, o pageOptions, tok tokenizer[T], filterOn func(T) any) ([]T, string, error) {
	var eval *bexpr.Evaluator
	if o.filter != "" {
		e, err := bexpr.CreateEvaluator(o.filter)
		if err != nil {
			return nil, "", coded(http.StatusBadRequest, "failed to create result paginator: failed to read filter expression: %v", err)
		}
		eval = e
	}
	if o.reverse {
		items = slices.Clone(items)
		slices.Reverse(items)
	}
	out := []T{}
	found := o.nextToken == ""
	for _, it := range items {
		token, c := tok(it, o.nextToken)
		if !found && ((o.reverse && c == 1) || (!o.reverse && c == -1)) {
			continue
		}
		if eval != nil {
			ok, err := eval.Evaluate(filterOn(it))
			if err != nil {
				return nil, "", coded(http.StatusBadRequest, "failed to read result page: %v", err)
			}
			if !ok {
				continue
			}
		}
		found = true
		if o.perPage > 0 && int32(len(out)) == o.perPage {
			return out, token, nil
		}
		out = append(out, it)
	}
	return out, "", nil
}

// setNextToken sets X-Nomad-NextToken when there is a next page.
func setNextToken(w http.ResponseWriter, token string) {
	if token != "" {
		w.Header().Set("X-Nomad-NextToken", token)
	}
}

// pagedQuery is a blocking list read paged by the request's options; read
// returns the items in ascending token order.
func pagedQuery[T any](a *Agent, w http.ResponseWriter, r *http.Request, read func() ([]T, uint64),
	tok tokenizer[T], filterOn func(T) any) (interface{}, error) {
	page, err := parsePageOptions(r)
	if err != nil {
		return nil, err
	}
	var next string
	out, err := a.blockingQuery(w, r, func() (interface{}, uint64, error) {
		list, idx := read()
		var err error
		list, next, err = paginate(list, page, tok, filterOn)
		return list, idx, err
	})
	setNextToken(w, next)
	return out, err
}

// byCreateIndex sorts oldest first (then by ID), Nomad's list order.
func byCreateIndex[T any](list []T, index func(T) uint64, id func(T) string) {
	slices.SortFunc(list, func(x, y T) int {
		if c := cmp.Compare(index(x), index(y)); c != 0 {
			return c
		}
		return strings.Compare(id(x), id(y))
	})
}

// listOrder is the order and tokenizer of Nomad's evaluation, deployment
// and allocation lists: by ID with a prefix, else by CreateIndex and ID.
func listOrder[T any](prefix string, index func(T) uint64, id func(T) string) (func([]T), tokenizer[T]) {
	if prefix != "" {
		return func(list []T) { slices.SortFunc(list, func(x, y T) int { return strings.Compare(id(x), id(y)) }) }, idToken(id)
	}
	return func(list []T) { byCreateIndex(list, index, id) }, createIndexIDToken(index, id)
}
