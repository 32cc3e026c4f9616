package management

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The plugin's idle plain connections wait in its reactor, which answers
// status polls itself and hands every other request, unread, to a
// connection thread that gives the connection back afterwards. These tests
// move one connection between the two on purpose.

// TestOneConnectionAcrossPaths: status polls, errors and file reads
// alternate on one connection, each answered correctly and in order.
func TestOneConnectionAcrossPaths(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	c := dialRaw(t, e, a)
	key := "X-Api-Key: " + apiKey + "\r\n"
	status := rawRequest("GET", c.path+"/status", key)
	for i := 0; i < 3; i++ {
		c.expect("status", status, 200, `"status":"Started"`)
	}
	c.expect("file", rawRequest("GET", c.path+"/fs/local%2Findex.html", key), 200, staticMarker)
	c.expect("status after a file", status, 200, `"taskName":"app"`)
	c.expect("no key", rawRequest("GET", c.path+"/status", ""), 401, `"unauthorized"`)
	c.expect("wrong key", rawRequest("GET", c.path+"/status", "X-Api-Key: nope\r\n"), 401, `"unauthorized"`)
	c.expect("unknown alloc", rawRequest("GET", "/api/v1/allocs/no-such-alloc/app/status", key), 404, `"error"`)
	c.expect("unknown task", rawRequest("GET", strings.TrimSuffix(c.path, "/app")+"/other/status", key), 404, `"error"`)
	otherJob := jwtFor(a.alloc.ID(), []string{"Status"}, func(cl claims) { cl["jobName"] = "another-job" })
	c.expect("token for another job", rawRequest("GET", c.path+"/status", "Authorization: Bearer "+otherJob+"\r\n"), 403, `"forbidden"`)
	scoped := jwtFor(a.alloc.ID(), []string{"Status"}, nil)
	c.expect("scoped token", rawRequest("GET", c.path+"/status", "Authorization: Bearer "+scoped+"\r\n"), 200, `"allocId"`)
	c.expect("stop", rawRequest("PUT", c.path+"/stop", key+"Content-Length: 0\r\n"), 200, `"Stopped"`)
	c.expect("status after stop", status, 200, `"status":"Stopped"`)
	c.expect("start", rawRequest("PUT", c.path+"/start", key+"Content-Length: 0\r\n"), 200, `"Started"`)
	body := c.expect("status after start", status, 200, `"status":"Started"`)
	var doc taskStatus
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("status is not JSON: %v: %s", err, body)
	}
	c.expect("HTTP/1.0 status", "GET "+c.path+"/status HTTP/1.0\r\nConnection: keep-alive\r\n"+key+"\r\n", 200, `"allocId"`)
	c.write(rawRequest("GET", c.path+"/status", key+"Connection: close\r\n"))
	if code, _ := c.read("closing status"); code != 200 {
		t.Fatalf("closing status: %d", code)
	}
	if n, err := c.r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after Connection: close the connection stays open (%d bytes, %v)", n, err)
	}
}

// TestStatusSplitAcrossWrites: a request whose headers arrive in pieces is
// answered once they are complete, and the connection goes on working.
func TestStatusSplitAcrossWrites(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	c := dialRaw(t, e, a)
	status := rawRequest("GET", c.path+"/status", "X-Api-Key: "+apiKey+"\r\n")
	c.expect("first", status, 200, `"allocId"`) // the connection is idle in the reactor now
	for _, cut := range []int{1, 20, len(status) - 3, len(status) - 1} {
		c.write(status[:cut])
		time.Sleep(100 * time.Millisecond)
		c.write(status[cut:])
		if code, body := c.read(fmt.Sprintf("split at %d", cut)); code != 200 {
			t.Fatalf("split at %d: %d %s", cut, code, body)
		}
		c.expect("whole", status, 200, `"allocId"`)
	}
}

// TestUnreadPipelinedStatusFlood: a client that writes many polls before
// reading any fills its socket buffers; every answer still arrives, in
// order, and nothing else stalls meanwhile.
func TestUnreadPipelinedStatusFlood(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	c := dialRaw(t, e, a)
	const n = 3000 // ~1.3 MB of answers: far beyond the socket buffers
	key := "X-Api-Key: " + apiKey + "\r\n"
	var batch strings.Builder
	for i := 0; i < n; i++ {
		if i%1000 == 999 {
			batch.WriteString(rawRequest("GET", "/api/v1/nothing", key)) // a thread-path answer in between
		} else {
			batch.WriteString(rawRequest("GET", c.path+"/status", key))
		}
	}
	go func() { c.conn.Write([]byte(batch.String())) }()
	time.Sleep(500 * time.Millisecond) // let both directions fill up
	// Another client is served while the flood waits to be read.
	if r := get(t, withKey(apiKey), a.api+"/status"); r.code != 200 {
		t.Fatalf("a second client waits behind the flood: %v", r)
	}
	for i := 0; i < n; i++ {
		want := 200
		if i%1000 == 999 {
			want = 404
		}
		code, body := c.read(fmt.Sprintf("answer %d", i))
		if code != want {
			t.Fatalf("answer %d: %d, want %d (%s)", i, code, want, body)
		}
	}
}

// TestIdleConnectionsHoldNoThreads: more idle connections than there are
// connection threads (some never sent a byte, some after a request) leave
// the API answering at once, and the plugin's thread count stays small.
func TestIdleConnectionsHoldNoThreads(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	before := procStatusKB(t, e.pid(), "Threads")
	const silent, served = 300, 100 // 264 connection threads at most
	for i := 0; i < silent; i++ {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
	}
	for i := 0; i < served; i++ {
		c := dialRaw(t, e, a)
		c.expect("first request", rawRequest("GET", "/api/v1/nothing", "X-Api-Key: "+apiKey+"\r\n"), 404, `"error"`)
	}
	time.Sleep(300 * time.Millisecond) // the threads hand their connections over
	quick := &http.Client{Timeout: 3 * time.Second}
	req, _ := http.NewRequest("GET", a.api+"/status", nil)
	req.Header.Set("X-Api-Key", apiKey)
	resp, err := quick.Do(req)
	if err != nil {
		t.Fatalf("with %d idle connections a new client is not served: %v", silent+served, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status: %d", resp.StatusCode)
	}
	if after := procStatusKB(t, e.pid(), "Threads"); after > before+40 {
		t.Errorf("the plugin went from %d to %d threads for %d idle connections", before, after, silent+served)
	}
}
