package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"nomad_iis/bench/benchkit"
	"nomad_iis/host/pluginhost"
)

// memoryPhase: the total PSS of every process serving `tasks` static tasks
// (each site answered once, so its pool runs; measured once the processes
// that keep running are the only ones left) against as many plain
// nginx instances, one worker each, serving the same file. The two sets
// run one after the other: pages both would share (nginx's binary and
// libraries) would otherwise be divided between them.
func memoryPhase(ctx context.Context, e *env, t *table) error {
	tasks, err := benchkit.StartMany(ctx, e.host, e.dir, "fleet", *fleet, *parallel, e.config, e.static)
	defer func() { benchkit.RemoveAll(ctx, tasks, *parallel) }()
	if err != nil {
		return fmt.Errorf("starting %d tasks: %w", *fleet, err)
	}
	for _, task := range tasks {
		if err := benchkit.FirstOK(task.URL+"1k.bin", 20*time.Second); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	firstPSS, firstCount := benchkit.TotalPSSKiB(taskProcesses(e))
	settled := settle(e)
	sitePids := taskProcesses(e)
	sitePSS, siteCount := benchkit.TotalPSSKiB(sitePids)
	breakdown := byProgram(sitePids)
	pluginPSS := benchkit.PSSKiB(e.host.Driver().Pid())
	benchkit.RemoveAll(ctx, tasks, *parallel)
	tasks = nil

	fleetDir := filepath.Join(e.dir, "nginx-fleet")
	var nginxes []*benchkit.Nginx
	defer func() {
		for _, n := range nginxes {
			n.Stop()
		}
	}()
	for i := 0; i < *fleet; i++ {
		_, n, err := benchkit.NginxColdStart(*nginxPath, filepath.Join(fleetDir, strconv.Itoa(i)), e.static, "/1k.bin")
		if err != nil {
			return err
		}
		nginxes = append(nginxes, n)
	}
	time.Sleep(time.Second)
	nginxPSS, nginxCount := benchkit.TotalPSSKiB(pluginhost.ProcessesMentioning(fleetDir))

	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	t.ratio(fmt.Sprintf("%d static tasks vs %d nginx: total PSS, MiB", *fleet, *fleet), "%.1f",
		mib(sitePSS), mib(nginxPSS), "<= 1.5", func(r float64) bool { return r <= 1.5 })
	t.info("  serving processes counted", strconv.Itoa(siteCount), strconv.Itoa(nginxCount))
	t.info(fmt.Sprintf("  a second after the first answers (settled %.0f s later): PSS MiB (processes)", settled.Seconds()),
		fmt.Sprintf("%.1f (%d)", mib(firstPSS), firstCount), "")
	t.note("PSS of the %d tasks by program, MiB (processes): %s", *fleet, breakdown)
	t.info(fmt.Sprintf("  plugin PSS with %d tasks (not in the total), MiB", *fleet),
		fmt.Sprintf("%.1f", mib(pluginPSS)), "")
	return nil
}

// settle waits until the tasks' processes are the ones that keep running:
// a pool's own nginx that answered an on-demand first request leaves once
// the front has taken its files over and the front's previous generation
// has drained (clients' idle kept connections hold it up to the front's
// drain limit, 10 s). The count must hold for 12 s; at most 60 s.
func settle(e *env) time.Duration {
	start := time.Now()
	last, same := -1, 0
	for time.Since(start) < 60*time.Second && same < 12 {
		time.Sleep(time.Second)
		count := len(taskProcesses(e))
		if count == last {
			same++
		} else {
			last, same = count, 0
		}
	}
	return time.Since(start)
}

// taskProcesses lists the processes serving the tasks: those that mention
// the plugin's data dir or the allocations' dir (front and pool nginx, app
// processes, socket keepers) and their descendants, without the plugin.
func taskProcesses(e *env) []int {
	plugin := e.host.Driver().Pid()
	seen := map[int]bool{plugin: true}
	var out []int
	for _, marker := range []string{filepath.Join(e.dir, "data"), filepath.Join(e.dir, "allocs")} {
		for _, pid := range pluginhost.ProcessesMentioning(marker) {
			if !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// byProgram renders the PSS of pids per program, largest first:
// "nginx 900.1 (800), nomad_iis_keepe 40.2 (200)".
func byProgram(pids []int) string {
	kib, count := benchkit.PSSByProgram(pids)
	names := make([]string, 0, len(kib))
	for name := range kib {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return kib[names[i]] > kib[names[j]] })
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f (%d)", name, float64(kib[name])/1024, count[name]))
	}
	return strings.Join(parts, ", ")
}
