package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// The task's resources as cgroup limits, seen from outside: the cgroup files
// around a running app, an app over its memory limit killed and reported, and
// an OOM-killed front ending the task with oom_killed.

const mib = 1 << 20

// cgroupsOrSkip returns the driver's cgroup mountpoint and version ("1", "2"),
// or skips when the driver enforces no limits here.
func cgroupsOrSkip(t *testing.T, e *siteEnv) (string, string) {
	t.Helper()
	stream, err := e.host.Client().Driver.Fingerprint(ctxTimeout(t, 10*time.Second), &driverpb.FingerprintRequest{})
	if err != nil {
		t.Fatalf("Fingerprint: %v", err)
	}
	fp, err := stream.Recv()
	if err != nil {
		t.Fatalf("first fingerprint: %v", err)
	}
	attrs := fp.GetAttributes()
	if !attrs["driver.iis.resource_limits_enabled"].GetBoolVal() {
		t.Skip("the driver enforces no resource limits here (not root, or no usable cgroups)")
	}
	return attrs["driver.iis.cgroups.mountpoint"].GetStringVal(), attrs["driver.iis.cgroups.version"].GetStringVal()
}

// cgroupDir is the directory of pid's cgroup that holds controller's files.
func cgroupDir(t *testing.T, mountpoint, version string, pid int, controller string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if version == "2" && parts[0] == "0" {
			return filepath.Join(mountpoint, parts[2])
		}
		for _, c := range strings.Split(parts[1], ",") {
			if version == "1" && c == controller {
				return filepath.Join(mountpoint, parts[1], parts[2])
			}
		}
	}
	t.Fatalf("process %d is in no %s cgroup: %s", pid, controller, data)
	return ""
}

func readCgroupFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

var appPid = regexp.MustCompile(`pid=(\d+)`)

// appWorker starts the httpPlatform app and returns its pid.
func appWorker(t *testing.T, e *siteEnv) int {
	t.Helper()
	code, body, err := getEventually(e.url("/hello"), 20*time.Second)
	if err != nil || code != 200 {
		t.Fatalf("GET /hello: %d %q %v", code, body, err)
	}
	m := appPid.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no pid in %q", body)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

func memoryAppEnv(t *testing.T, spec pluginhost.TaskSpec) *siteEnv {
	return memoryAppEnvWithPool(t, spec, `{"name": "default"}`)
}

// memoryAppEnvWithPool runs the httpPlatform app in the pool `pool` (HCL-JSON).
func memoryAppEnvWithPool(t *testing.T, spec pluginhost.TaskSpec, pool string) *siteEnv {
	spec.Name = "app"
	spec.Config = []byte(`{
  "application_pool": [` + pool + `],
  "application": [{"path": "local"}],
  "binding": [{"type": "http", "port": "httplabel"}]
}`)
	e := newSiteEnvSpec(t, spec)
	src := filepath.Join("..", "..", "tests", "data", "iis", "httpplatform")
	if err := pluginhost.CopyDir(src, e.task.Dir().LocalDir); err != nil {
		t.Fatal(err)
	}
	return e
}

// onlineCPUs counts /sys/devices/system/cpu/online ("0-1,3" = 3), as sysconf does.
func onlineCPUs(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, part := range strings.Split(strings.TrimSpace(string(data)), ",") {
		first, last, found := strings.Cut(part, "-")
		a, _ := strconv.Atoi(first)
		b := a
		if found {
			b, _ = strconv.Atoi(last)
		}
		count += b - a + 1
	}
	return count
}

func TestTaskCgroupCarriesNomadLimits(t *testing.T) {
	// cpu_limit 25000 = a quarter of all CPUs for the pool.
	e := memoryAppEnvWithPool(t, pluginhost.TaskSpec{CPUShares: 250, MemoryMB: 96, MemoryMaxMB: 128},
		`{"name": "default", "cpu_limit": 25000}`)
	mountpoint, version := cgroupsOrSkip(t, e)
	e.start(t)
	pid := appWorker(t, e)

	leaf := cgroupDir(t, mountpoint, version, pid, "memory")
	if filepath.Base(leaf) != "pool-0" || !strings.HasSuffix(filepath.Dir(leaf), ".scope") {
		t.Fatalf("the app runs in %s, want <task>.scope/pool-0", leaf)
	}
	scope := filepath.Dir(leaf)
	cpuScope := filepath.Dir(cgroupDir(t, mountpoint, version, pid, "cpu"))
	if version == "1" {
		want := map[string]string{
			"memory.limit_in_bytes":      strconv.Itoa(128 * mib),
			"memory.soft_limit_in_bytes": strconv.Itoa(96 * mib),
		}
		for file, value := range want {
			if got := readCgroupFile(t, scope, file); got != value {
				t.Errorf("%s/%s = %s, want %s", scope, file, got, value)
			}
		}
		if got := readCgroupFile(t, cpuScope, "cpu.shares"); got != "250" {
			t.Errorf("%s/cpu.shares = %s, want 250", cpuScope, got)
		}
		quota := strconv.Itoa(25000 * onlineCPUs(t))
		if got := readCgroupFile(t, filepath.Join(cpuScope, "pool-0"), "cpu.cfs_quota_us"); got != quota {
			t.Errorf("pool-0 cpu.cfs_quota_us = %s, want %s (cpu_limit 25000)", got, quota)
		}
	} else {
		if got := readCgroupFile(t, scope, "memory.max"); got != strconv.Itoa(128*mib) {
			t.Errorf("memory.max = %s", got)
		}
		if got := readCgroupFile(t, scope, "memory.low"); got != strconv.Itoa(96*mib) {
			t.Errorf("memory.low = %s", got)
		}
		// runc's conversion of 250 shares.
		if got := readCgroupFile(t, scope, "cpu.weight"); got != "10" {
			t.Errorf("cpu.weight = %s, want 10", got)
		}
		quota := strconv.Itoa(25000*onlineCPUs(t)) + " 100000"
		if got := readCgroupFile(t, leaf, "cpu.max"); got != quota {
			t.Errorf("pool-0 cpu.max = %s, want %s", got, quota)
		}
	}
	// The front is in the task's cgroup too, in its own leaf.
	if procs := readCgroupFile(t, filepath.Join(scope, "front"), "cgroup.procs"); procs == "" {
		t.Errorf("no process in %s/front", scope)
	}

	ctx := ctxTimeout(t, 30*time.Second)
	if err := e.task.StopWith(ctx, 2*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.task.Destroy(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(scope); !os.IsNotExist(err) {
		t.Errorf("the task's cgroup %s is still there after destroy (%v)", scope, err)
	}
}

func TestAppOverMemoryLimitIsKilledAndReported(t *testing.T) {
	e := memoryAppEnv(t, pluginhost.TaskSpec{MemoryMB: 64})
	cgroupsOrSkip(t, e)
	e.start(t)
	first := appWorker(t, e)

	// 200 MiB in a 64 MiB task: the kernel kills the app mid-request.
	if code, body, err := get(e.url("/allocate?mb=200")); err == nil && code == 200 {
		t.Fatalf("allocating 200 MiB in a 64 MiB task answered 200: %q", body)
	}
	ev := e.waitEvent(t, "killed: out of memory", 20*time.Second)
	if !strings.Contains(ev.GetMessage(), strconv.Itoa(first)) {
		t.Errorf("the event %q does not name worker %d", ev.GetMessage(), first)
	}
	// Counted as a crash: the worker is restarted and serves again.
	e.waitEvent(t, "restarted as", 20*time.Second)
	if again := appWorker(t, e); again == first {
		t.Fatalf("worker %d still answers after its OOM kill", first)
	}
}

func TestOOMKilledFrontEndsTheTaskWithOOMKilled(t *testing.T) {
	e := memoryAppEnv(t, pluginhost.TaskSpec{MemoryMB: 64})
	mountpoint, version := cgroupsOrSkip(t, e)
	e.start(t)
	app := appWorker(t, e)
	inspect, err := e.task.Inspect(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	master, _ := strconv.Atoi(inspect.GetDriver().GetAttributes()["front_pid"])
	front := filepath.Join(filepath.Dir(cgroupDir(t, mountpoint, version, app, "memory")), "front")

	// The front's nginx master is the OOM killer's first choice (raising a
	// score needs no privilege), once a hog in the front's cgroup fills the
	// task's memory.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", master), []byte("1000"), 0); err != nil {
		t.Fatal(err)
	}
	hog := exec.Command("python3", "-c", `
import sys, time
open(sys.argv[1], "w").write("0")
held = [bytearray(4 << 20) for _ in range(24)]
time.sleep(120)
`, filepath.Join(front, "cgroup.procs"))
	if err := hog.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hog.Process.Kill(); _ = hog.Wait() })

	result, err := e.task.Wait(ctxTimeout(t, 30*time.Second))
	if err != nil {
		t.Fatalf("WaitTask: %v", err)
	}
	if !result.GetResult().GetOomKilled() {
		t.Fatalf("the task ended with %+v, want oom_killed", result.GetResult())
	}
	e.waitEvent(t, "killed: out of memory", 5*time.Second)
}

func TestOOMKillAfterARecoveryIsReported(t *testing.T) {
	e := memoryAppEnv(t, pluginhost.TaskSpec{MemoryMB: 64})
	mountpoint, version := cgroupsOrSkip(t, e)
	e.start(t)
	first := appWorker(t, e)
	scope := filepath.Dir(cgroupDir(t, mountpoint, version, first, "memory"))

	ctx := ctxTimeout(t, 2*time.Minute)
	if _, err := e.host.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	e.host.track()
	if err := e.task.Recover(ctx, true); err != nil {
		t.Fatalf("RecoverTask: %v", err)
	}
	// The recovered task knows its cgroup: the kill is news, the leftovers go with it.
	if code, body, err := get(e.url("/allocate?mb=200")); err == nil && code == 200 {
		t.Fatalf("allocating 200 MiB in a 64 MiB task answered 200: %q", body)
	}
	e.waitEvent(t, "worker "+strconv.Itoa(first)+" of application pool default killed: out of memory", 20*time.Second)
	if err := e.task.StopWith(ctx, 2*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.task.Destroy(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(scope); !os.IsNotExist(err) {
		t.Errorf("the task's cgroup %s is still there after destroy (%v)", scope, err)
	}
}

func TestWorkerOverPrivateMemoryLimitRecyclesThePool(t *testing.T) {
	// 40 MiB private memory allowed; the task itself may use 300 MiB.
	e := memoryAppEnvWithPool(t, pluginhost.TaskSpec{MemoryMB: 300},
		`{"name": "default", "private_memory_limit": 40960}`)
	e.start(t)
	first := appWorker(t, e)
	if code, body, err := get(e.url("/allocate?mb=80")); err != nil || code != 200 {
		t.Fatalf("allocating 80 MiB: %d %q %v", code, body, err)
	}
	ev := e.waitEvent(t, "recycled (private_memory_limit 40960 KB", 20*time.Second)
	if !strings.Contains(ev.GetMessage(), "worker "+strconv.Itoa(first)) {
		t.Errorf("the event %q does not name worker %d", ev.GetMessage(), first)
	}
	if again := appWorker(t, e); again == first {
		t.Fatalf("worker %d still answers after the recycle", first)
	}
}
