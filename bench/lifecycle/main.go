// Command lifecycle measures the task lifecycle against the real plugin and
// nginx and prints a table: StartTask to the first 200 on the binding,
// StopTask time, the plugin's RSS with many live tasks, and how long
// RecoverTask of all of them takes after the plugin is SIGKILLed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"

	"nomad_iis/host/pluginhost"
)

var (
	plugin   = flag.String("plugin", "build/bin/nomad_iis", "plugin binary")
	starts   = flag.Int("starts", 20, "tasks started one after another for the latency median")
	live     = flag.Int("tasks", 200, "tasks kept running at once for the RSS and recovery measurement")
	parallel = flag.Int("parallel", 8, "concurrent StartTask calls while filling the node")
	config   = flag.String("task-config", "host/testdata/jobs/static-app.json", "task config (HCL-JSON)")
	site     = flag.String("local", "host/testdata/static-app", "files copied into each task's local/")
)

type app struct {
	alloc *pluginhost.Alloc
	task  *pluginhost.TaskRunner
	url   string
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycle bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "niis-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755)
	defer func() { pluginhost.KillPids(pluginhost.ProcessesMentioning(dir)) }()
	taskConfig, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	ctx := context.Background()
	h, err := pluginhost.Start(ctx, pluginhost.Config{
		Launch: pluginhost.LaunchOptions{
			Path:         *plugin,
			Logger:       hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Error, Output: io.Discard}),
			StartTimeout: 30 * time.Second,
		},
		PluginConfig: []byte(fmt.Sprintf(`{"data_dir": %q}`, filepath.Join(dir, "data"))),
		Startup:      pluginhost.StartupShort,
	})
	if err != nil {
		return fmt.Errorf("agent start: %w", err)
	}
	defer h.Shutdown()

	newApp := func(i int) (*app, error) {
		port, err := pluginhost.FreePort()
		if err != nil {
			return nil, err
		}
		alloc, err := h.NewAlloc(pluginhost.AllocOptions{
			JobID: "bench-" + strconv.Itoa(i),
			Ports: []pluginhost.Port{{Label: "httplabel", Value: port, HostIP: "127.0.0.1"}},
			Root:  filepath.Join(dir, "allocs"),
		})
		if err != nil {
			return nil, err
		}
		task, err := alloc.NewTask(pluginhost.TaskSpec{Name: "app", Config: taskConfig})
		if err != nil {
			return nil, err
		}
		if err := pluginhost.CopyDir(*site, task.Dir().LocalDir); err != nil {
			return nil, err
		}
		return &app{alloc: alloc, task: task, url: fmt.Sprintf("http://127.0.0.1:%d/", port)}, nil
	}
	client := &http.Client{Timeout: 2 * time.Second}
	firstOK := func(url string, deadline time.Duration) error {
		end := time.Now().Add(deadline)
		for time.Now().Before(end) {
			if resp, err := client.Get(url); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
			time.Sleep(time.Millisecond)
		}
		return fmt.Errorf("%s never answered 200", url)
	}

	// 1. StartTask -> first 200, and StopTask, one task at a time.
	var startMs, stopMs []float64
	for i := 0; i < *starts; i++ {
		a, err := newApp(i)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := a.task.Start(ctx); err != nil {
			return fmt.Errorf("StartTask: %w", err)
		}
		if err := firstOK(a.url, 10*time.Second); err != nil {
			return err
		}
		startMs = append(startMs, ms(time.Since(t0)))
		t1 := time.Now()
		if err := a.task.StopWith(ctx, 5*time.Second, ""); err != nil {
			return fmt.Errorf("StopTask: %w", err)
		}
		stopMs = append(stopMs, ms(time.Since(t1)))
		_ = a.task.Destroy(ctx, true)
		a.alloc.Close()
	}

	// 2. Many live tasks: the plugin's own memory, then recovery after kill -9.
	apps := make([]*app, *live)
	rssBefore := rssKiB(h.Driver().Pid())
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	fillStart := time.Now()
	for i := range apps {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := newApp(1000 + i)
			if err == nil {
				_, err = a.task.Start(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			apps[i] = a
		}(i)
	}
	wg.Wait()
	fill := time.Since(fillStart)
	defer func() {
		for _, a := range apps {
			if a != nil {
				_ = a.task.StopWith(ctx, 2*time.Second, "")
				_ = a.task.Destroy(ctx, true)
				a.alloc.Close()
			}
		}
	}()
	if firstErr != nil {
		return fmt.Errorf("starting %d tasks: %w", *live, firstErr)
	}
	for _, a := range apps {
		if err := firstOK(a.url, 10*time.Second); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	rssLive := rssKiB(h.Driver().Pid())

	if err := h.Crash(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	errs := make(chan error, len(apps))
	for _, a := range apps {
		wg.Add(1)
		go func(a *app) {
			defer wg.Done()
			errs <- a.task.Recover(ctx, false)
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
		if err := firstOK(a.url, 5*time.Second); err != nil {
			return fmt.Errorf("after recovery: %w", err)
		}
	}
	rssRecovered := rssKiB(h.Driver().Pid())

	fmt.Printf("%-52s %14s %12s %s\n", "measurement", "value", "target", "")
	row := func(name, value, target string, ok bool) {
		verdict := "ok"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Printf("%-52s %14s %12s %s\n", name, value, target, verdict)
	}
	med := median(startMs)
	row(fmt.Sprintf("StartTask -> first 200, median of %d", len(startMs)), fmt.Sprintf("%.1f ms", med), "< 150 ms", med < 150)
	row(fmt.Sprintf("StartTask -> first 200, max of %d", len(startMs)), fmt.Sprintf("%.1f ms", max(startMs)), "", true)
	row(fmt.Sprintf("StopTask, median of %d", len(stopMs)), fmt.Sprintf("%.1f ms", median(stopMs)), "", true)
	row("plugin RSS, idle", fmt.Sprintf("%.1f MB", float64(rssBefore)/1024), "", true)
	row(fmt.Sprintf("plugin RSS with %d live tasks (nginx excluded)", *live), fmt.Sprintf("%.1f MB", float64(rssLive)/1024), "< 150 MB", float64(rssLive)/1024 < 150)
	row(fmt.Sprintf("starting %d tasks, %d at a time", *live, *parallel), fmt.Sprintf("%.1f s", fill.Seconds()), "", true)
	row(fmt.Sprintf("RecoverTask of all %d after kill -9", *live), fmt.Sprintf("%.0f ms", ms(recoverAll)), "< 2000 ms", ms(recoverAll) < 2000 && failed == 0)
	row("RecoverTask failures", strconv.Itoa(failed), "0", failed == 0)
	row("plugin RSS after recovery", fmt.Sprintf("%.1f MB", float64(rssRecovered)/1024), "", true)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func max(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}

// rssKiB is VmRSS of a process.
func rssKiB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return -1
}
