package benchkit

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"nomad_iis/host/pluginhost"
)

// A real nginx serves a real file to a real wrk: the parsed report has a
// rate, a p99 and no errors; a missing file counts its 404s as errors; the
// master and its worker have a PSS; Stop ends the master.
func TestNginxWrkAndMemory(t *testing.T) {
	for _, tool := range []string{"wrk", "/usr/sbin/nginx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing", tool)
		}
	}
	// Readable by nginx's worker, which runs as nobody under root.
	dir, err := TempDir()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "www")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "f.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, n, err := NginxColdStart("/usr/sbin/nginx", filepath.Join(dir, "nginx"), root, "/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	pids := pluginhost.ProcessesMentioning(n.Prefix)
	defer pluginhost.KillPids(pids)
	if d <= 0 || d > 10*time.Second {
		t.Fatalf("cold start took %v", d)
	}
	if body, err := Get(n.URL("/f.txt")); err != nil || body != "hello\n" {
		t.Fatalf("GET f.txt: %q %v", body, err)
	}

	ok, err := Wrk(n.URL("/f.txt"), 1, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ok.RPS <= 0 || ok.P99Ms <= 0 || ok.Errors != 0 {
		t.Fatalf("wrk on a served file: %+v", ok)
	}
	missing, err := Wrk(n.URL("/missing"), 1, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if missing.Errors == 0 {
		t.Fatalf("404s were not counted as errors:\n%s", missing.Output)
	}

	if len(pids) != 2 {
		t.Fatalf("nginx should run a master and one worker, found pids %v", pids)
	}
	total, counted := TotalPSSKiB(pids)
	if counted != 2 || total <= 0 || RSSKiB(n.Pid()) <= 0 {
		t.Fatalf("PSS of %v: %d KiB over %d processes", pids, total, counted)
	}

	n.Stop()
	if alive := pluginhost.WaitPidsGone(pids, 5*time.Second); len(alive) != 0 {
		t.Fatalf("still alive after Stop: %v", alive)
	}
}

func TestDurationMs(t *testing.T) {
	for in, want := range map[string]float64{"850.00us": 0.85, "1.23ms": 1.23, "1.02s": 1020, "2.00m": 120000, "x": -1} {
		if got := durationMs(in); math.Abs(got-want) > 1e-9 {
			t.Errorf("durationMs(%q) = %v, want %v", in, got, want)
		}
	}
}
