package management

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRoutes walks every route's success and failure codes.
func TestRoutes(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	other := e.startApp(appOptions{job: "other-job", namespace: "prod"})
	key := withKey(apiKey)

	t.Run("unknown route and wrong method", func(t *testing.T) {
		expect(t, get(t, key, e.base+"/nope"), 404, "unknown route")
		expect(t, get(t, key, a.api+"/nope"), 404, "unknown task route")
		r := call(t, key, "POST", a.api+"/status", nil, "")
		expect(t, r, 405, "POST status")
		if r.header.Get("Allow") != "GET" {
			t.Errorf("Allow %q, want GET", r.header.Get("Allow"))
		}
		r = get(t, key, a.api+"/start")
		expect(t, r, 405, "GET start")
		if r.header.Get("Allow") != "PUT" {
			t.Errorf("Allow %q, want PUT", r.header.Get("Allow"))
		}
		expect(t, call(t, key, "POST", a.api+"/fs/local", nil, ""), 405, "POST fs")
	})

	t.Run("list allocs", func(t *testing.T) {
		type entry struct {
			AllocID   string `json:"allocId"`
			TaskName  string `json:"taskName"`
			Namespace string `json:"namespace"`
			JobName   string `json:"jobName"`
			Group     string `json:"taskGroupName"`
		}
		list := func(a auth, query string) []entry {
			r := get(t, a, e.base+"/allocs"+query)
			if r.code != 200 {
				t.Fatalf("allocs%s: %v", query, r)
			}
			var out []entry
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if all := list(key, ""); len(all) != 2 {
			t.Errorf("allocs: %v, want both tasks", all)
		}
		if l := list(key, "?job=other-job"); len(l) != 1 || l[0].AllocID != other.alloc.ID() || l[0].Namespace != "prod" {
			t.Errorf("allocs?job=other-job: %v", l)
		}
		if l := list(key, "?namespace=default&task=app"); len(l) != 1 || l[0].AllocID != a.alloc.ID() ||
			l[0].Group != "web" || l[0].JobName != "static-app" {
			t.Errorf("allocs?namespace=default: %v", l)
		}
		if l := list(key, "?task=nope"); len(l) != 0 {
			t.Errorf("allocs?task=nope: %v", l)
		}
		// A scoped token sees only its own.
		scoped := withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, nil))
		if l := list(scoped, ""); len(l) != 1 || l[0].AllocID != a.alloc.ID() {
			t.Errorf("allocs for a scoped token: %v", l)
		}
		expect(t, get(t, withBearer(jwtFor("*", []string{"Screenshots"}, nil)), e.base+"/allocs"), 403,
			"allocs without Status")
	})

	t.Run("status", func(t *testing.T) {
		s := a.status(t)
		if s.AllocID != a.alloc.ID() || s.TaskName != "app" || s.Default == nil || len(s.Pools) != 1 {
			t.Fatalf("status: %+v", s)
		}
		if s.Default.Status != "Started" || !s.Default.Running || len(s.Default.WorkerIDs) == 0 {
			t.Errorf("default pool: %+v", s.Default)
		}
	})

	t.Run("pool lifecycle", func(t *testing.T) {
		expect(t, call(t, key, "PUT", a.api+"/stop?appPoolName=nope", nil, ""), 400, "stop unknown pool")
		expect(t, call(t, key, "PUT", a.api+"/stop", nil, ""), 200, "stop")
		if s := a.status(t); s.Default.Status != "Stopped" || s.Default.Running {
			t.Errorf("after stop: %+v", s.Default)
		}
		if code, _ := fetchSite(a.siteURL); code == 200 {
			t.Errorf("the stopped pool still serves 200")
		}
		expect(t, call(t, key, "PUT", a.api+"/start?appPoolName=default", nil, ""), 200, "start")
		if s := a.status(t); s.Default.Status != "Started" {
			t.Errorf("after start: %+v", s.Default)
		}
		before := a.status(t).Default.WorkerIDs
		expect(t, call(t, key, "PUT", a.api+"/recycle", nil, ""), 200, "recycle")
		if code, body := waitSite(t, a.siteURL, 10*time.Second); code != 200 || !strings.Contains(body, staticMarker) {
			t.Errorf("after recycle: %d", code)
		}
		t.Logf("workers before recycle %v, after %v", before, a.status(t).Default.WorkerIDs)
		lifecycleOnly := withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, nil))
		expect(t, call(t, lifecycleOnly, "PUT", a.api+"/stop", nil, ""), 403, "stop without AppPoolLifecycle")
	})

	t.Run("download", func(t *testing.T) {
		r := get(t, key, a.api+"/fs/local%2Findex.html")
		expect(t, r, 200, "file, one segment")
		if !strings.Contains(string(r.body), staticMarker) || r.header.Get("Content-Type") != "application/octet-stream" ||
			!strings.Contains(r.header.Get("Content-Disposition"), `filename="index.html"`) {
			t.Errorf("file download: %v %v", r.header, r)
		}
		expect(t, get(t, key, a.api+"/fs/local/index.html"), 200, "file, nested segments")
		os.MkdirAll(filepath.Join(a.localDir(), "sub", "deeper"), 0o755)
		os.WriteFile(filepath.Join(a.localDir(), "sub", "deeper", "x.txt"), []byte("deep"), 0o644)
		os.Symlink("/etc", filepath.Join(a.localDir(), "etc-link"))
		os.Symlink("index.html", filepath.Join(a.localDir(), "inner-link"))
		r = get(t, key, a.api+"/fs/local")
		expect(t, r, 200, "folder")
		if r.header.Get("Content-Type") != "application/zip" {
			t.Errorf("folder content type %q", r.header.Get("Content-Type"))
		}
		zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
		if err != nil {
			t.Fatalf("folder zip: %v", err)
		}
		names := map[string]string{}
		for _, f := range zr.File {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			names[f.Name] = string(b)
		}
		if !strings.Contains(names["index.html"], staticMarker) || names["sub/deeper/x.txt"] != "deep" {
			t.Errorf("zip entries: %v", keys(names))
		}
		for n := range names {
			if strings.HasPrefix(n, "etc-link") || strings.HasPrefix(n, "inner-link") {
				t.Errorf("symlink %s was followed into the zip", n)
			}
		}
		// The task dir as a whole: secrets/ is left out.
		r = get(t, key, a.api+"/fs/")
		expect(t, r, 200, "task dir")
		if bytes.Contains(r.body, []byte("s3cr3t")) || bytes.Contains(r.body, []byte("secrets/token")) {
			t.Error("the task dir zip contains secrets")
		}
		expect(t, get(t, key, a.api+"/fs/local/missing.txt"), 404, "missing file")
		expect(t, get(t, key, e.base+"/allocs/"+a.alloc.ID()+"/nope/fs/local"), 404, "unknown task")
	})

	t.Run("bad paths", func(t *testing.T) {
		for _, p := range []string{"..%2F..%2Fetc%2Fpasswd", "local/..%2F..%2F..%2Fetc", "%2e%2e/%2e%2e/etc",
			"%252e%252e%252fetc", "%2Fetc%2Fpasswd", "local%00x", "local/etc-link/passwd", "local%5C..%5C..",
			"local/%2e%2e%2f%2e%2e%2f"} {
			r := get(t, key, a.api+"/fs/"+p)
			expect(t, r, 400, "GET fs/"+p)
			r = call(t, key, "PUT", a.api+"/fs/"+p, strings.NewReader("x"), "text/plain")
			expect(t, r, 400, "PUT fs/"+p)
			expect(t, call(t, key, "DELETE", a.api+"/fs/"+p, nil, ""), 400, "DELETE fs/"+p)
		}
		expect(t, get(t, key, a.api+"/fs/secrets/token"), 403, "secrets read")
		expect(t, call(t, key, "PUT", a.api+"/fs/secrets/x", strings.NewReader("x"), "text/plain"), 403, "secrets write")
		expect(t, call(t, key, "DELETE", a.api+"/fs/secrets", nil, ""), 403, "secrets delete")
		expect(t, get(t, withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, nil)), a.api+"/fs/local"), 403,
			"fs without FilesystemAccess")
		expect(t, call(t, key, "DELETE", a.api+"/fs/", nil, ""), 400, "delete the task dir")
	})

	t.Run("delete", func(t *testing.T) {
		dir := filepath.Join(a.localDir(), "del")
		os.MkdirAll(filepath.Join(dir, "inner"), 0o755)
		for _, f := range []string{"a.txt", "b.txt", "inner/c.txt"} {
			os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
		}
		expect(t, call(t, key, "DELETE", a.api+"/fs/local/del/a.txt", nil, ""), 200, "delete file")
		if _, err := os.Stat(filepath.Join(dir, "a.txt")); !os.IsNotExist(err) {
			t.Error("a.txt still exists")
		}
		expect(t, call(t, key, "DELETE", a.api+"/fs/local/del/*", nil, ""), 200, "empty folder")
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("folder not emptied: %v", ents)
		}
		os.WriteFile(filepath.Join(dir, "d.txt"), []byte("d"), 0o644)
		expect(t, call(t, key, "DELETE", a.api+"/fs/local%2Fdel%2F*.*", nil, ""), 200, "empty folder /*.*")
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("folder not emptied: %v", ents)
		}
		expect(t, call(t, key, "DELETE", a.api+"/fs/local/del", nil, ""), 200, "delete folder")
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Error("folder still exists")
		}
		expect(t, call(t, key, "DELETE", a.api+"/fs/local/del", nil, ""), 404, "delete missing")
		// Deleting a link removes the link, never its target.
		expect(t, call(t, key, "DELETE", a.api+"/fs/local/inner-link", nil, ""), 200, "delete link")
		if _, err := os.Stat(filepath.Join(a.localDir(), "index.html")); err != nil {
			t.Error("deleting a link removed its target")
		}
		noStaging(t, a.task.Dir().Dir)
	})

	t.Run("debug", func(t *testing.T) {
		r := get(t, key, e.base+"/debug")
		expect(t, r, 200, "debug")
		var d struct {
			TaskCount int `json:"taskCount"`
			Tasks     []struct {
				AllocID     string `json:"allocId"`
				IsRecovered bool   `json:"isRecovered"`
			} `json:"tasks"`
			Dangling []interface{} `json:"danglingSites"`
		}
		if err := json.Unmarshal(r.body, &d); err != nil || d.TaskCount != 2 || d.Dangling == nil {
			t.Errorf("debug: %v %s", err, r.body)
		}
	})
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
