package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"nomad_iis/bench/benchkit"
)

// startPhase: StartTask to the first 200 of a fresh static task against a
// bare nginx cold start (spawn, poll until 200), alternating; and StopTask.
func startPhase(ctx context.Context, e *env, t *table) error {
	var site, nginx, stop []float64
	for i := 0; i < *starts; i++ {
		started, stopped, err := benchkit.StartStopOnce(ctx, e.host, e.dir, "start-"+strconv.Itoa(i),
			e.config, e.static, "1k.bin")
		if err != nil {
			return err
		}
		site = append(site, benchkit.Ms(started))
		stop = append(stop, benchkit.Ms(stopped))
		prefix := filepath.Join(e.dir, "nginx-cold", strconv.Itoa(i))
		d, n, err := benchkit.NginxColdStart(*nginxPath, prefix, e.static, "/1k.bin")
		if err != nil {
			return err
		}
		n.Stop()
		nginx = append(nginx, benchkit.Ms(d))
	}
	t.ratio(fmt.Sprintf("StartTask -> first 200 vs nginx cold start, ms, median of %d", len(site)), "%.1f",
		benchkit.Median(site), benchkit.Median(nginx), "<= 1.5", func(r float64) bool { return r <= 1.5 })
	t.info(fmt.Sprintf("StartTask -> first 200 vs nginx cold start, ms, max of %d", len(site)),
		fmt.Sprintf("%.1f", benchkit.Max(site)), fmt.Sprintf("%.1f", benchkit.Max(nginx)))
	med := benchkit.Median(stop)
	t.check(fmt.Sprintf("StopTask, ms, median of %d", len(stop)), fmt.Sprintf("%.1f", med), "", "", "< 100 ms",
		med < 100)
	return nil
}
