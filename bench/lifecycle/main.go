// Command lifecycle measures the task lifecycle against the real plugin and
// nginx and prints a table: StartTask to the first 200 on the binding,
// StopTask time, the plugin's RSS with many live tasks, and how long
// RecoverTask of all of them takes after the plugin is SIGKILLed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"nomad_iis/bench/benchkit"
)

var (
	plugin   = flag.String("plugin", "build/bin/nomad_iis", "plugin binary")
	starts   = flag.Int("starts", 20, "tasks started one after another for the latency median")
	live     = flag.Int("tasks", 200, "tasks kept running at once for the RSS and recovery measurement")
	parallel = flag.Int("parallel", 8, "concurrent StartTask calls while filling the node")
	config   = flag.String("task-config", "host/testdata/jobs/static-app.json", "task config (HCL-JSON)")
	site     = flag.String("local", "host/testdata/static-app", "files copied into each task's local/")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycle bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := benchkit.TempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer benchkit.KillLeftovers(dir)
	taskConfig, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	ctx := context.Background()
	h, err := benchkit.StartPlugin(ctx, *plugin, dir, "")
	if err != nil {
		return err
	}
	defer h.Shutdown()

	// 1. StartTask -> first 200, and StopTask, one task at a time.
	var startMs, stopMs []float64
	for i := 0; i < *starts; i++ {
		started, stopped, err := benchkit.StartStopOnce(ctx, h, dir, "bench-"+strconv.Itoa(i),
			taskConfig, *site, "")
		if err != nil {
			return err
		}
		startMs = append(startMs, benchkit.Ms(started))
		stopMs = append(stopMs, benchkit.Ms(stopped))
	}

	// 2. Many live tasks: the plugin's own memory, then recovery after kill -9.
	rssBefore := benchkit.RSSKiB(h.Driver().Pid())
	fillStart := time.Now()
	apps, err := benchkit.StartMany(ctx, h, dir, "bench-live", *live, *parallel, taskConfig, *site)
	fill := time.Since(fillStart)
	defer func() { benchkit.RemoveAll(ctx, apps, *parallel) }()
	if err != nil {
		return fmt.Errorf("starting %d tasks: %w", *live, err)
	}
	for _, a := range apps {
		if err := benchkit.FirstOK(a.URL, 10*time.Second); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	rssLive := benchkit.RSSKiB(h.Driver().Pid())

	if err := h.Crash(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	errs := make(chan error, len(apps))
	var wg sync.WaitGroup
	for _, a := range apps {
		wg.Add(1)
		go func(a *benchkit.Task) {
			defer wg.Done()
			errs <- a.Runner.Recover(ctx, false)
		}(a)
	}
	wg.Wait()
	recoverAll := time.Since(t0)
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed == 0 {
				fmt.Fprintf(os.Stderr, "first RecoverTask error: %v\n", err)
			}
			failed++
		}
	}
	for _, a := range apps {
		if err := benchkit.FirstOK(a.URL, 5*time.Second); err != nil {
			return fmt.Errorf("after recovery: %w", err)
		}
	}
	rssRecovered := benchkit.RSSKiB(h.Driver().Pid())

	fmt.Printf("%-52s %14s %12s %s\n", "measurement", "value", "target", "")
	row := func(name, value, target string, ok bool) {
		verdict := "ok"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Printf("%-52s %14s %12s %s\n", name, value, target, verdict)
	}
	med := benchkit.Median(startMs)
	row(fmt.Sprintf("StartTask -> first 200, median of %d", len(startMs)), fmt.Sprintf("%.1f ms", med), "< 150 ms", med < 150)
	row(fmt.Sprintf("StartTask -> first 200, max of %d", len(startMs)), fmt.Sprintf("%.1f ms", benchkit.Max(startMs)), "", true)
	row(fmt.Sprintf("StopTask, median of %d", len(stopMs)), fmt.Sprintf("%.1f ms", benchkit.Median(stopMs)), "", true)
	row("plugin RSS, idle", fmt.Sprintf("%.1f MB", float64(rssBefore)/1024), "", true)
	row(fmt.Sprintf("plugin RSS with %d live tasks (nginx excluded)", *live), fmt.Sprintf("%.1f MB", float64(rssLive)/1024), "< 150 MB", float64(rssLive)/1024 < 150)
	row(fmt.Sprintf("starting %d tasks, %d at a time", *live, *parallel), fmt.Sprintf("%.1f s", fill.Seconds()), "", true)
	row(fmt.Sprintf("RecoverTask of all %d after kill -9", *live), fmt.Sprintf("%.0f ms", benchkit.Ms(recoverAll)), "< 2000 ms", benchkit.Ms(recoverAll) < 2000 && failed == 0)
	row("RecoverTask failures", strconv.Itoa(failed), "0", failed == 0)
	row("plugin RSS after recovery", fmt.Sprintf("%.1f MB", float64(rssRecovered)/1024), "", true)
	return nil
}
