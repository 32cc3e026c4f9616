// Package management tests the plugin's Management API over real HTTP: the
// plugin is launched as a Nomad agent launches it (pluginhost), runs a real
// nginx-served static site, and the tests call the API like a management
// tool would.
package management

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"nomad_iis/host/pluginhost"
)

const (
	apiKey       = "test-api-key-0123456789"
	jwtSecret    = "test-jwt-secret-0123456789abcdef"
	staticMarker = "served-by-nomad-iis-static-sample"
)

// pluginPath is the binary under test; the test is skipped without it.
func pluginPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("NOMAD_IIS_PLUGIN")
	if p == "" {
		t.Skip("NOMAD_IIS_PLUGIN is not set (host/test.sh sets it)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("NOMAD_IIS_PLUGIN=%s: %v", p, err)
	}
	return p
}

// syncBuffer collects plugin log lines; they are printed only on failure.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tempDir is a world-traversable temp dir removed at the end.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "niis-mgmt-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeSecret writes a root-only secret file into dir and returns its path.
func writeSecret(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// env is one started plugin (agent start with Management API args) with
// its API base URL.
type env struct {
	t    *testing.T
	host *pluginhost.Host
	dir  string
	base string // http://127.0.0.1:PORT/api/v1
	port int
	log  *syncBuffer
}

type envOptions struct {
	// args replace the default auth (the key from a file, the JWT secret
	// from the environment) when non-nil.
	args []string
	// env is added to the plugin's environment.
	env []string
	// config is merged into the agent-side plugin config.
	config map[string]interface{}
	// port is the API port; 0 picks a free one.
	port int
	// noWait skips waiting for the API to listen.
	noWait bool
}

func startEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	dir := tempDir(t)
	port := o.port
	if port == 0 {
		p, err := pluginhost.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		port = p
	}
	args, pluginEnv := o.args, o.env
	if args == nil {
		args = []string{"--management-api-key-file=" + writeSecret(t, dir, "api-key", apiKey+"\n")}
		pluginEnv = append(pluginEnv, "NOMAD_IIS_MANAGEMENT_API_JWT_SECRET="+jwtSecret)
	}
	args = append([]string{fmt.Sprintf("--management-api-port=%d", port)}, args...)
	cfg := map[string]interface{}{"data_dir": filepath.Join(dir, "data")}
	for k, v := range o.config {
		cfg[k] = v
	}
	cfgJSON, _ := json.Marshal(cfg)
	logBuf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("plugin log:\n%s", logBuf.String())
		}
	})
	// Sweep last: task processes still mentioning the test dir are killed by pid.
	t.Cleanup(func() {
		if left := pluginhost.ProcessesMentioning(dir); len(left) > 0 {
			pluginhost.KillPids(left)
		}
	})
	opts := pluginhost.LaunchOptions{
		Path:         pluginPath(t),
		Args:         args,
		Env:          pluginEnv,
		Logger:       hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Debug, Output: logBuf}),
		StartTimeout: 20 * time.Second,
	}
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{Launch: opts, PluginConfig: cfgJSON})
	if err != nil {
		t.Fatalf("agent start: %v", err)
	}
	pid := h.Driver().Pid()
	t.Cleanup(func() {
		h.Shutdown()
		if pluginhost.PidAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			pluginhost.WaitPidsGone([]int{pid}, 5*time.Second)
		}
	})
	e := &env{t: t, host: h, dir: dir, port: port, log: logBuf,
		base: fmt.Sprintf("http://127.0.0.1:%d/api/v1", port)}
	if !o.noWait {
		e.waitListening(15 * time.Second)
	}
	return e
}

// pid is the long-lived plugin's pid.
func (e *env) pid() int { return e.host.Driver().Pid() }

func (e *env) waitListening(timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(e.base + "/allocs")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the Management API did not listen on %s: %v", e.base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// app is one alloc with the static sample site as task "app".
type app struct {
	alloc   *pluginhost.Alloc
	task    *pluginhost.TaskRunner
	siteURL string
	api     string // base URL of this task's routes
}

type appOptions struct {
	job, namespace string
	// configJSON replaces the task config (a "%d" is not expanded; use the
	// port label "httplabel").
	configJSON string
	// https: the config's httplabel binding is https (the site is checked over https).
	https bool
}

const staticConfig = `{
  "application_pool": [{"identity": "ApplicationPoolIdentity"}],
  "application": [{"path": "local"}],
  "binding": [{"type": "http", "port": "httplabel"}]
}`

func (e *env) startApp(o appOptions) *app {
	t := e.t
	t.Helper()
	port, err := pluginhost.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if o.job == "" {
		o.job = "static-app"
	}
	alloc, err := e.host.NewAlloc(pluginhost.AllocOptions{
		JobID: o.job, Namespace: o.namespace,
		Ports: []pluginhost.Port{{Label: "httplabel", Value: port, HostIP: "127.0.0.1"}},
		Root:  filepath.Join(e.dir, "allocs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alloc.Close)
	cfg := o.configJSON
	if cfg == "" {
		cfg = staticConfig
	}
	task, err := alloc.NewTask(pluginhost.TaskSpec{Name: "app", Config: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	if err := pluginhost.CopyDir(filepath.Join("..", "..", "testdata", "static-app"), task.Dir().LocalDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(task.Dir().SecretsDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(task.Dir().SecretsDir, "token"), []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := task.Start(ctx); err != nil {
		if status.Code(err) == codes.Unimplemented {
			t.Skipf("StartTask is unimplemented: %v", err)
		}
		t.Fatalf("StartTask: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = task.StopWith(ctx, 2*time.Second, "")
		_ = task.Destroy(ctx, true)
	})
	scheme := "http"
	if o.https {
		scheme = "https"
	}
	a := &app{alloc: alloc, task: task, siteURL: fmt.Sprintf("%s://127.0.0.1:%d/", scheme, port),
		api: fmt.Sprintf("%s/allocs/%s/app", e.base, alloc.ID())}
	code, body := waitSite(t, a.siteURL+"index.html", 20*time.Second)
	if code != 200 || !strings.Contains(body, staticMarker) {
		t.Fatalf("the site does not serve: %d %q", code, body)
	}
	return a
}

// localDir is the task's local/ directory.
func (a *app) localDir() string { return a.task.Dir().LocalDir }

// siteClient also takes an https site's self-signed certificate.
var siteClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// fetchSite GETs a URL of the site itself (served by nginx).
func fetchSite(url string) (int, string) {
	resp, err := siteClient.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitSite(t *testing.T, url string, timeout time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := fetchSite(url)
		if code == 200 || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---- API calls ----

// auth is a way to authenticate a request.
type auth func(*http.Request)

func withKey(k string) auth {
	return func(r *http.Request) { r.Header.Set("X-Api-Key", k) }
}

func withBearer(tok string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func noAuth(*http.Request) {}

var apiClient = &http.Client{Timeout: 2 * time.Minute}

type apiResponse struct {
	code   int
	body   []byte
	header http.Header
}

func (r apiResponse) String() string {
	b := string(r.body)
	if len(b) > 300 {
		b = b[:300] + "..."
	}
	return fmt.Sprintf("HTTP %d %s", r.code, b)
}

// errorCode is the "error" field of a JSON error body ("" if none).
func (r apiResponse) errorCode() string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error
}

func call(t *testing.T, a auth, method, url string, body io.Reader, contentType string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	a(req)
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return apiResponse{code: resp.StatusCode, body: b, header: resp.Header}
}

func get(t *testing.T, a auth, url string) apiResponse { return call(t, a, "GET", url, nil, "") }

// expect fails unless the response has `code`; for 4xx/5xx it also checks
// the JSON error shape.
func expect(t *testing.T, r apiResponse, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: got %v, want %d", what, r, code)
		return
	}
	if code >= 400 {
		var e map[string]interface{}
		if err := json.Unmarshal(r.body, &e); err != nil || e["error"] == nil || e["message"] == nil {
			t.Errorf("%s: error body is not {\"error\",\"message\"}: %q", what, r.body)
		}
	}
}

type poolStatus struct {
	Name      string `json:"name"`
	Status    string `json:"status"`
	Running   bool   `json:"isWorkerProcessRunning"`
	WorkerIDs []int  `json:"workerProcessIds"`
}

type taskStatus struct {
	AllocID  string       `json:"allocId"`
	TaskName string       `json:"taskName"`
	Default  *poolStatus  `json:"defaultApplicationPool"`
	Pools    []poolStatus `json:"applicationPools"`
}

func (a *app) status(t *testing.T) taskStatus {
	t.Helper()
	r := get(t, withKey(apiKey), a.api+"/status")
	if r.code != 200 {
		t.Fatalf("status: %v", r)
	}
	var s taskStatus
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("status JSON: %v (%s)", err, r.body)
	}
	return s
}

// ---- JWTs (HS256 by hand: Debian's Go has no JWT library) ----

type claims map[string]interface{}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func signJWT(header map[string]interface{}, c claims, secret string) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(c)
	signing := b64(h) + "." + b64(p)
	if secret == "" {
		return signing + "."
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + b64(mac.Sum(nil))
}

// jwtFor is a valid token for one alloc with the given capabilities; tweak
// edits the claims before signing.
func jwtFor(allocID string, caps []string, tweak func(claims)) string {
	now := time.Now().Unix()
	c := claims{
		"iss": "NomadIIS", "aud": "ManagementApi",
		"iat": now, "nbf": now - 60, "exp": now + 3600,
		"namespace": "default", "jobName": "static-app", "allocId": allocID,
		"capabilities": caps,
	}
	if tweak != nil {
		tweak(c)
	}
	return signJWT(map[string]interface{}{"alg": "HS256", "typ": "JWT"}, c, jwtSecret)
}

// ---- zips ----

type zipEntry struct {
	name string
	data []byte
	mode os.FileMode // 0 = regular 0644
}

func makeZip(t *testing.T, entries []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot maps every file below dir to its content (symlinks as "->target").
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "->" + l
		case info.IsDir():
			out[rel+"/"] = ""
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// noStaging fails if an upload left a staging dir anywhere below dir.
func noStaging(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), ".nomad-iis-staging-") {
			t.Errorf("staging dir left behind: %s", p)
		}
		return nil
	})
}

// procStatusKB reads a field of /proc/<pid>/status ("Threads"; VmXXX in kB).
func procStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	n, err := pluginhost.ProcStatus(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ---- raw connections ----

// rawClient is one keep-alive connection with requests written by hand.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	path string // the app's route prefix, /api/v1/allocs/ID/app
}

func dialRaw(t *testing.T, e *env, a *app) *rawClient {
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawClient{t: t, conn: conn, r: bufio.NewReader(conn),
		path: strings.TrimPrefix(a.api, fmt.Sprintf("http://127.0.0.1:%d", e.port))}
}

func rawRequest(method, target, headers string) string {
	return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n"
}

func (c *rawClient) write(s string) {
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) read(what string) (int, string) {
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("%s: no response: %v", what, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("%s: body: %v", what, err)
	}
	return resp.StatusCode, string(body)
}

func (c *rawClient) expect(what, request string, code int, bodyHas string) string {
	c.t.Helper()
	c.write(request)
	got, body := c.read(what)
	if got != code || !strings.Contains(body, bodyHas) {
		c.t.Fatalf("%s: %d %q, want %d with %q", what, got, body, code, bodyHas)
	}
	return body
}
