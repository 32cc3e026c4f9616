package tests

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nomad_iis/host/pluginhost"
)

// The shared website tests: tasks with target_website join a node website
// declared in the driver config, each under its own alias, on the
// website's one binding.

// websiteEnv is a host with the node website "shop" on a free port.
type websiteEnv struct {
	host    *testHost
	port    int
	apiPort int
}

func newWebsiteEnv(t *testing.T) *websiteEnv {
	t.Helper()
	port, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	apiPort, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	h := startHostWithArgs(t, map[string]interface{}{
		"allowed_target_websites": []string{"shop"},
		"website": []map[string]interface{}{{
			"name": "shop",
			"binding": []map[string]interface{}{{
				"type": "http", "port": fmt.Sprint(port), "ip_address": "127.0.0.1",
			}},
		}},
	}, []string{fmt.Sprintf("--management-api-port=%d", apiPort), "--management-api-key=" + mgmtKey,
		"--management-api-bind=127.0.0.1"})
	return &websiteEnv{host: h, port: port, apiPort: apiPort}
}

func (e *websiteEnv) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", e.port, path)
}

// task makes an alloc whose task serves the static sample plus who.txt
// (saying `name`) under `alias` of the website.
func (e *websiteEnv) task(t *testing.T, name, alias string) *pluginhost.TaskRunner {
	t.Helper()
	return e.taskWith(t, name, fmt.Sprintf(`{
  "target_website": "shop",
  "application_pool": [{"identity": "ApplicationPoolIdentity"}],
  "application": [{"alias": %q, "path": "local"}]
}`, alias))
}

// taskWith is task with a job config of the test's own.
func (e *websiteEnv) taskWith(t *testing.T, name, config string) *pluginhost.TaskRunner {
	t.Helper()
	alloc, err := e.host.NewAlloc(pluginhost.AllocOptions{
		JobID: "shop-" + name,
		Root:  filepath.Join(e.host.Dir, "allocs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alloc.Close)
	task, err := alloc.NewTask(pluginhost.TaskSpec{Name: "app", Config: []byte(config)})
	if err != nil {
		t.Fatal(err)
	}
	if err := pluginhost.CopyDir(testdata("static-app"), task.Dir().LocalDir); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(task.Dir().LocalDir, "who.txt"), name)
	return task
}

// api is the Management API of a task's allocation (siteEnv.api's checks).
func (e *websiteEnv) api(t *testing.T, task *pluginhost.TaskRunner, method, path string) []byte {
	t.Helper()
	site := &siteEnv{apiBase: fmt.Sprintf("http://127.0.0.1:%d/api/v1/allocs/%s/app", e.apiPort,
		task.Alloc().ID())}
	return site.api(t, method, path)
}

// start starts the task; it is stopped and destroyed when the test ends.
func (e *websiteEnv) start(t *testing.T, task *pluginhost.TaskRunner) {
	t.Helper()
	startTaskOrSkip(t, task)
	t.Cleanup(func() {
		ctx := ctxTimeout(t, 30*time.Second)
		_ = task.StopWith(ctx, 2*time.Second, "")
		_ = task.Destroy(ctx, true)
	})
}

// mustSay waits until path answers 200 with `want`.
func (e *websiteEnv) mustSay(t *testing.T, path, want string) {
	t.Helper()
	code, body, err := getEventually(e.url(path), 10*time.Second)
	if err != nil || code != http.StatusOK || strings.TrimSpace(body) != want {
		t.Fatalf("GET %s: HTTP %d %q (%v), want 200 %q", path, code, body, err, want)
	}
}

// mustBeGone: the website answers 404 for an alias whose task `task` left it.
func (e *websiteEnv) mustBeGone(t *testing.T, path, task string) {
	t.Helper()
	if code, _, err := get(e.url(path)); err != nil || code != http.StatusNotFound {
		t.Errorf("GET %s after %s left: HTTP %d (%v), want 404", path, task, code, err)
	}
}

// startLoad runs `workers` clients GETting url back to back on kept
// connections; only a 200 saying want counts as ok.
func startLoad(url, want string, workers int) *prober {
	return probe{client: &http.Client{Timeout: 5 * time.Second}, clients: workers, want: want}.start(url)
}

func TestSharedWebsite(t *testing.T) {
	env := newWebsiteEnv(t)
	a := env.task(t, "task-a", "a")
	b := env.task(t, "task-b", "b")
	env.start(t, a)
	env.start(t, b)
	env.mustSay(t, "/a/who.txt", "task-a")
	env.mustSay(t, "/b/who.txt", "task-b")
	if code, _, _ := get(env.url("/")); code != http.StatusNotFound {
		t.Errorf("GET / of a website without physical_path: HTTP %d, want 404", code)
	}

	// An alias another task serves in the website is refused at StartTask.
	clash := env.task(t, "task-c", "a")
	ctx := ctxTimeout(t, time.Minute)
	_, err := clash.Start(ctx)
	if err == nil {
		t.Fatal("StartTask of a task claiming /a/, which task-a serves, succeeded")
	}
	for _, want := range []string{"target_website", `"/a/"`, "already served", a.TaskID()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("StartTask error %q does not name %s", err, want)
		}
	}
	env.mustSay(t, "/a/who.txt", "task-a")

	// A website the node does not declare is refused, naming the field.
	undeclared := env.taskWith(t, "task-x",
		`{"target_website": "nope", "application": [{"alias": "x", "path": "local"}]}`)
	if _, err := undeclared.Start(ctx); err == nil ||
		!strings.Contains(err.Error(), "target_website") || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("StartTask with target_website \"nope\": %v, want an error naming target_website and \"nope\"", err)
	}

	// task-b's pool is its own in the website: stop, start and recycle it
	// through the Management API; task-a keeps serving.
	if status := string(env.api(t, b, "GET", "/status")); !strings.Contains(status, `"Started"`) {
		t.Errorf("status of task-b: %s, want its pool Started", status)
	}
	env.api(t, b, "PUT", "/stop?appPoolName=default")
	if code, _, _ := get(env.url("/b/who.txt")); code != http.StatusServiceUnavailable {
		t.Errorf("GET /b/who.txt with task-b's pool stopped: HTTP %d, want 503", code)
	}
	env.mustSay(t, "/a/who.txt", "task-a")
	env.api(t, b, "PUT", "/start?appPoolName=default")
	env.mustSay(t, "/b/who.txt", "task-b")
	env.api(t, b, "PUT", "/recycle?appPoolName=default")
	env.mustSay(t, "/b/who.txt", "task-b")

	// task-a leaves while 20 clients load task-b: the website reloads
	// without one failed request for task-b.
	load := startLoad(env.url("/b/who.txt"), "task-b", 20)
	time.Sleep(300 * time.Millisecond)
	if err := a.StopWith(ctx, 5*time.Second, ""); err != nil {
		load.finish()
		t.Fatalf("StopTask task-a: %v", err)
	}
	if err := a.Destroy(ctx, true); err != nil {
		load.finish()
		t.Fatalf("DestroyTask task-a: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	ok, fail, errs := load.finish()
	t.Logf("load on task-b while task-a left: %d ok, %d failed %v", ok, fail, errs)
	if fail > 0 {
		t.Errorf("%d requests for task-b failed while task-a left the website: %v", fail, errs)
	}
	if ok < 100 {
		t.Errorf("only %d requests for task-b succeeded during the load", ok)
	}
	env.mustBeGone(t, "/a/who.txt", "task-a")
	env.mustSay(t, "/b/who.txt", "task-b")

	// The alias is free again.
	again := env.task(t, "task-d", "a")
	env.start(t, again)
	env.mustSay(t, "/a/who.txt", "task-d")
}

func TestSharedWebsiteRecovery(t *testing.T) {
	env := newWebsiteEnv(t)
	a := env.task(t, "task-a", "a")
	b := env.task(t, "task-b", "b")
	env.start(t, a)
	env.start(t, b)
	env.mustSay(t, "/a/who.txt", "task-a")
	env.mustSay(t, "/b/who.txt", "task-b")

	probeA := startProber(env.url("/a/who.txt"), 20*time.Millisecond)
	probeB := startProber(env.url("/b/who.txt"), 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	ctx := ctxTimeout(t, 2*time.Minute)
	oldPid := env.host.Driver().Pid()
	if err := env.host.Crash(ctx); err != nil { // kill -9 of the plugin
		t.Fatalf("crash: %v", err)
	}
	env.host.track()
	if env.host.Driver().Pid() == oldPid {
		t.Fatalf("plugin pid %d did not change", oldPid)
	}
	for _, task := range []*pluginhost.TaskRunner{a, b} {
		if err := task.Recover(ctx, false); err != nil {
			t.Fatalf("RecoverTask %s: %v", task.TaskID(), err)
		}
		mustBeRunning(t, task)
	}
	time.Sleep(300 * time.Millisecond)
	for name, p := range map[string]*prober{"task-a": probeA, "task-b": probeB} {
		ok, fail, errs := p.finish()
		t.Logf("probe of %s across the crash: %d ok, %d failed %v", name, ok, fail, errs)
		if fail > 0 || ok < 10 {
			t.Errorf("%s across the crash: %d ok, %d failed %v", name, ok, fail, errs)
		}
	}

	// The new plugin owns the website again: a task leaves, the other stays.
	if err := a.StopWith(ctx, 5*time.Second, ""); err != nil {
		t.Fatalf("StopTask task-a after recovery: %v", err)
	}
	env.mustBeGone(t, "/a/who.txt", "task-a")
	env.mustSay(t, "/b/who.txt", "task-b")
	again := env.task(t, "task-c", "c")
	env.start(t, again)
	env.mustSay(t, "/c/who.txt", "task-c")
	env.mustSay(t, "/b/who.txt", "task-b")
}

// An application process (httpPlatform) in a website: the website proxies
// to its port, and a recycle moves it to a new one with a website reload,
// while a static task beside it keeps serving.
func TestSharedWebsiteWithAnAppProcess(t *testing.T) {
	env := newWebsiteEnv(t)
	static := env.task(t, "task-s", "s")
	app := env.task(t, "task-p", "p")
	src := filepath.Join("..", "..", "tests", "data", "iis", "httpplatform")
	if err := pluginhost.CopyDir(src, app.Dir().LocalDir); err != nil {
		t.Fatal(err)
	}
	env.start(t, static)
	env.start(t, app)
	code, body, err := getEventually(env.url("/p/hello"), 20*time.Second)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "hello from httpPlatform") {
		t.Fatalf("GET /p/hello: HTTP %d %q (%v)", code, body, err)
	}
	load := startLoad(env.url("/s/who.txt"), "task-s", 10)
	env.api(t, app, "PUT", "/recycle?appPoolName=default")
	time.Sleep(200 * time.Millisecond)
	ok, fail, errs := load.finish()
	if fail > 0 || ok == 0 {
		t.Errorf("task-s during task-p's recycle: %d ok, %d failed %v", ok, fail, errs)
	}
	code, body, err = getEventually(env.url("/p/hello"), 20*time.Second)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "hello from httpPlatform") {
		t.Fatalf("GET /p/hello after the recycle: HTTP %d %q (%v)", code, body, err)
	}
}
