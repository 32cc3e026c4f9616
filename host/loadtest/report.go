package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as a human-readable table.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "load test %q: job %q, %d allocation(s), %d management client(s), %d app client(s), %.1f s\n",
		r.Preset, r.Job, r.Targets, r.Clients, r.AppClients, r.DurationS)
	fmt.Fprintf(w, "mix: %s\n\n", r.Mix)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\trequests\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors\texpected\t")
	var names []string
	for op := range r.Ops {
		names = append(names, op)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == OpApp) != (names[j] == OpApp) {
			return names[j] == OpApp
		}
		return names[i] < names[j]
	})
	for _, op := range names {
		o := r.Ops[op]
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t\n", op, o.Requests, o.PerSecond,
			o.P50Ms, o.P95Ms, o.P99Ms, o.MaxMs, o.Errors, o.ExpectedErrors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	p := r.Plugin
	var pids []string
	for _, pid := range p.Pids {
		pids = append(pids, fmt.Sprint(pid))
	}
	fmt.Fprintf(w, "\nplugin pid %s: RSS %.1f MB at start, %.1f MB max, %.1f MB at end; CPU %.1f%% average, %.1f%% max (%.1f CPU s)\n",
		strings.Join(pids, " -> "), p.RSSStartMB, p.RSSMaxMB, p.RSSEndMB, p.CPUAvgPct, p.CPUMaxPct, p.CPUSeconds)
	if k := r.Kill; k != nil {
		if k.Recovered {
			fmt.Fprintf(w, "kill -9 of pid %d at %.1f s: re-dispensed as pid %d, Management API back after %.0f ms\n",
				k.OldPid, k.AtSeconds, k.NewPid, k.RecoveredAfterMs)
		} else {
			fmt.Fprintf(w, "kill -9 of pid %d at %.1f s: the plugin did NOT come back\n", k.OldPid, k.AtSeconds)
		}
	}
	if r.Pass {
		fmt.Fprintln(w, "result: PASS")
		return nil
	}
	fmt.Fprintln(w, "result: FAIL")
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  - %s\n", f)
	}
	return nil
}
