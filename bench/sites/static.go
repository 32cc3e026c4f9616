package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"nomad_iis/bench/benchkit"
)

// side is one server under wrk: a site or its baseline.
type side struct {
	url string
	rps []float64
	p99 []float64
	err int64
}

func (s *side) measure(conns int, d time.Duration) error {
	r, err := benchkit.Wrk(s.url, 2, conns, d)
	if err != nil {
		return err
	}
	s.rps = append(s.rps, r.RPS)
	s.p99 = append(s.p99, r.P99Ms)
	s.err += r.Errors
	return nil
}

// compare runs wrk on site and base for `rounds` rounds, alternating which
// goes first, after a one-second warm-up of each.
func compare(site, base *side, conns int) error {
	for _, s := range []*side{site, base} {
		if _, err := benchkit.Wrk(s.url, 2, conns, time.Second); err != nil {
			return err
		}
	}
	for i := 0; i < *rounds; i++ {
		order := []*side{site, base}
		if i%2 == 1 {
			order = []*side{base, site}
		}
		for _, s := range order {
			if err := s.measure(conns, *duration); err != nil {
				return err
			}
		}
	}
	return nil
}

// addComparison adds the req/s, p99 and error rows of one comparison; the
// p99 row has a target when p99Target.
func addComparison(t *table, name string, site, base *side, p99Target bool) {
	n := len(site.rps)
	t.ratio(fmt.Sprintf("%s: req/s, median of %d", name, n), "%.0f",
		benchkit.Median(site.rps), benchkit.Median(base.rps), ">= 0.9", func(r float64) bool { return r >= 0.9 })
	p99 := fmt.Sprintf("%s: p99 ms, median of %d", name, n)
	sp, bp := benchkit.Median(site.p99), benchkit.Median(base.p99)
	if p99Target {
		t.ratio(p99, "%.2f", sp, bp, "<= 1.2", func(r float64) bool { return r <= 1.2 })
	} else {
		t.info(p99, fmt.Sprintf("%.2f", sp), fmt.Sprintf("%.2f", bp))
	}
	t.check(name+": errors (non-2xx + socket)", fmt.Sprint(site.err), fmt.Sprint(base.err), "", "0",
		site.err == 0)
}

// startStatic starts a static task serving e.static and waits for its
// first 200.
func startStatic(ctx context.Context, e *env, job string) (*benchkit.Task, error) {
	task, err := benchkit.StartNewTask(ctx, e.host, e.dir, job, e.config, e.static)
	if err != nil {
		return nil, err
	}
	if err := benchkit.FirstOK(task.URL+"1k.bin", 20*time.Second); err != nil {
		task.Remove(ctx)
		return nil, err
	}
	return task, nil
}

// staticPhase: 1 KiB and 100 KiB files at -c64 and -c8, a static task's
// site against a plain nginx serving the same files.
func staticPhase(ctx context.Context, e *env, t *table) error {
	task, err := startStatic(ctx, e, "static")
	if err != nil {
		return err
	}
	defer task.Remove(ctx)
	_, nginx, err := benchkit.NginxColdStart(*nginxPath, filepath.Join(e.dir, "nginx-static"), e.static, "/1k.bin")
	if err != nil {
		return err
	}
	defer nginx.Stop()
	for _, file := range []struct{ name, label string }{{"1k.bin", "1 KiB"}, {"100k.bin", "100 KiB"}} {
		for _, conns := range []int{64, 8} {
			site := &side{url: task.URL + file.name}
			base := &side{url: nginx.URL("/" + file.name)}
			if err := compare(site, base, conns); err != nil {
				return err
			}
			addComparison(t, fmt.Sprintf("static %s, wrk -c%d", file.label, conns), site, base, true)
		}
	}
	return nil
}
