package main

import (
	"fmt"
	"io"
)

// table collects the rows: metric | site | nginx (or direct) | ratio |
// target | met?.
type table struct {
	rows  [][6]string
	notes []string
}

// note adds a line printed under the table.
func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// info adds a row without a target.
func (t *table) info(metric, site, base string) {
	t.rows = append(t.rows, [6]string{metric, site, base, "", "", ""})
}

// check adds a row whose target is met when ok.
func (t *table) check(metric, site, base, ratio, target string, ok bool) {
	t.rows = append(t.rows, [6]string{metric, site, base, ratio, target, verdict(ok)})
}

// ratio adds a row of site/base against a target on that ratio.
func (t *table) ratio(metric, format string, site, base float64, target string, ok func(float64) bool) {
	r := site / base
	t.check(metric, fmt.Sprintf(format, site), fmt.Sprintf(format, base), fmt.Sprintf("%.2f", r), target, ok(r))
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func (t *table) print(w io.Writer) {
	head := [6]string{"metric", "site", "nginx / direct", "ratio", "target", "met?"}
	width := [6]int{}
	for _, r := range append([][6]string{head}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(r [6]string) {
		fmt.Fprintf(w, "| %-*s | %*s | %*s | %*s | %-*s | %-*s |\n", width[0], r[0], width[1], r[1],
			width[2], r[2], width[3], r[3], width[4], r[4], width[5], r[5])
	}
	line(head)
	sep := [6]string{}
	for i := range sep {
		for j := 0; j < width[i]; j++ {
			sep[i] += "-"
		}
	}
	fmt.Fprintf(w, "|-%s-|-%s-|-%s-|-%s-|-%s-|-%s-|\n", sep[0], sep[1], sep[2], sep[3], sep[4], sep[5])
	for _, r := range t.rows {
		line(r)
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, n := range t.notes {
		fmt.Fprintln(w, n)
	}
}
