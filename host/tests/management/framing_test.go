package management

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A request whose framing a proxy in front may read differently from
// Poco's lenient parser is refused with 400 and the API's JSON error, and
// the connection is closed. Each case was accepted (200) before.

type framingCase struct {
	name     string
	request  func(a *app, key string) string
	mentions string
	rawOnly  bool // found in the raw lines only (plain HTTP; Poco's parser hides it)
}

func framingCases() []framingCase {
	allocs := func(headers string) func(*app, string) string {
		return func(_ *app, key string) string {
			return "GET /api/v1/allocs HTTP/1.1\r\nHost: x\r\n" + key + headers + "\r\n"
		}
	}
	status := func(headers string) func(*app, string) string {
		return func(a *app, key string) string {
			return "GET " + a.apiPath() + "/status HTTP/1.1\r\nHost: x\r\n" + key + headers + "\r\n"
		}
	}
	return []framingCase{
		{"two different Content-Lengths", allocs("Content-Length: 0\r\nContent-Length: 5\r\n"), "more than once", false},
		{"two equal Content-Lengths", allocs("Content-Length: 0\r\nContent-Length: 0\r\n"), "more than once", false},
		{"space before the colon of Transfer-Encoding", allocs("Transfer-Encoding : chunked\r\n"), "not a token", false},
		{"Transfer-Encoding with Content-Length", func(a *app, key string) string {
			return allocs("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")(a, key) + "0\r\n\r\n"
		}, "both given", false},
		{"Transfer-Encoding other than chunked", allocs("Transfer-Encoding: gzip, chunked\r\n"), "only \\\"chunked\\\"", false},
		{"separator in a header name", allocs("X(y): 1\r\n"), "not a token", false},
		{"status poll with a space before the colon", status("X-Odd : 1\r\n"), "not a token", false},
		{"folded header line", allocs("X-A: 1\r\n folded\r\n"), "line folding", true},
		{"status poll with a folded line", status("X-A: 1\r\n\tfolded\r\n"), "line folding", true},
		{"header line without a colon", allocs("Transfer-Encoding chunked\r\n"), "no colon", true},
	}
}

// refusedAndClosed sends one raw request on conn and checks the answer.
func refusedAndClosed(t *testing.T, conn net.Conn, request, mentions string) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := apiResponse{code: resp.StatusCode, body: body, header: resp.Header}
	expect(t, got, 400, "ambiguous framing")
	if got.errorCode() != "bad_request" || !strings.Contains(string(body), mentions) {
		t.Errorf("answer does not name the problem (%q): %v", mentions, got)
	}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("the connection stayed open after a refused request: %v", err)
	}
}

// TestAmbiguousFramingIsRefused: on plain HTTP (the reactor judges every
// header block; status polls are answered there).
func TestAmbiguousFramingIsRefused(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	key := "X-Api-Key: " + apiKey + "\r\n"
	for _, c := range framingCases() {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			refusedAndClosed(t, conn, c.request(a, key), c.mentions)
		})
	}
	// After a request on a kept-alive connection, the next one is judged
	// just the same (it reaches the reactor again).
	c := dialRaw(t, e, a)
	c.expect("first", rawRequest("GET", "/api/v1/allocs", key), 200, "[")
	refusedAndClosed(t, c.conn, rawRequest("GET", "/api/v1/allocs", key+"Content-Length: 0\r\nContent-Length: 1\r\n"), "more than once")
	// Pipelined behind a good request, with the good one served first.
	p := dialRaw(t, e, a)
	p.write(rawRequest("GET", "/api/v1/nothing", key) + rawRequest("GET", "/api/v1/allocs", key+"X-A: 1\r\n folded\r\n"))
	if code, body := p.read("pipelined good request"); code != 404 {
		t.Fatalf("pipelined good request: %d %s", code, body)
	}
	if code, body := p.read("pipelined folded request"); code != 400 || !strings.Contains(body, "line folding") {
		t.Errorf("pipelined folded request: %d %s", code, body)
	}
	// A smuggling attempt writes nothing: the file is not created.
	upload := "PATCH " + a.apiPath() + "/fs/local%2Fsmuggled.txt HTTP/1.1\r\nHost: x\r\n" + key +
		"Content-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 8\r\n\r\nhello..."
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	refusedAndClosed(t, conn, upload, "more than once")
	if _, err := os.Stat(filepath.Join(a.localDir(), "smuggled.txt")); !os.IsNotExist(err) {
		t.Errorf("the refused upload wrote a file: %v", err)
	}
}

// TestAmbiguousFramingIsRefusedOverTLS: TLS connections are read on their
// thread; the headers Poco parsed get the same checks. (Folded lines and
// lines without a colon leave no trace in them: see the README.)
func TestAmbiguousFramingIsRefusedOverTLS(t *testing.T) {
	dir := tempDir(t)
	cert, tlsKey := writeSelfSigned(t, dir)
	e := startEnv(t, envOptions{noWait: true, args: []string{"--management-api-key=" + apiKey,
		"--management-api-tls-cert=" + cert, "--management-api-tls-key=" + tlsKey}})
	a := e.startApp(appOptions{})
	key := "X-Api-Key: " + apiKey + "\r\n"
	dial := func() net.Conn {
		deadline := time.Now().Add(15 * time.Second)
		for {
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.port), &tls.Config{InsecureSkipVerify: true})
			if err == nil {
				return conn
			}
			if time.Now().After(deadline) {
				t.Fatalf("no TLS connection: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, c := range framingCases() {
		if c.rawOnly {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			conn := dial()
			defer conn.Close()
			refusedAndClosed(t, conn, c.request(a, key), c.mentions)
		})
	}
}

// apiPath is the app's route prefix without scheme and host.
func (a *app) apiPath() string {
	return a.api[strings.Index(a.api, "/api/v1"):]
}
