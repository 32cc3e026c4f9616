package management

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUploadThenServe: what the API writes is what nginx serves, for a
// single file (PUT) and for a zip merged into the folder (PATCH).
func TestUploadThenServe(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	key := withKey(apiKey)

	r := call(t, key, "PUT", a.api+"/fs/local%2Fnew%2Fpage.html", strings.NewReader("<p>uploaded page</p>"), "text/html")
	expect(t, r, 200, "PUT file")
	if code, body := waitSite(t, a.siteURL+"new/page.html", 10*time.Second); code != 200 || body != "<p>uploaded page</p>" {
		t.Errorf("nginx serves %d %q", code, body)
	}
	if s := a.status(t); s.Default.Status != "Started" {
		t.Errorf("after PUT the pool is %s, want Started again", s.Default.Status)
	}

	z := makeZip(t, []zipEntry{{name: "index.html", data: []byte("<h1>v2</h1>")},
		{name: "css/site.css", data: []byte("body{}")}, {name: "bin/tool", data: []byte("#!/bin/sh\n"), mode: 0o755}})
	r = call(t, key, "PATCH", a.api+"/fs/local", bytes.NewReader(z), "application/zip")
	expect(t, r, 200, "PATCH zip")
	if code, body := fetchSite(a.siteURL); code != 200 || body != "<h1>v2</h1>" {
		t.Errorf("after PATCH nginx serves %d %q", code, body)
	}
	if code, body := fetchSite(a.siteURL + "css/site.css"); code != 200 || body != "body{}" {
		t.Errorf("css: %d %q", code, body)
	}
	if code, _ := fetchSite(a.siteURL + "new/page.html"); code != 200 {
		t.Errorf("a merge (no clean) lost an existing file: %d", code)
	}
	if st, err := os.Stat(filepath.Join(a.localDir(), "bin", "tool")); err != nil || st.Mode()&0o100 == 0 {
		t.Errorf("executable bit lost: %v %v", st, err)
	}

	z = makeZip(t, []zipEntry{{name: "index.html", data: []byte("<h1>v3</h1>")}})
	expect(t, call(t, key, "PUT", a.api+"/fs/local?clean=true", bytes.NewReader(z), "application/zip"), 200, "PUT zip clean")
	if code, body := fetchSite(a.siteURL); code != 200 || body != "<h1>v3</h1>" {
		t.Errorf("after clean PUT nginx serves %d %q", code, body)
	}
	if code, _ := fetchSite(a.siteURL + "css/site.css"); code != 404 {
		t.Errorf("clean=true kept css/site.css (%d)", code)
	}
	// Type mismatches and limits.
	expect(t, call(t, key, "PUT", a.api+"/fs/local", strings.NewReader("x"), "text/plain"), 409, "file onto a folder")
	expect(t, call(t, key, "PUT", a.api+"/fs/local/index.html", bytes.NewReader(z), "application/zip"), 409, "zip onto a file")
	noStaging(t, a.task.Dir().Dir)
}

// TestPutKeepsStoppedPoolStopped: PUT returns each pool to its former state.
func TestPutKeepsStoppedPoolStopped(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	key := withKey(apiKey)
	expect(t, call(t, key, "PUT", a.api+"/stop", nil, ""), 200, "stop")
	r := call(t, key, "PUT", a.api+"/fs/local/index.html", strings.NewReader("<p>while stopped</p>"), "text/html")
	expect(t, r, 200, "PUT while stopped")
	if !strings.Contains(string(r.body), `"stoppedPools":[]`) {
		t.Errorf("PUT reports it stopped pools: %s", r.body)
	}
	if s := a.status(t); s.Default.Status != "Stopped" {
		t.Errorf("PUT started a stopped pool: %s", s.Default.Status)
	}
	if code, _ := fetchSite(a.siteURL); code == 200 {
		t.Error("the stopped pool serves 200 after PUT")
	}
	expect(t, call(t, key, "PUT", a.api+"/start", nil, ""), 200, "start")
	if code, body := waitSite(t, a.siteURL, 10*time.Second); code != 200 || body != "<p>while stopped</p>" {
		t.Errorf("after start: %d %q", code, body)
	}
	r = call(t, key, "PUT", a.api+"/fs/local/index.html", strings.NewReader("<p>running</p>"), "text/html")
	if !strings.Contains(string(r.body), `"stoppedPools":["default"]`) {
		t.Errorf("PUT on a running pool did not stop it: %s", r.body)
	}
	if s := a.status(t); s.Default.Status != "Started" {
		t.Errorf("PUT left the running pool %s", s.Default.Status)
	}
}

// TestCutUploadLeavesTargetUnchanged: a connection cut mid-body changes
// nothing, for a single file and for a zip, and leaves no staging behind.
func TestCutUploadLeavesTargetUnchanged(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	before := snapshot(t, a.localDir())
	big := makeZip(t, []zipEntry{{name: "index.html", data: bytes.Repeat([]byte("zz"), 1<<20)}})
	for _, c := range []struct {
		path, ctype string
		body        []byte
		chunked     bool
	}{
		{"local/index.html", "text/html", bytes.Repeat([]byte("x"), 3<<20), false},
		{"local", "application/zip", big, false},
		{"local", "application/zip", big, true},
	} {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
		if err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("PUT /api/v1/allocs/%s/app/fs/%s?clean=true HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\nContent-Type: %s\r\n",
			a.alloc.ID(), c.path, apiKey, c.ctype)
		half := c.body[:len(c.body)/2]
		if c.chunked {
			head += "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n", len(half))
		} else {
			head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(c.body))
		}
		conn.Write([]byte(head))
		conn.Write(half)
		time.Sleep(200 * time.Millisecond)
		conn.Close()
	}
	time.Sleep(500 * time.Millisecond)
	if after := snapshot(t, a.localDir()); !sameTree(before, after) {
		t.Errorf("a cut upload changed the target:\nbefore %v\nafter  %v", keys(before), keys(after))
	}
	noStaging(t, a.task.Dir().Dir)
	if code, body := fetchSite(a.siteURL); code != 200 || !strings.Contains(body, staticMarker) {
		t.Errorf("site after cut uploads: %d", code)
	}
}

// TestZipGuards: zip-slip, symlink entries, zip bombs and malformed
// archives are refused with 4xx naming the entry, and nothing changes.
func TestZipGuards(t *testing.T) {
	e := startEnv(t, envOptions{config: map[string]interface{}{
		"zip_max_entries": 50, "zip_max_uncompressed_bytes": 8 << 20, "upload_max_bytes": 16 << 20}})
	a := e.startApp(appOptions{})
	key := withKey(apiKey)
	before := snapshot(t, a.localDir())
	many := []zipEntry{}
	for i := 0; i < 60; i++ {
		many = append(many, zipEntry{name: fmt.Sprintf("f%d.txt", i), data: []byte("x")})
	}
	ok := zipEntry{name: "ok.txt", data: []byte("fine")}
	cases := []struct {
		name   string
		body   []byte
		code   int
		needle string
	}{
		{"zip-slip", makeZip(t, []zipEntry{ok, {name: "../../evil.txt", data: []byte("evil")}}), 400, "../../evil.txt"},
		{"absolute", makeZip(t, []zipEntry{ok, {name: "/tmp/evil.txt", data: []byte("evil")}}), 400, "/tmp/evil.txt"},
		{"symlink entry", makeZip(t, []zipEntry{ok, {name: "link", data: []byte("/etc/passwd"), mode: os.ModeSymlink | 0o777}}), 400, "link"},
		{"too many entries", makeZip(t, many), 413, "entries"},
		{"zip bomb", makeZip(t, []zipEntry{ok, {name: "zeros.bin", data: make([]byte, 64<<20)}}), 413, "expands"},
		{"zip bomb by ratio", makeZip(t, []zipEntry{ok, {name: "zeros.bin", data: make([]byte, 4<<20)}}), 413,
			`zeros.bin\" expands to more than 200 times its compressed size`},
		{"past the total size", makeZip(t, []zipEntry{ok, {name: "noise.bin", data: noise(9 << 20)}}), 413,
			"expands to more than 8388608 bytes"},
		{"malformed", []byte("PK\x03\x04 this is not really a zip archive at all"), 400, "zip"},
	}
	for _, c := range cases {
		r := call(t, key, "PUT", a.api+"/fs/local?clean=true", bytes.NewReader(c.body), "application/zip")
		expect(t, r, c.code, c.name)
		if !strings.Contains(string(r.body), c.needle) {
			t.Errorf("%s: message does not name %q: %s", c.name, c.needle, r.body)
		}
	}
	// Past upload_max_bytes: refused from the Content-Length, before the body.
	status := rawStatus(t, e.port, fmt.Sprintf("PUT /api/v1/allocs/%s/app/fs/local HTTP/1.1\r\nHost: x\r\n"+
		"X-Api-Key: %s\r\nContent-Type: application/zip\r\nContent-Length: %d\r\n\r\n", a.alloc.ID(), apiKey, 17<<20))
	if !strings.Contains(status, " 413 ") {
		t.Errorf("upload past upload_max_bytes: %q, want 413", status)
	}
	// A single file sent chunked could be cut without anyone noticing: 411.
	status = rawStatus(t, e.port, fmt.Sprintf("PUT /api/v1/allocs/%s/app/fs/local/x.txt HTTP/1.1\r\nHost: x\r\n"+
		"X-Api-Key: %s\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		a.alloc.ID(), apiKey))
	if !strings.Contains(status, " 411 ") {
		t.Errorf("chunked single-file upload: %q, want 411", status)
	}
	if after := snapshot(t, a.localDir()); !sameTree(before, after) {
		t.Errorf("a refused archive changed the target: %v", keys(after))
	}
	if _, err := os.Stat(filepath.Join(a.task.Dir().Dir, "..", "evil.txt")); err == nil {
		t.Error("zip-slip wrote outside")
	}
	noStaging(t, a.task.Dir().Dir)
}

// noise is n pseudo-random (incompressible) bytes.
func noise(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

// TestEmptyZipUpload: a valid zip without entries (22 bytes) is accepted; with
// ?clean=true it empties the folder, without it changes nothing.
func TestEmptyZipUpload(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	key := withKey(apiKey)
	empty := makeZip(t, nil)
	if len(empty) != 22 {
		t.Fatalf("empty zip has %d bytes, want 22", len(empty))
	}
	expect(t, call(t, key, "PUT", a.api+"/fs/local/sub/x.txt", strings.NewReader("x"), "text/plain"), 200, "a file")
	before := snapshot(t, a.localDir())
	r := call(t, key, "PATCH", a.api+"/fs/local/sub", bytes.NewReader(empty), "application/zip")
	expect(t, r, 200, "PATCH of an empty zip")
	if after := snapshot(t, a.localDir()); !sameTree(before, after) {
		t.Errorf("an empty zip merged into the folder changed it: %v", keys(after))
	}
	r = call(t, key, "PUT", a.api+"/fs/local/sub?clean=true", bytes.NewReader(empty), "application/zip")
	expect(t, r, 200, "PUT ?clean=true of an empty zip")
	entries, err := os.ReadDir(filepath.Join(a.localDir(), "sub"))
	if err != nil || len(entries) != 0 {
		t.Errorf("after a clean upload of an empty zip: %v entries, err %v", len(entries), err)
	}
	noStaging(t, a.task.Dir().Dir)
}

// rawStatus sends raw request bytes and returns the response's status line.
func rawStatus(t *testing.T, port int, request string) string {
	t.Helper()
	resp, _, _ := rawExchange(t, port, request)
	return resp.Proto + " " + resp.Status
}

// patternReader yields n pseudo-random bytes without holding them.
type patternReader struct {
	left int64
	rnd  *rand.Rand
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, _ := p.rnd.Read(b)
	p.left -= int64(n)
	return n, nil
}

// TestLargeUploadBoundedMemory: a 200 MB upload grows the plugin's RSS by
// less than 64 MB (the body is streamed to disk, never held).
func TestLargeUploadBoundedMemory(t *testing.T) {
	if os.Getenv("NOMAD_IIS_PLUGIN_SANITIZED") != "" {
		t.Skip("RSS bounds do not hold under AddressSanitizer (quarantine and shadow memory)")
	}
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	pid := e.pid()
	rssBefore := procStatusKB(t, pid, "VmRSS")
	const size = 200 << 20
	req, _ := http.NewRequest("PUT", a.api+"/fs/local/big.bin", &patternReader{left: size, rnd: rand.New(rand.NewSource(1))})
	req.ContentLength = size
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	hwm := procStatusKB(t, pid, "VmHWM")
	growth := hwm - rssBefore
	t.Logf("plugin RSS before %d kB, peak after %d kB, growth %d kB", rssBefore, hwm, growth)
	if growth > 64<<10 {
		t.Errorf("RSS grew by %d kB during a 200 MB upload, want < 64 MB", growth)
	}
	if st, err := os.Stat(filepath.Join(a.localDir(), "big.bin")); err != nil || st.Size() != size {
		t.Errorf("big.bin: %v %v", st, err)
	}
}

// TestConcurrentPutsAreSerialised: simultaneous clean PUTs of different
// archives into one folder leave exactly one archive's content.
func TestConcurrentPutsAreSerialised(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	const n = 6
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		entries := []zipEntry{{name: "index.html", data: []byte(fmt.Sprintf("version %d", i))},
			{name: fmt.Sprintf("only-%d.txt", i), data: []byte("x")}}
		for j := 0; j < 50; j++ {
			entries = append(entries, zipEntry{name: fmt.Sprintf("d/f%d.txt", j), data: []byte(fmt.Sprintf("%d", i))})
		}
		z := makeZip(t, entries)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", a.api+"/fs/local?clean=true", bytes.NewReader(z))
			req.Header.Set("X-Api-Key", apiKey)
			req.Header.Set("Content-Type", "application/zip")
			resp, err := apiClient.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("PUT %d: %d", i, c)
		}
	}
	tree := snapshot(t, a.localDir())
	var version string
	fmt.Sscanf(tree["index.html"], "version %s", &version)
	only := 0
	for k, v := range tree {
		if strings.HasPrefix(k, "only-") {
			only++
			if k != "only-"+version+".txt" {
				t.Errorf("%s next to index.html of version %s", k, version)
			}
		}
		if strings.HasPrefix(k, "d/f") && v != version {
			t.Errorf("%s = %q, want %s: archives were mixed", k, v, version)
		}
	}
	if only != 1 {
		t.Errorf("%d only-*.txt files, want exactly 1: %v", only, keys(tree))
	}
	if s := a.status(t); s.Default.Status != "Started" {
		t.Errorf("pool %s after concurrent PUTs", s.Default.Status)
	}
	noStaging(t, a.task.Dir().Dir)
}

// TestSlowUploadDoesNotBlockStatus: while a body trickles in (on this and
// another task), status calls answer promptly.
func TestSlowUploadDoesNotBlockStatus(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	b := e.startApp(appOptions{job: "second"})
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("PUT", a.api+"/fs/local/slow.txt", pr)
		req.ContentLength = 30
		req.Header.Set("X-Api-Key", apiKey)
		resp, err := apiClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for i := 0; i < 30; i++ {
		pw.Write([]byte("x"))
		for _, x := range []*app{a, b} {
			start := time.Now()
			x.status(t)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("status took %v during a slow upload", d)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	pw.Close()
	if code := <-done; code != 200 {
		t.Errorf("slow upload: %d", code)
	}
}
