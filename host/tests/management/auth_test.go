package management

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestAuthMatrix: 401 for missing or invalid credentials before any lookup
// (an unknown alloc looks exactly like a known one), 403 for valid
// credentials without scope or capability, then 404 for unknown tasks.
func TestAuthMatrix(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	id := a.alloc.ID()
	known := a.api + "/status"
	unknown := e.base + "/allocs/00000000-0000-0000-0000-000000000000/app/status"

	good := jwtFor(id, []string{"Status"}, nil)
	cases := []struct {
		name string
		auth auth
		url  string
		code int
	}{
		{"no credentials, known alloc", noAuth, known, 401},
		{"no credentials, unknown alloc", noAuth, unknown, 401},
		{"no credentials, unknown route", noAuth, e.base + "/nope", 401},
		{"wrong key, known alloc", withKey("wrong"), known, 401},
		{"wrong key, unknown alloc", withKey("wrong"), unknown, 401},
		{"empty key", withKey(""), known, 401},
		{"key", withKey(apiKey), known, 200},
		{"key, unknown alloc", withKey(apiKey), unknown, 404},
		{"key, unknown task", withKey(apiKey), e.base + "/allocs/" + id + "/other/status", 404},
		{"jwt scoped right", withBearer(good), known, 200},
		{"jwt list of allocs", withBearer(jwtFor("", []string{"Status"}, func(c claims) {
			c["allocId"] = []string{"x", id}
		})), known, 200},
		{"jwt wildcards", withBearer(jwtFor("*", []string{"*"}, func(c claims) {
			c["namespace"], c["jobName"] = "*", "*"
		})), known, 200},
		{"jwt wildcard, unknown alloc", withBearer(jwtFor("*", []string{"*"}, nil)), unknown, 404},
		{"jwt other alloc", withBearer(jwtFor("other-alloc", []string{"Status"}, nil)), known, 403},
		{"jwt other alloc, unknown alloc", withBearer(jwtFor("other-alloc", []string{"Status"}, nil)), unknown, 403},
		{"jwt wrong namespace", withBearer(jwtFor(id, []string{"Status"}, func(c claims) { c["namespace"] = "prod" })), known, 403},
		{"jwt wrong job", withBearer(jwtFor(id, []string{"Status"}, func(c claims) { c["jobName"] = "other" })), known, 403},
		{"jwt without capability", withBearer(jwtFor(id, []string{"FilesystemAccess"}, nil)), known, 403},
		{"jwt expired", withBearer(jwtFor(id, []string{"Status"}, func(c claims) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		})), known, 401},
		{"jwt expired, unknown alloc", withBearer(jwtFor(id, []string{"Status"}, func(c claims) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		})), unknown, 401},
		{"jwt not yet valid", withBearer(jwtFor(id, []string{"Status"}, func(c claims) {
			c["nbf"] = time.Now().Add(time.Hour).Unix()
		})), known, 401},
		{"jwt wrong issuer", withBearer(jwtFor(id, []string{"Status"}, func(c claims) { c["iss"] = "x" })), known, 401},
		{"jwt wrong audience", withBearer(jwtFor(id, []string{"Status"}, func(c claims) { c["aud"] = "x" })), known, 401},
		{"jwt bad signature", withBearer(good[:len(good)-3] + "AAA"), known, 401},
		{"jwt alg none", withBearer(signJWT(map[string]interface{}{"alg": "none"}, claims{
			"iss": "NomadIIS", "aud": "ManagementApi", "exp": time.Now().Add(time.Hour).Unix(),
			"allocId": "*", "namespace": "*", "jobName": "*", "capabilities": "*"}, "")), known, 401},
		{"jwt garbage", withBearer("not.a.jwt"), known, 401},
	}
	var unauth []string
	for _, c := range cases {
		r := get(t, c.auth, c.url)
		expect(t, r, c.code, c.name)
		if c.code == 401 {
			unauth = append(unauth, string(r.body))
		}
	}
	for _, b := range unauth[1:] {
		if b != unauth[0] {
			t.Errorf("401 bodies differ (%q vs %q): they must not reveal anything", b, unauth[0])
		}
	}
	// Debug needs its capability; the key has every capability.
	expect(t, get(t, withBearer(good), e.base+"/debug"), 403, "debug without Debug")
	expect(t, get(t, withBearer(jwtFor("*", []string{"Debug"}, nil)), e.base+"/debug"), 200, "debug with Debug")
	expect(t, get(t, withKey(apiKey), e.base+"/debug"), 200, "debug with key")
}

// TestDebugFollowsScope: GET debug lists only the tasks the credentials
// cover, exactly as GET allocs does; sites no task owns (no allocation to
// check) only for the API key and an allocId scope of "*".
func TestDebugFollowsScope(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	b := e.startApp(appOptions{})
	// A site folder no task owns is a dangling site.
	if err := os.MkdirAll(filepath.Join(e.dir, "data", "sites", "leftover-site"), 0o755); err != nil {
		t.Fatal(err)
	}
	debug := func(what string, who auth) (allocs []string, dangling int) {
		t.Helper()
		r := get(t, who, e.base+"/debug")
		expect(t, r, 200, what)
		var d struct {
			TaskCount int `json:"taskCount"`
			Tasks     []struct {
				AllocID string `json:"allocId"`
			} `json:"tasks"`
			DanglingCount int           `json:"danglingSiteCount"`
			Dangling      []interface{} `json:"danglingSites"`
		}
		if err := json.Unmarshal(r.body, &d); err != nil {
			t.Fatalf("%s: %v %s", what, err, r.body)
		}
		for _, task := range d.Tasks {
			allocs = append(allocs, task.AllocID)
		}
		sort.Strings(allocs)
		if d.TaskCount != len(allocs) || d.DanglingCount != len(d.Dangling) {
			t.Errorf("%s: counts disagree with the lists: %s", what, r.body)
		}
		return allocs, len(d.Dangling)
	}
	both := []string{a.alloc.ID(), b.alloc.ID()}
	sort.Strings(both)
	cases := []struct {
		name     string
		who      auth
		allocs   []string
		dangling int
	}{
		{"API key", withKey(apiKey), both, 1},
		{"JWT for every alloc", withBearer(jwtFor("*", []string{"Debug"}, nil)), both, 1},
		{"JWT for alloc a", withBearer(jwtFor(a.alloc.ID(), []string{"Debug"}, nil)), []string{a.alloc.ID()}, 0},
		{"JWT for alloc b", withBearer(jwtFor(b.alloc.ID(), []string{"Debug"}, nil)), []string{b.alloc.ID()}, 0},
		{"JWT for alloc a, another job", withBearer(jwtFor(a.alloc.ID(), []string{"Debug"},
			func(c claims) { c["jobName"] = "another-job" })), nil, 0},
		{"JWT for every alloc, another namespace", withBearer(jwtFor("*", []string{"Debug"},
			func(c claims) { c["namespace"] = "other" })), nil, 1},
	}
	for _, c := range cases {
		allocs, dangling := debug(c.name, c.who)
		if strings.Join(allocs, ",") != strings.Join(c.allocs, ",") || dangling != c.dangling {
			t.Errorf("%s: sees tasks %v and %d dangling sites, want %v and %d",
				c.name, allocs, dangling, c.allocs, c.dangling)
		}
	}
}

// TestNoAuthBindsLoopbackOnly: without key and JWT secret, the API listens
// on 127.0.0.1 only (whatever --management-api-bind says) and warns.
func TestNoAuthBindsLoopbackOnly(t *testing.T) {
	e := startEnv(t, envOptions{args: []string{"--management-api-bind=0.0.0.0"}})
	a := e.startApp(appOptions{})
	expect(t, get(t, noAuth, a.api+"/status"), 200, "status without credentials")
	addrs := listeningAddrs(t, e.port)
	if len(addrs) == 0 {
		t.Fatalf("nothing listens on port %d", e.port)
	}
	for _, addr := range addrs {
		if addr != "127.0.0.1" {
			t.Errorf("listening on %s, want 127.0.0.1 only", addr)
		}
	}
	if !strings.Contains(e.log.String(), "neither an API key nor a JWT secret") {
		t.Error("no warning about the unauthenticated API in the log")
	}
}

// listeningAddrs reads /proc/net/tcp{,6} for sockets listening on port.
func listeningAddrs(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // LISTEN
				continue
			}
			hostPort := strings.Split(fields[1], ":")
			var p int
			if _, err := parseHex(hostPort[1], &p); err != nil || p != port {
				continue
			}
			out = append(out, hexIP(hostPort[0]))
		}
	}
	return out
}

func parseHex(s string, v *int) (int, error) {
	n := 0
	for _, c := range s {
		n *= 16
		switch {
		case c >= '0' && c <= '9':
			n += int(c - '0')
		case c >= 'A' && c <= 'F':
			n += int(c-'A') + 10
		}
	}
	*v = n
	return n, nil
}

// hexIP turns /proc/net/tcp's little-endian hex address into text.
func hexIP(h string) string {
	if len(h) != 8 {
		return "[" + h + "]"
	}
	var b [4]byte
	for i := 0; i < 4; i++ {
		var v int
		parseHex(h[2*i:2*i+2], &v)
		b[3-i] = byte(v)
	}
	return net.IP(b[:]).String()
}

// TestOpenAPIDocumentIsPublic: the API's OpenAPI document is the one route
// that needs no credentials; it names every route the other tests call, and
// any other method on its path still asks for credentials first.
func TestOpenAPIDocumentIsPublic(t *testing.T) {
	e := startEnv(t, envOptions{})
	r := get(t, noAuth, e.base+"/openapi.json")
	expect(t, r, 200, "openapi without credentials")
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	for _, p := range []string{"/api/v1/allocs", "/api/v1/debug", "/api/v1/allocs/{allocId}/{taskName}/status",
		"/api/v1/allocs/{allocId}/{taskName}/fs/{path}", "/api/v1/allocs/{allocId}/{taskName}/screenshot"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("the document lacks %s", p)
		}
	}
	expect(t, call(t, noAuth, "POST", e.base+"/openapi.json", nil, ""), 401, "POST openapi without credentials")
	expect(t, call(t, withKey(apiKey), "POST", e.base+"/openapi.json", nil, ""), 405, "POST openapi with the key")
}
