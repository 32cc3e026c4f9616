// Command sites measures how the plugin's sites serve, against plain nginx
// and against the app reached directly, and prints one table (issue 16):
// static files at two sizes and two concurrencies, a process-hosted
// (httpPlatform) app, a static site recycled every second, the memory of
// many static tasks, and the start and stop of a task. Every ratio is
// measured in the same run, alternating the two sides.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"nomad_iis/bench/benchkit"
	"nomad_iis/host/pluginhost"
)

var (
	pluginPath  = flag.String("plugin", "build/bin/nomad_iis", "plugin binary")
	nginxPath   = flag.String("nginx", "/usr/sbin/nginx", "nginx binary of the baselines")
	appPath     = flag.String("app", "build/bin/bench-sites-app", "the httpPlatform app's binary (bench/sites/app)")
	taskConfig  = flag.String("task-config", "host/testdata/jobs/static-app.json", "static task config (HCL-JSON)")
	duration    = flag.Duration("duration", 5*time.Second, "length of one wrk round")
	rounds      = flag.Int("rounds", 3, "wrk rounds per side (medians are reported)")
	recycleFor  = flag.Duration("recycle-duration", 10*time.Second, "length of the wrk run under recycles")
	recycleEach = flag.Duration("recycle-every", time.Second, "interval between recycles")
	fleet       = flag.Int("tasks", 200, "static tasks (and plain nginx instances) for the memory rows")
	parallel    = flag.Int("parallel", 8, "concurrent StartTask calls while starting the tasks")
	starts      = flag.Int("starts", 20, "cold starts per side for the start and stop rows")
	phases      = flag.String("phases", "static,app,recycle,start,memory", "phases to run, comma separated")
	options     = flag.String("plugin-options", "", `driver options of the plugin, a JSON object ('{"single_hop_static": true}')`)
)

// env is what every phase works with.
type env struct {
	host   *pluginhost.Host
	dir    string
	static string // the static files, served by the sites and by nginx
	config []byte
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sites bench:", err)
		os.Exit(1)
	}
}

func run() error {
	loadBefore := loadAverage()
	started := time.Now().UTC()
	dir, err := benchkit.TempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer benchkit.KillLeftovers(dir)
	config, err := os.ReadFile(*taskConfig)
	if err != nil {
		return err
	}
	static, err := writeStaticFiles(filepath.Join(dir, "files", "static"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	h, err := benchkit.StartPlugin(ctx, *pluginPath, dir, *options)
	if err != nil {
		return err
	}
	defer h.Shutdown()
	e := &env{host: h, dir: dir, static: static, config: config}

	t := &table{}
	want := map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		want[strings.TrimSpace(p)] = true
	}
	steps := []struct {
		name string
		run  func(context.Context, *env, *table) error
	}{
		{"static", staticPhase},
		{"app", appPhase},
		{"recycle", recyclePhase},
		{"start", startPhase},
		{"memory", memoryPhase},
	}
	for _, s := range steps {
		if !want[s.name] {
			continue
		}
		fmt.Fprintf(os.Stderr, "sites bench: %s phase (load %s)\n", s.name, loadAverage())
		if err := s.run(ctx, e, t); err != nil {
			return fmt.Errorf("%s phase: %w", s.name, err)
		}
	}
	fmt.Printf("Site benchmark, %s UTC, %s; load average before %s, after %s\n\n",
		started.Format("2006-01-02 15:04"), *pluginPath, loadBefore, loadAverage())
	t.print(os.Stdout)
	return nil
}

// writeStaticFiles makes the static site's files, readable by every user
// (the baselines' nginx workers run as nobody).
func writeStaticFiles(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]int{"1k.bin": 1024, "100k.bin": 100 * 1024}
	for name, size := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("a", size)), 0o644); err != nil {
			return "", err
		}
	}
	return dir, os.WriteFile(filepath.Join(dir, "index.html"), []byte("bench site\n"), 0o644)
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
