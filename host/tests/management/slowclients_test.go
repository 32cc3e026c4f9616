package management

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dialFrom connects to the API from a local source address (Linux routes
// all of 127/8 on lo).
func dialFrom(e *env, source string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
}

// TestSlowClientsDoNotStarveOthers: 1,500 connections from 127.0.0.2 that
// each send part of a request's headers and then nothing hold no threads
// and cannot crowd out a well-behaved client on 127.0.0.1, which polls
// status and downloads a file meanwhile and gets every answer.
func TestSlowClientsDoNotStarveOthers(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	before := procStatusKB(t, e.pid(), "Threads")

	stop := make(chan struct{})
	var good, failed int64
	var failures []string
	var mu sync.Mutex
	var maxWait int64
	fail := func(what string, err interface{}) {
		atomic.AddInt64(&failed, 1)
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf("%s: %v", what, err))
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	poll := func(name string, client *http.Client, url, want string) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			began := time.Now()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("X-Api-Key", apiKey)
			resp, err := client.Do(req)
			if err != nil {
				fail(name, err)
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				fail(name, fmt.Sprintf("%d %v %.80s", resp.StatusCode, err, body))
				continue
			}
			atomic.AddInt64(&good, 1)
			if waited := int64(time.Since(began)); waited > atomic.LoadInt64(&maxWait) {
				atomic.StoreInt64(&maxWait, waited)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A keep-alive status poller and a file reader on fresh connections.
	keepAlive := &http.Client{Timeout: 5 * time.Second}
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	wg.Add(2)
	go poll("status", keepAlive, a.api+"/status", `"allocId"`)
	go poll("file", fresh, a.api+"/fs/local%2Findex.html", staticMarker)

	// The flood: 1,500 connections, 30 dialing at a time.
	const slow = 1500
	partial := "GET /api/v1/allocs HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + apiKey + "\r\nX-Slow: "
	conns := make(chan net.Conn, slow)
	var dialErrors int64
	var dialers sync.WaitGroup
	next := int64(-1)
	for w := 0; w < 30; w++ {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for atomic.AddInt64(&next, 1) < slow {
				conn, err := dialFrom(e, "127.0.0.2")
				if err != nil {
					atomic.AddInt64(&dialErrors, 1)
					continue
				}
				conn.Write([]byte(partial))
				conns <- conn
			}
		}()
	}
	dialers.Wait()
	close(conns)
	var open []net.Conn
	for c := range conns {
		open = append(open, c)
	}
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	time.Sleep(3 * time.Second) // the flood sits there while the good client goes on
	during := procStatusKB(t, e.pid(), "Threads")
	close(stop)
	wg.Wait()

	// What the slow connections got: refusals past the per-client limit,
	// the others are still open and waiting.
	var refused, waiting int64
	var check sync.WaitGroup
	for _, c := range open {
		check.Add(1)
		go func(c net.Conn) {
			defer check.Done()
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode == 503 && strings.Contains(string(body), "too_many_connections") {
					atomic.AddInt64(&refused, 1)
				}
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				atomic.AddInt64(&waiting, 1)
			}
		}(c)
	}
	check.Wait()
	t.Logf("threads %d -> %d; slow connections: %d dialed, %d dial errors, %d refused (503), %d waiting; "+
		"good client: %d answers, %d failures, longest %v",
		before, during, len(open), dialErrors, refused, waiting, good, failed, time.Duration(maxWait))
	if failed > 0 {
		t.Errorf("the well-behaved client failed %d times: %v", failed, failures)
	}
	if good < 20 {
		t.Errorf("the well-behaved client got only %d answers", good)
	}
	if during > before+40 {
		t.Errorf("the plugin went from %d to %d threads for %d slow connections", before, during, slow)
	}
	// 512 per client by default: the rest is refused, and no more is held.
	if waiting > 512 {
		t.Errorf("%d slow connections from one address are held open, more than its limit", waiting)
	}
}

// TestConnectionsPerClientAreLimited: past
// management_api_max_connections_per_client a client's new connections get
// 503 with a JSON error; other clients are served, and a closed connection
// frees its slot.
func TestConnectionsPerClientAreLimited(t *testing.T) {
	const limit = 20
	e := startEnv(t, envOptions{config: map[string]interface{}{"management_api_max_connections_per_client": limit}})
	a := e.startApp(appOptions{})
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := 0; i < limit; i++ {
		c, err := dialFrom(e, "127.0.0.3")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(200 * time.Millisecond) // all accepted
	over, err := dialFrom(e, "127.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil {
		t.Fatalf("connection %d of one client: no 503: %v", limit+1, err)
	}
	body, _ := io.ReadAll(resp.Body)
	r := apiResponse{code: resp.StatusCode, body: body, header: resp.Header}
	expect(t, r, 503, "one connection over the limit")
	if r.errorCode() != "too_many_connections" {
		t.Errorf("error code %q: %v", r.errorCode(), r)
	}
	// Another client is served meanwhile.
	expect(t, get(t, withKey(apiKey), a.api+"/status"), 200, "another client")
	// A held connection works, and closing one makes room for a new one.
	c := &rawClient{t: t, conn: held[0], r: bufio.NewReader(held[0])}
	held[0].SetDeadline(time.Now().Add(10 * time.Second))
	c.expect("held connection", rawRequest("GET", "/api/v1/allocs", "X-Api-Key: "+apiKey+"\r\n"), 200, "[")
	held[1].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := dialFrom(e, "127.0.0.3")
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write([]byte(rawRequest("GET", "/api/v1/allocs", "X-Api-Key: "+apiKey+"\r\n")))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a freed slot is not given to a new connection: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
