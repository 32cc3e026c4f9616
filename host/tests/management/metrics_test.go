package management

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// series is one line of a text exposition: its name, labels and value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	seriesLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// parseExposition reads the series of a scrape (comments skipped); a line
// that is neither fails the test.
func parseExposition(t *testing.T, text string) []series {
	t.Helper()
	var out []series
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := seriesLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not an exposition line: %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("value of %q: %v", line, err)
		}
		s := series{name: m[1], labels: map[string]string{}, value: v}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// find is the value of the one series named `name` whose labels include
// `want`, and whether there is one.
func find(all []series, name string, want map[string]string) (float64, bool) {
	found, value := 0, 0.0
	for _, s := range all {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			found++
			value = s.value
		}
	}
	return value, found == 1
}

// scrape is GET /metrics with `a`, checked for 200 and the text format.
func (e *env) scrape(t *testing.T, a auth) (string, []series) {
	t.Helper()
	r := get(t, a, e.base+"/metrics")
	if r.code != 200 {
		t.Fatalf("metrics: %v", r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("metrics Content-Type %q", ct)
	}
	return string(r.body), parseExposition(t, string(r.body))
}

// requestCounts is the site's requests of pool `pool` by status class.
func requestCounts(t *testing.T, all []series, allocID, pool string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, class := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
		v, ok := find(all, "nomad_iis_requests_total",
			map[string]string{"alloc_id": allocID, "pool": pool, "code_class": class})
		if !ok {
			t.Fatalf("no nomad_iis_requests_total of alloc %s pool %q class %s", allocID, pool, class)
		}
		out[class] = v
	}
	return out
}

// waitCounts scrapes until the pool's counts are `want` (the front flushes
// its request log within a second), then checks they stay there.
func (e *env) waitCounts(t *testing.T, allocID, pool string, want map[string]float64) []series {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, all := e.scrape(t, withKey(apiKey))
		got := requestCounts(t, all, allocID, pool)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			time.Sleep(2 * time.Second) // nothing more may come
			_, all = e.scrape(t, withKey(apiKey))
			if got = requestCounts(t, all, allocID, pool); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("requests of pool %q went on to %v, want %v", pool, got, want)
			}
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests of pool %q: %v, want %v", pool, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settledCounts is the pool's counts once the front flushed what the
// set-up requested.
func (e *env) settledCounts(t *testing.T, allocID, pool string) map[string]float64 {
	t.Helper()
	time.Sleep(2 * time.Second)
	_, all := e.scrape(t, withKey(apiKey))
	return requestCounts(t, all, allocID, pool)
}

func plus(base map[string]float64, add map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range base {
		out[k] = v + add[k]
	}
	return out
}

// TestMetrics: exact request counts by status class per pool (5 x 200 and
// 3 x 404 sent, exactly that counted), counters that survive a recycle and
// a plugin restart, the node's series for the API key only, a JWT of one
// task seeing nothing of another, 401 without credentials, and a scrape
// that Prometheus's own promtool accepts.
func TestMetrics(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	b := e.startApp(appOptions{job: "other-app"})
	aID, bID := a.alloc.ID(), b.alloc.ID()
	pool := a.status(t).Pools[0].Name

	base := e.settledCounts(t, aID, pool)
	bBase := e.settledCounts(t, bID, pool)
	_, all := e.scrape(t, withKey(apiKey))
	bytesBefore, ok := find(all, "nomad_iis_response_bytes_total", map[string]string{"alloc_id": aID, "pool": pool})
	if !ok {
		t.Fatalf("no nomad_iis_response_bytes_total for alloc %s pool %q", aID, pool)
	}
	var bodyBytes int
	for i := 0; i < 5; i++ {
		code, body := fetchSite(a.siteURL + "index.html")
		if code != 200 {
			t.Fatalf("GET index.html: %d %q", code, body)
		}
		bodyBytes += len(body)
	}
	for i := 0; i < 3; i++ {
		if code, body := fetchSite(fmt.Sprintf("%snope-%d.html", a.siteURL, i)); code != 404 {
			t.Fatalf("GET nope: %d %q", code, body)
		}
	}
	want := plus(base, map[string]float64{"2xx": 5, "4xx": 3})
	all = e.waitCounts(t, aID, pool, want)
	if got := requestCounts(t, all, bID, pool); fmt.Sprint(got) != fmt.Sprint(bBase) {
		t.Errorf("task B's requests moved with A's: %v, was %v", got, bBase)
	}
	bytesAfter, _ := find(all, "nomad_iis_response_bytes_total", map[string]string{"alloc_id": aID, "pool": pool})
	if sent := bytesAfter - bytesBefore; sent < float64(bodyBytes) || sent > float64(bodyBytes)+8*4096 {
		t.Errorf("bytes sent grew by %v for %d body bytes in 8 answers", sent, bodyBytes)
	}
	labels := map[string]string{"alloc_id": aID, "pool": pool, "task": "app", "job": "static-app", "namespace": "default"}
	if v, ok := find(all, "nomad_iis_pool_state", merge(labels, map[string]string{"state": "Started"})); !ok || v != 1 {
		t.Errorf("pool_state Started = %v (found %v)", v, ok)
	}
	if v, ok := find(all, "nomad_iis_requests_active", labels); !ok || v != 0 {
		t.Errorf("requests active on an idle site = %v (found %v)", v, ok)
	}
	if v, ok := find(all, "nomad_iis_workers", labels); !ok || v < 1 {
		t.Errorf("workers = %v (found %v)", v, ok)
	}
	if v, ok := find(all, "nomad_iis_worker_resident_memory_bytes", labels); !ok || v <= 0 {
		t.Errorf("worker RSS = %v (found %v)", v, ok)
	}
	if v, ok := find(all, "nomad_iis_tasks", nil); !ok || v != 2 {
		t.Errorf("nomad_iis_tasks = %v (found %v)", v, ok)
	}
	if v, ok := find(all, "nomad_iis_pools", map[string]string{"state": "Started"}); !ok || v != 2 {
		t.Errorf("nomad_iis_pools{state=Started} = %v (found %v)", v, ok)
	}
	if v, ok := find(all, "nomad_iis_grpc_calls_total", map[string]string{"method": "StartTask"}); !ok || v != 2 {
		t.Errorf("gRPC StartTask calls = %v (found %v)", v, ok)
	}
	if v, ok := find(all, "nomad_iis_management_api_requests_total", map[string]string{"route": "metrics", "code": "200"}); !ok || v < 1 {
		t.Errorf("API metrics requests = %v (found %v)", v, ok)
	}
	if _, ok := find(all, "nomad_iis_management_api_request_duration_seconds_count", map[string]string{"route": "status", "code": "200"}); !ok {
		t.Errorf("no latency histogram for the status route")
	}

	t.Run("scoping", func(t *testing.T) {
		if r := get(t, noAuth, e.base+"/metrics"); r.code != 401 {
			t.Errorf("no credentials: %v, want 401", r)
		}
		expect(t, get(t, withBearer(jwtFor(aID, []string{"FilesystemAccess"}, nil)), e.base+"/metrics"), 403, "JWT without Status")
		_, scoped := e.scrape(t, withBearer(jwtFor(aID, []string{"Status"}, nil)))
		if got := requestCounts(t, scoped, aID, pool); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("task A's own JWT sees %v, want %v", got, want)
		}
		for _, s := range scoped {
			if s.labels["alloc_id"] != aID {
				t.Errorf("a JWT for task A sees %s %v", s.name, s.labels)
			}
		}
		_, scopedB := e.scrape(t, withBearer(jwtFor(bID, []string{"Status"}, func(c claims) { c["jobName"] = "other-app" })))
		if len(scopedB) == 0 {
			t.Errorf("task B's JWT sees nothing")
		}
		for _, s := range scopedB {
			if s.labels["alloc_id"] != bID {
				t.Errorf("a JWT for task B sees %s %v", s.name, s.labels)
			}
		}
	})

	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool is not installed (Debian package prometheus): the exposition is not linted")
		}
		text, _ := e.scrape(t, withKey(apiKey))
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s\nscrape:\n%s", err, out.String(), text)
		}
	})

	t.Run("recycle keeps the counts", func(t *testing.T) {
		_, before := e.scrape(t, withKey(apiKey))
		starts, _ := find(before, "nomad_iis_worker_starts_total", labels)
		// The answer comes once the recycle is done; the site serves throughout.
		expect(t, call(t, withKey(apiKey), "PUT", a.api+"/recycle", nil, ""), 200, "recycle")
		if code, body := fetchSite(a.siteURL + "index.html"); code != 200 {
			t.Fatalf("after recycle: %d %q", code, body)
		}
		all := e.waitCounts(t, aID, pool, plus(want, map[string]float64{"2xx": 1}))
		if v, _ := find(all, "nomad_iis_pool_recycles_total", labels); v != 1 {
			t.Errorf("recycles = %v, want 1", v)
		}
		if v, _ := find(all, "nomad_iis_worker_starts_total", labels); v <= starts {
			t.Errorf("worker starts %v after a recycle, %v before", v, starts)
		}
		want = plus(want, map[string]float64{"2xx": 1})
	})

	t.Run("plugin restart keeps the request counts", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := e.host.Restart(ctx); err != nil {
			t.Fatalf("restart: %v", err)
		}
		for _, x := range []*app{a, b} {
			if err := x.task.Recover(ctx, true); err != nil {
				t.Fatalf("recover: %v", err)
			}
		}
		e.waitListening(20 * time.Second)
		// Requests while the plugin was away are in the log too.
		for i := 0; i < 2; i++ {
			if code, _ := fetchSite(a.siteURL + "index.html"); code != 200 {
				t.Fatalf("GET after restart: %d", code)
			}
		}
		e.waitCounts(t, aID, pool, plus(want, map[string]float64{"2xx": 2}))
	})
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
