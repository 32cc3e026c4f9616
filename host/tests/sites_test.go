package tests

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// The site tests run real sites through the plugin as Nomad runs them and
// look at them from outside: over HTTP(S), through the Management API and
// through the driver's TaskEvents stream.

const mgmtKey = "sites-test-key"

// siteEnv is a host with the Management API on and one alloc with the group
// port "httplabel".
type siteEnv struct {
	host    *testHost
	alloc   *pluginhost.Alloc
	task    *pluginhost.TaskRunner
	port    int
	apiBase string
}

func newSiteEnv(t *testing.T, taskConfig string) *siteEnv {
	t.Helper()
	return newSiteEnvWith(t, nil, taskConfig, nil)
}

// newSiteEnvWith is newSiteEnv with an agent-side plugin config and the
// task's `env { ... }` block.
func newSiteEnvWith(t *testing.T, pluginConfig map[string]interface{}, taskConfig string, env map[string]string) *siteEnv {
	t.Helper()
	return newSiteEnvFull(t, pluginConfig, pluginhost.TaskSpec{Name: "app", Config: []byte(taskConfig), Env: env})
}

// newSiteEnvSpec is newSiteEnv for a task spec of the test's own (resources);
// its Name must be "app".
func newSiteEnvSpec(t *testing.T, spec pluginhost.TaskSpec) *siteEnv {
	t.Helper()
	return newSiteEnvFull(t, nil, spec)
}

// newSiteEnvFull starts the host (with `pluginConfig`) and the task `spec`.
func newSiteEnvFull(t *testing.T, pluginConfig map[string]interface{}, spec pluginhost.TaskSpec) *siteEnv {
	t.Helper()
	apiPort, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	h := startHostWithArgs(t, pluginConfig, []string{
		fmt.Sprintf("--management-api-port=%d", apiPort), "--management-api-key=" + mgmtKey,
		"--management-api-bind=127.0.0.1"})
	port, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := h.NewAlloc(pluginhost.AllocOptions{
		JobID: "sites",
		Ports: []pluginhost.Port{{Label: "httplabel", Value: port, HostIP: "127.0.0.1"}},
		Root:  filepath.Join(h.Dir, "allocs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alloc.Close)
	task, err := alloc.NewTask(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &siteEnv{host: h, alloc: alloc, task: task, port: port,
		apiBase: fmt.Sprintf("http://127.0.0.1:%d/api/v1/allocs/%s/app", apiPort, alloc.ID())}
}

func (e *siteEnv) start(t *testing.T) {
	t.Helper()
	startTaskOrSkip(t, e.task)
	t.Cleanup(func() {
		ctx := ctxTimeout(t, 30*time.Second)
		_ = e.task.StopWith(ctx, 2*time.Second, "")
		_ = e.task.Destroy(ctx, true)
	})
}

func (e *siteEnv) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", e.port, path) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// api calls the Management API and fails the test on a non-2xx answer.
func (e *siteEnv) api(t *testing.T, method, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, e.apiBase+path, nil)
	req.Header.Set("X-Api-Key", mgmtKey)
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, body)
	}
	return body
}

type poolStatus struct {
	Name                   string `json:"name"`
	Status                 string `json:"status"`
	IsWorkerProcessRunning bool   `json:"isWorkerProcessRunning"`
	WorkerProcessIds       []int  `json:"workerProcessIds"`
}

func (e *siteEnv) pools(t *testing.T) map[string]poolStatus {
	t.Helper()
	var status struct {
		ApplicationPools []poolStatus `json:"applicationPools"`
	}
	if err := json.Unmarshal(e.api(t, "GET", "/status"), &status); err != nil {
		t.Fatal(err)
	}
	out := map[string]poolStatus{}
	for _, p := range status.ApplicationPools {
		out[p.Name] = p
	}
	return out
}

// waitEvent waits for a TaskEvent of this task whose message contains text.
func (e *siteEnv) waitEvent(t *testing.T, text string, timeout time.Duration) *driverpb.DriverTaskEvent {
	t.Helper()
	ev, err := e.host.Driver().Events.WaitFor(ctxTimeout(t, timeout), func(ev *driverpb.DriverTaskEvent) bool {
		return ev.GetAllocId() == e.alloc.ID() && ev.GetTaskName() == "app" && strings.Contains(ev.GetMessage(), text)
	})
	if err != nil {
		t.Fatalf("no task event containing %q: %v", text, err)
	}
	return ev
}

// loop GETs url until stopped and counts answers that are not 200.
type loop struct {
	stop     chan struct{}
	done     sync.WaitGroup
	ok, fail int64
	firstErr atomic.Value
}

func startLoop(url string) *loop {
	l := &loop{stop: make(chan struct{})}
	for i := 0; i < 4; i++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				code, _, err := get(url)
				if err == nil && code == http.StatusOK {
					atomic.AddInt64(&l.ok, 1)
					continue
				}
				atomic.AddInt64(&l.fail, 1)
				l.firstErr.CompareAndSwap(nil, fmt.Sprintf("HTTP %d / %v", code, err))
			}
		}()
	}
	return l
}

func (l *loop) end() (int64, int64, interface{}) {
	close(l.stop)
	l.done.Wait()
	return atomic.LoadInt64(&l.ok), atomic.LoadInt64(&l.fail), l.firstErr.Load()
}

const twoPools = `{
  "application_pool": [{"name": "a"}, {"name": "b"}],
  "application": [
    {"path": "local/a", "application_pool": "a"},
    {"path": "local/b", "alias": "b", "application_pool": "b"}
  ],
  "binding": [{"type": "http", "port": "httplabel"}]
}`

func TestTwoPoolsStopOneRecycleTheOther(t *testing.T) {
	e := newSiteEnv(t, twoPools)
	writeFile(t, filepath.Join(e.task.Dir().LocalDir, "a", "index.html"), "pool-a-content")
	writeFile(t, filepath.Join(e.task.Dir().LocalDir, "b", "index.html"), "pool-b-content")
	e.start(t)
	for path, want := range map[string]string{"/": "pool-a-content", "/b/": "pool-b-content"} {
		if code, body, err := getEventually(e.url(path), 10*time.Second); err != nil || code != 200 || !strings.Contains(body, want) {
			t.Fatalf("GET %s: %d %q %v", path, code, body, err)
		}
	}

	e.api(t, "PUT", "/stop?appPoolName=b")
	if code, _, err := get(e.url("/b/")); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("GET /b/ with pool b stopped: %d %v, want 503", code, err)
	}
	if code, _, err := get(e.url("/")); err != nil || code != http.StatusOK {
		t.Fatalf("GET / with pool b stopped: %d %v, want 200", code, err)
	}
	pools := e.pools(t)
	if pools["b"].Status != "Stopped" || pools["b"].IsWorkerProcessRunning || pools["a"].Status != "Started" {
		t.Fatalf("pool states after stopping b: %+v", pools)
	}
	e.waitEvent(t, "Application pool b stopped", 5*time.Second)

	// Recycle pool a under a request loop: new workers, not one failed request.
	before := pools["a"].WorkerProcessIds
	l := startLoop(e.url("/"))
	time.Sleep(300 * time.Millisecond)
	e.api(t, "PUT", "/recycle?appPoolName=a")
	time.Sleep(300 * time.Millisecond)
	ok, fail, first := l.end()
	if fail != 0 || ok == 0 {
		t.Fatalf("request loop during recycle: %d ok, %d failed (first: %v)", ok, fail, first)
	}
	after := e.pools(t)["a"].WorkerProcessIds
	if len(after) == 0 || len(before) == 0 || after[0] == before[0] {
		t.Fatalf("worker pids of pool a before %v and after %v the recycle", before, after)
	}
	e.waitEvent(t, "Application pool a recycled", 5*time.Second)

	e.api(t, "PUT", "/start?appPoolName=b")
	if code, body, err := getEventually(e.url("/b/"), 10*time.Second); err != nil || code != 200 || !strings.Contains(body, "pool-b-content") {
		t.Fatalf("GET /b/ after starting b again: %d %q %v", code, body, err)
	}
}

func TestHttpPlatformAppIsServedThroughNginx(t *testing.T) {
	e := newSiteEnv(t, `{
  "application": [{"path": "local"}],
  "binding": [{"type": "http", "port": "httplabel"}]
}`)
	src := filepath.Join("..", "..", "tests", "data", "iis", "httpplatform")
	if err := pluginhost.CopyDir(src, e.task.Dir().LocalDir); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	code, body, err := getEventually(e.url("/hello"), 20*time.Second)
	if err != nil || code != 200 {
		t.Fatalf("GET /hello: %d %q %v", code, body, err)
	}
	if !strings.Contains(body, "hello from httpPlatform") || !strings.Contains(body, "path=/hello") {
		t.Fatalf("the app's answer %q lacks its web.config environment or the path", body)
	}
	// The app listens where HTTP_PLATFORM_PORT says, which is not the binding's port.
	if strings.Contains(body, fmt.Sprintf("port=%d ", e.port)) {
		t.Fatalf("the app answered on the public port itself: %q", body)
	}
	pools := e.pools(t)
	if !pools["default"].IsWorkerProcessRunning {
		t.Fatalf("pool default reports no worker: %+v", pools)
	}
}

func TestHttpsWithSelfSignedCertificate(t *testing.T) {
	e := newSiteEnv(t, `{
  "application": [{"path": "local"}],
  "binding": [{"type": "https", "port": "httplabel", "certificate": [{"use_self_signed": true}]}]
}`)
	writeFile(t, filepath.Join(e.task.Dir().LocalDir, "index.html"), "tls-content")
	e.start(t)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/", e.port)
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err = client.Get(url); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "tls-content") {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
	}
	cert := resp.TLS.PeerCertificates[0]
	if err := cert.VerifyHostname("localhost"); err != nil {
		t.Fatalf("the self-signed certificate does not name localhost: %v (DNS %v)", err, cert.DNSNames)
	}
	e.waitEvent(t, "self-signed certificate created", 5*time.Second)
}

func TestKilledWorkerIsRestartedWithAnEvent(t *testing.T) {
	e := newSiteEnv(t, `{
  "application": [{"path": "local"}],
  "binding": [{"type": "http", "port": "httplabel"}]
}`)
	writeFile(t, filepath.Join(e.task.Dir().LocalDir, "index.html"), "worker-content")
	e.start(t)
	if code, _, err := getEventually(e.url("/"), 10*time.Second); err != nil || code != 200 {
		t.Fatalf("GET /: %d %v", code, err)
	}
	workers := e.workers(t)
	if err := syscall.Kill(workers[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev := e.waitEvent(t, fmt.Sprintf("worker %d", workers[0]), 10*time.Second)
	if !strings.Contains(ev.GetMessage(), "restarted") {
		t.Fatalf("event after the kill: %q", ev.GetMessage())
	}
	if code, _, err := getEventually(e.url("/"), 10*time.Second); err != nil || code != 200 {
		t.Fatalf("GET / after the worker was killed: %d %v", code, err)
	}
	now := e.pools(t)["default"].WorkerProcessIds
	if len(now) == 0 || now[0] == workers[0] {
		t.Fatalf("worker pids before %v and after %v the kill", workers, now)
	}
}
