package management

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nomad_iis/host/pluginhost"
)

// TestBindFailureIsRetried: a taken port does not kill the plugin; the API
// comes up once the port is free and the fingerprint reports it.
func TestBindFailureIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	e := startEnv(t, envOptions{port: port, noWait: true,
		args: []string{"--management-api-key=" + apiKey, "--management-api-bind=127.0.0.1"}})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.log.String(), "cannot listen") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(e.log.String(), "cannot listen") {
		t.Error("no log line about the failed bind")
	}
	l.Close()
	e.waitListening(20 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 0; ; n++ {
		fp, err := e.host.Driver().Fingerprints.Next(ctx, n)
		if err != nil {
			t.Fatalf("no fingerprint with the Management API: %v", err)
		}
		attrs := fp.GetAttributes()
		if attrs["driver.iis.management_api_enabled"].GetBoolVal() &&
			attrs["driver.iis.management_api_port"].GetIntVal() == int64(port) {
			break
		}
	}
}

// Test64KeepAliveClients: 64 concurrent keep-alive clients are all served
// (a thread-per-connection server with too few threads starves some).
func Test64KeepAliveClients(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	var wg sync.WaitGroup
	var failures, served int64
	perClient := make([]int64, 64)
	stop := time.Now().Add(3 * time.Second)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("GET", a.api+"/status", nil)
				req.Header.Set("X-Api-Key", apiKey)
				resp, err := c.Do(req)
				if err != nil || resp.StatusCode != 200 {
					atomic.AddInt64(&failures, 1)
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				buf := make([]byte, 4096)
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				atomic.AddInt64(&served, 1)
				perClient[i]++
			}
		}(i)
	}
	wg.Wait()
	starved := 0
	for _, n := range perClient {
		if n == 0 {
			starved++
		}
	}
	t.Logf("served %d requests in 3 s, %d failures", served, failures)
	if failures > 0 || starved > 0 {
		t.Errorf("%d failures, %d of 64 clients starved", failures, starved)
	}
}

// rawExchange sends raw request bytes on a new connection and reads one
// response, then reports whether the server closed the connection after it.
func rawExchange(t *testing.T, port int, request string) (resp *http.Response, body []byte, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err = http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("reading the response to %.60q: %v", request, err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A server that keeps the connection open sends nothing more.
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = r.ReadByte()
	return resp, body, err == io.EOF
}

// TestUnreadableRequestsGetJSONErrors: a request Poco cannot parse (header
// or URI over its limits, a garbled request line) is answered like every
// other error of the API, with a JSON body naming the problem (Poco's own
// connection sends a bare 400), and the connection is closed; the server
// goes on serving.
func TestUnreadableRequestsGetJSONErrors(t *testing.T) {
	e := startEnv(t, envOptions{})
	auth := "X-Api-Key: " + apiKey + "\r\n"
	cases := []struct {
		name, request string
		code          int
		errorCode     string
		mentions      string
	}{
		{"header value over 8 KiB",
			"GET /api/v1/allocs HTTP/1.1\r\nHost: x\r\n" + auth + "X-Big: " + strings.Repeat("a", 9000) + "\r\n\r\n",
			431, "headers_too_large", "Field value too long"},
		{"too many header fields",
			"GET /api/v1/allocs HTTP/1.1\r\nHost: x\r\n" + auth + strings.Repeat("X-Many: 1\r\n", 150) + "\r\n",
			431, "headers_too_large", "Too many header fields"},
		{"URI over 16 KiB",
			"GET /api/v1/allocs?job=" + strings.Repeat("j", 17000) + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
			400, "bad_request", "URIs are limited to 16 KiB"},
		{"not HTTP",
			"GET / FTP/1.0\r\nHost: x\r\n\r\n",
			400, "bad_request", "not an HTTP request"},
		{"unsupported HTTP version",
			"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
			505, "http_version_not_supported", "HTTP/9.9"},
		{"malformed Content-Length",
			"PUT /api/v1/allocs HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: abc\r\n\r\n",
			400, "bad_request", "malformed value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body, closed := rawExchange(t, e.port, c.request)
			r := apiResponse{code: resp.StatusCode, body: body, header: resp.Header}
			expect(t, r, c.code, c.name)
			if r.errorCode() != c.errorCode {
				t.Errorf("error code %q, want %q (%v)", r.errorCode(), c.errorCode, r)
			}
			if !strings.Contains(string(body), c.mentions) {
				t.Errorf("message does not name the problem (%q): %s", c.mentions, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if !closed {
				t.Error("the connection stayed open after an unreadable request")
			}
		})
	}
	// A well-formed request on a keep-alive connection still works and the
	// connection stays open.
	resp, body, closed := rawExchange(t, e.port, "GET /api/v1/allocs HTTP/1.1\r\nHost: x\r\n"+auth+"\r\n")
	if resp.StatusCode != 200 || closed {
		t.Errorf("after the bad requests: HTTP %d %s, closed=%v", resp.StatusCode, body, closed)
	}
}

// TestShutdownEndsIdleKeepAliveConnections: an open idle keep-alive
// connection does not hold up the plugin's exit past Nomad's grace.
func TestShutdownEndsIdleKeepAliveConnections(t *testing.T) {
	e := startEnv(t, envOptions{})
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	conn.Write([]byte("GET /api/v1/allocs HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + apiKey + "\r\n\r\n"))
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	pid := e.pid()
	start := time.Now()
	e.host.Shutdown()
	if left := pluginhost.WaitPidsGone([]int{pid}, 5*time.Second); len(left) > 0 {
		t.Fatal("the plugin did not exit")
	}
	took := time.Since(start)
	if strings.Contains(e.log.String(), "plugin failed to exit gracefully") || took > 2*time.Second {
		t.Errorf("exit with an idle keep-alive connection took %v (forced: %v)", took,
			strings.Contains(e.log.String(), "plugin failed to exit gracefully"))
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("the idle connection was not closed: %v", err)
	}
}

// TestSlowHeadersAreCutOff: a client that trickles its headers (slowloris)
// holds a connection thread only until request_header_timeout, then gets
// 408 with a JSON body; one that is slow but in time is served.
func TestSlowHeadersAreCutOff(t *testing.T) {
	e := startEnv(t, envOptions{config: map[string]interface{}{"request_header_timeout": "1s"}})
	dial := func() (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		return conn, bufio.NewReader(conn)
	}
	head := "GET /api/v1/allocs HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + apiKey + "\r\n"

	slow, slowReader := dial()
	defer slow.Close()
	start := time.Now()
	var answered *http.Response
	var body []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.ReadResponse(slowReader, nil)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			answered = resp
		}
	}()
	slow.Write([]byte(head))
trickle:
	for i := 0; i < 40; i++ {
		select {
		case <-done:
			break trickle
		case <-time.After(250 * time.Millisecond):
			slow.Write([]byte(fmt.Sprintf("X-Slow-%d: 1\r\n", i)))
		}
	}
	<-done
	took := time.Since(start)
	if answered == nil {
		t.Fatalf("no answer to a trickling client after %v", took)
	}
	r := apiResponse{code: answered.StatusCode, body: body, header: answered.Header}
	expect(t, r, 408, "trickled headers")
	if r.errorCode() != "request_timeout" {
		t.Errorf("error code %q: %v", r.errorCode(), r)
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("cut off after %v, want about 1s", took)
	}
	slow.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := slowReader.ReadByte(); err != io.EOF {
		t.Errorf("the slow connection stayed open: %v", err)
	}

	// Slow but within the timeout: served, and the deadline is per request.
	conn, reader := dial()
	defer conn.Close()
	for round := 0; round < 2; round++ {
		for _, part := range []string{head, "X-A: 1\r\n", "\r\n"} {
			conn.Write([]byte(part))
			time.Sleep(200 * time.Millisecond)
		}
		resp, err := http.ReadResponse(reader, nil)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("round %d: HTTP %d for headers sent in time", round, resp.StatusCode)
		}
	}
}

// TestPolledStatusIsNeverStale: status calls of one task are coalesced
// while many clients poll it; still, every answer must have been computed
// after its request arrived. 32 clients poll while another stops and starts
// the pool: a poll that began after the stop returned (and ended before the
// start was sent) must say Stopped, one that began after the start
// returned must say Started.
func TestPolledStatusIsNeverStale(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	key := withKey(apiKey)
	type poll struct {
		began, ended time.Time
		status       string
		err          string
	}
	var mu sync.Mutex
	var polls []poll
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				select {
				case <-done:
					return
				default:
				}
				p := poll{began: time.Now()}
				req, _ := http.NewRequest("GET", a.api+"/status", nil)
				req.Header.Set("X-Api-Key", apiKey)
				resp, err := c.Do(req)
				if err != nil {
					p.err = err.Error()
				} else {
					var s taskStatus
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || json.Unmarshal(body, &s) != nil || s.Default == nil {
						p.err = fmt.Sprintf("%d %s", resp.StatusCode, body)
					} else {
						p.status = s.Default.Status
					}
				}
				p.ended = time.Now()
				mu.Lock()
				polls = append(polls, p)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	expect(t, call(t, key, "PUT", a.api+"/stop", nil, ""), 200, "stop")
	stopped := time.Now()
	time.Sleep(500 * time.Millisecond)
	starting := time.Now()
	expect(t, call(t, key, "PUT", a.api+"/start", nil, ""), 200, "start")
	started := time.Now()
	time.Sleep(500 * time.Millisecond)
	close(done)
	wg.Wait()

	var whileStopped, afterStart, stale int
	for _, p := range polls {
		if p.err != "" {
			t.Errorf("a poll failed: %s", p.err)
			continue
		}
		switch {
		case p.began.After(stopped) && p.ended.Before(starting):
			whileStopped++
			if p.status != "Stopped" {
				stale++
			}
		case p.began.After(started):
			afterStart++
			if p.status != "Started" {
				stale++
			}
		}
	}
	t.Logf("%d polls: %d while stopped, %d after the start", len(polls), whileStopped, afterStart)
	if whileStopped < 32 || afterStart < 32 {
		t.Fatalf("too few polls to judge (%d while stopped, %d after the start)", whileStopped, afterStart)
	}
	if stale > 0 {
		t.Errorf("%d polls answered with a pool status from before they were sent", stale)
	}
}

// TestPipelinedRequests: requests sent back to back on one connection, before
// any answer, are all answered in order (the keep-alive wait must not miss
// bytes already read into the session's buffer).
func TestPipelinedRequests(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	c := dialRaw(t, e, a)
	key := "X-Api-Key: " + apiKey + "\r\n"
	c.write(rawRequest("GET", c.path+"/status", key) + rawRequest("GET", "/api/v1/nothing", key) +
		rawRequest("GET", c.path+"/status", key))
	for i, want := range []int{200, 404, 200} {
		if code, body := c.read(fmt.Sprintf("response %d", i+1)); code != want {
			t.Errorf("response %d: %d, want %d (%s)", i+1, code, want, body)
		}
	}
}
