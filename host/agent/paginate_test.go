package agent

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestPaginateFollowsNomadsPaginator(t *testing.T) {
	evals := []*Evaluation{
		{ID: "b", CreateIndex: 9, Status: "complete"},
		{ID: "a", CreateIndex: 12, Status: "pending"},
		{ID: "c", CreateIndex: 100, Status: "complete"},
		{ID: "d", CreateIndex: 100, Status: "failed"},
	}
	order, tok := listOrder("", func(e *Evaluation) uint64 { return e.CreateIndex }, func(e *Evaluation) string { return e.ID })
	order(evals)
	self := func(e *Evaluation) any { return e }
	ids := func(l []*Evaluation) string {
		var s []string
		for _, e := range l {
			s = append(s, e.ID)
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		name      string
		o         pageOptions
		want, nxt string
	}{
		{"all, oldest first", pageOptions{}, "b,a,c,d", ""},
		{"first page", pageOptions{perPage: 2}, "b,a", "100.c"},
		// "100.c" must not compare as the string "100" < "12".
		{"second page", pageOptions{perPage: 2, nextToken: "100.c"}, "c,d", ""},
		{"reverse", pageOptions{perPage: 3, reverse: true}, "d,c,a", "9.b"},
		{"reverse second page", pageOptions{perPage: 3, reverse: true, nextToken: "9.b"}, "b", ""},
		{"filter", pageOptions{filter: `Status == "complete"`}, "b,c", ""},
		{"filter and page", pageOptions{filter: `Status != "pending"`, perPage: 1, nextToken: "12.a"}, "c", "100.d"},
	}
	for _, c := range cases {
		got, next, err := paginate(evals, c.o, tok, self)
		if err != nil || ids(got) != c.want || next != c.nxt {
			t.Errorf("%s: got %q next %q err %v; want %q next %q", c.name, ids(got), next, err, c.want, c.nxt)
		}
	}
	_, _, err := paginate(evals, pageOptions{filter: `Status ==`}, tok, self)
	var ce *codedError
	if !errors.As(err, &ce) || ce.code != http.StatusBadRequest ||
		!strings.HasPrefix(ce.msg, "failed to create result paginator: failed to read filter expression: ") {
		t.Errorf("bad filter: %v", err)
	}
	_, _, err = paginate(evals, pageOptions{filter: `NoSuchField == "x"`}, tok, self)
	if !errors.As(err, &ce) || ce.code != http.StatusBadRequest || !strings.HasPrefix(ce.msg, "failed to read result page: ") {
		t.Errorf("unknown field: %v", err)
	}
}
