package management

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardIsPublicUnderItsPolicy: with an API key configured, /ui and
// its files answer without credentials (they hold no secret) under the
// Content-Security-Policy, while every API route still needs them, and no
// file the page loads holds inline script.
func TestDashboardIsPublicUnderItsPolicy(t *testing.T) {
	e := startEnv(t, envOptions{})
	root := strings.TrimSuffix(e.base, "/api/v1")
	page := get(t, noAuth, root+"/ui/")
	expect(t, page, 200, "GET /ui/")
	csp := page.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'",
		"img-src 'self' blob:", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer", "Content-Type": "text/html; charset=utf-8"} {
		if got := page.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	body := string(page.body)
	if m := regexp.MustCompile(`(?is)<script[^>]*>\s*[^<\s]`).FindString(body); m != "" {
		t.Errorf("inline script in the page: %q", m)
	}
	if regexp.MustCompile(`(?i)\son[a-z]+\s*=|<style|\sstyle=`).MatchString(body) {
		t.Error("inline handlers or styles in the page")
	}
	// Every file the page loads, and the modules those import.
	refs := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"|from '\./([^']+)'`)
	seen := map[string]bool{}
	queue := []string{body}
	for len(queue) > 0 {
		text := queue[0]
		queue = queue[1:]
		for _, m := range refs.FindAllStringSubmatch(text, -1) {
			path := m[1]
			if path == "" {
				path = "/ui/" + m[2]
			}
			if seen[path] {
				continue
			}
			seen[path] = true
			r := get(t, noAuth, root+path)
			expect(t, r, 200, "GET "+path)
			if r.header.Get("Content-Security-Policy") != csp || r.header.Get("ETag") == "" {
				t.Errorf("%s: CSP %q, ETag %q", path, r.header.Get("Content-Security-Policy"), r.header.Get("ETag"))
			}
			if strings.HasSuffix(path, ".js") {
				if ct := r.header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
					t.Errorf("%s: Content-Type %q", path, ct)
				}
				queue = append(queue, string(r.body))
			}
		}
	}
	for _, want := range []string{"/ui/app.js", "/ui/style.css", "/ui/api.js", "/ui/files.js"} {
		if !seen[want] {
			t.Errorf("the page never loads %s (loaded %v)", want, seen)
		}
	}
	// A cached copy is revalidated by its ETag.
	req, _ := http.NewRequest("GET", root+"/ui/app.js", nil)
	req.Header.Set("If-None-Match", get(t, noAuth, root+"/ui/app.js").header.Get("ETag"))
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	// The API behind it is not public.
	expect(t, get(t, noAuth, e.base+"/allocs"), 401, "allocs without credentials")
	expect(t, call(t, noAuth, "PUT", root+"/ui/app.js", strings.NewReader("x"), "text/plain"), 401, "PUT /ui")
}

// TestFolderListing: GET fs/{path}?list=true lists a folder of a real task
// as JSON; secrets/ and private/ stay out, a file is 400.
func TestFolderListing(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	key := withKey(apiKey)
	expect(t, call(t, key, "PUT", a.api+"/fs/local/sub/page.html", strings.NewReader("<p>12345</p>"), "text/html"), 200, "PUT")
	r := get(t, key, a.api+"/fs/local?list=true")
	expect(t, r, 200, "list local")
	var l struct {
		Path    string `json:"path"`
		Entries []struct {
			Name, Type, Modified string
			Size                 int64
		} `json:"entries"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	names := map[string]string{}
	for _, en := range l.Entries {
		names[en.Name] = en.Type
	}
	if l.Path != "local" || names["sub"] != "directory" || names["index.html"] != "file" {
		t.Errorf("listing of local: %s", r.body)
	}
	r = get(t, key, a.api+"/fs/local/sub?list=true")
	expect(t, r, 200, "list sub")
	if !strings.Contains(string(r.body), `{"name":"page.html","type":"file","size":12,"modified":"`) {
		t.Errorf("listing of local/sub: %s", r.body)
	}
	r = get(t, key, a.api+"/fs/?list=true")
	expect(t, r, 200, "list the task dir")
	if strings.Contains(string(r.body), `"secrets"`) || strings.Contains(string(r.body), `"private"`) ||
		!strings.Contains(string(r.body), `"local"`) {
		t.Errorf("listing of the task dir: %s", r.body)
	}
	r = get(t, key, a.api+"/fs/local/sub/page.html?list=true")
	expect(t, r, 400, "list a file")
	if r.errorCode() != "not_a_folder" {
		t.Errorf("list a file: %v", r)
	}
	expect(t, get(t, key, a.api+"/fs/secrets?list=true"), 403, "list secrets")
}
