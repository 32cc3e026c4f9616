package management

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type workerView struct {
	Pid        int     `json:"pid"`
	StartTime  string  `json:"startTime"`
	RssBytes   int64   `json:"rssBytes"`
	CPUSeconds float64 `json:"cpuSeconds"`
}

type poolWorkers struct {
	Pool           string       `json:"appPoolName"`
	Status         string       `json:"status"`
	RequestsServed int64        `json:"requestsServed"`
	Workers        []workerView `json:"workers"`
}

type openRequest struct {
	Method  string  `json:"method"`
	Path    string  `json:"path"`
	Client  string  `json:"clientAddress"`
	Pool    string  `json:"appPoolName"`
	Elapsed float64 `json:"elapsedSeconds"`
}

func (a *app) workers(t *testing.T, pool string) poolWorkers {
	t.Helper()
	r := get(t, withKey(apiKey), a.api+"/pools/"+pool+"/workers")
	if r.code != 200 {
		t.Fatalf("workers: %v", r)
	}
	var w poolWorkers
	if err := json.Unmarshal(r.body, &w); err != nil {
		t.Fatalf("workers JSON: %v (%s)", err, r.body)
	}
	return w
}

func (a *app) openRequests(t *testing.T) []openRequest {
	t.Helper()
	r := get(t, withKey(apiKey), a.api+"/requests")
	if r.code != 200 {
		t.Fatalf("requests: %v", r)
	}
	var out struct {
		Requests []openRequest `json:"requests"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("requests JSON: %v (%s)", err, r.body)
	}
	return out.Requests
}

// TestPoolWorkers: the workers route names exactly the pool's workers that
// status reports, with their memory, a start time between the test's start
// and now, and the pool's requests from the request log; scoped like status.
func TestPoolWorkers(t *testing.T) {
	began := time.Now().Add(-2 * time.Second)
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	b := e.startApp(appOptions{job: "other-app"})
	pool := a.status(t).Pools[0].Name

	for i := 0; i < 4; i++ {
		if code, _ := fetchSite(a.siteURL + "index.html"); code != 200 {
			t.Fatalf("GET index.html: %d", code)
		}
	}
	var w poolWorkers
	deadline := time.Now().Add(15 * time.Second)
	for w = a.workers(t, pool); w.RequestsServed < 5; w = a.workers(t, pool) { // startApp's check + 4
		if time.Now().After(deadline) {
			t.Fatalf("requestsServed stays %d, want >= 5", w.RequestsServed)
		}
		time.Sleep(200 * time.Millisecond)
	}
	status := a.status(t).Pools[0]
	if w.Pool != pool || w.Status != status.Status {
		t.Errorf("pool %q status %q, status route says %q %q", w.Pool, w.Status, pool, status.Status)
	}
	if len(w.Workers) == 0 || len(w.Workers) != len(status.WorkerIDs) {
		t.Fatalf("workers %+v, status says pids %v", w.Workers, status.WorkerIDs)
	}
	for i, worker := range w.Workers {
		if worker.Pid != status.WorkerIDs[i] {
			t.Errorf("worker %d has pid %d, status says %d", i, worker.Pid, status.WorkerIDs[i])
		}
		if worker.RssBytes <= 0 {
			t.Errorf("worker %d RSS %d", worker.Pid, worker.RssBytes)
		}
		if rss := procStatusKB(t, worker.Pid, "VmRSS") * 1024; worker.RssBytes > 2*rss+(4<<20) {
			t.Errorf("worker %d RSS %d, /proc says %d", worker.Pid, worker.RssBytes, rss)
		}
		started, err := time.Parse(time.RFC3339Nano, worker.StartTime)
		if err != nil || !strings.HasSuffix(worker.StartTime, "Z") {
			t.Errorf("worker %d start time %q: %v", worker.Pid, worker.StartTime, err)
		} else if started.Before(began) || started.After(time.Now()) {
			t.Errorf("worker %d started %v, not between %v and now", worker.Pid, started, began)
		}
		if worker.CPUSeconds < 0 {
			t.Errorf("worker %d CPU seconds %v", worker.Pid, worker.CPUSeconds)
		}
	}

	t.Run("scoping", func(t *testing.T) {
		route := "/pools/" + pool + "/workers"
		if r := get(t, noAuth, a.api+route); r.code != 401 {
			t.Errorf("no credentials: %v, want 401", r)
		}
		expect(t, get(t, withKey(apiKey), a.api+"/pools/nope/workers"), 404, "unknown pool")
		expect(t, get(t, withKey(apiKey), e.base+"/allocs/"+a.alloc.ID()+"/nope"+route), 404, "unknown task")
		expect(t, get(t, withKey(apiKey), e.base+"/allocs/no-such-alloc/app"+route), 404, "unknown alloc")
		expect(t, call(t, withKey(apiKey), "PUT", a.api+route, nil, ""), 405, "PUT")
		expect(t, get(t, withBearer(jwtFor(a.alloc.ID(), []string{"FilesystemAccess"}, nil)), a.api+route), 403, "JWT without Status")
		expect(t, get(t, withBearer(jwtFor(b.alloc.ID(), []string{"Status"}, nil)), a.api+route), 403, "JWT of another alloc")
		expect(t, get(t, withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, func(c claims) { c["jobName"] = "other-app" })), a.api+route), 403, "JWT of another job")
		expect(t, get(t, withBearer(jwtFor(a.alloc.ID(), []string{"Status"}, nil)), a.api+route), 200, "JWT of the task")
	})
}

// stopWorkers freezes the pool's nginx workers (SIGSTOP): the front's
// connections to the pool wait in its socket's backlog, and their requests
// stay open, until thawWorkers.
func stopWorkers(t *testing.T, pids []int, sig syscall.Signal) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatalf("kill -%d %d: %v", sig, pid, err)
		}
	}
}

// holdRequests freezes the workers (SIGSTOP) and sends a request to each
// URL, which they hold. thaw lets them run (once; the caller also defers
// it); answers then waits for the requests and gives their status codes.
func holdRequests(t *testing.T, workers []int, urls []string) (thaw func(), answers func() []int) {
	t.Helper()
	stopWorkers(t, workers, syscall.SIGSTOP)
	thawed := false
	thaw = func() {
		if !thawed {
			thawed = true
			stopWorkers(t, workers, syscall.SIGCONT)
		}
	}
	var wg sync.WaitGroup
	codes := make([]int, len(urls))
	client := *siteClient
	client.Timeout = 60 * time.Second
	for i, url := range urls {
		wg.Add(1)
		go func(i int, url string) {
			defer wg.Done()
			if resp, err := client.Get(url); err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		}(i, url)
	}
	return thaw, func() []int {
		wg.Wait()
		return codes
	}
}

// TestOpenRequestsAndQueue: requests held by a frozen pool show in the
// requests route (method, path without its query string, client, pool) and
// in nomad_iis_requests_queued; once the pool runs again they are answered
// and leave both. Idle keep-alive connections show as waiting connections.
// The front's view of a pool behind it: open requests it proxies, and the
// pool socket's queue (a pool served by the front alone has
// TestQueueOfAPoolTheFrontServes).
func TestOpenRequestsAndQueue(t *testing.T) {
	e := startEnv(t, envOptions{config: map[string]interface{}{"single_hop_static": false}})
	a := e.startApp(appOptions{})
	aID := a.alloc.ID()
	// The pool starts on demand: its workers show once it told the task.
	status := a.status(t).Pools[0]
	for deadline := time.Now().Add(10 * time.Second); len(status.WorkerIDs) == 0; status = a.status(t).Pools[0] {
		if time.Now().After(deadline) {
			t.Fatalf("the pool shows no workers: %+v", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pool := status.Name
	labels := map[string]string{"alloc_id": aID, "pool": pool}

	if got := a.openRequests(t); len(got) != 0 {
		t.Fatalf("an idle site has open requests: %+v", got)
	}
	_, all := e.scrape(t, withKey(apiKey))
	if v, ok := find(all, "nomad_iis_requests_queued", labels); !ok || v != 0 {
		t.Fatalf("queued on an idle site = %v (found %v)", v, ok)
	}

	const held = 3
	urls := make([]string, held)
	for i := range urls {
		urls[i] = fmt.Sprintf("%sindex.html?token=secret-%d", a.siteURL, i)
	}
	thaw, answers := holdRequests(t, status.WorkerIDs, urls)
	defer thaw()

	deadline := time.Now().Add(15 * time.Second)
	var open []openRequest
	for {
		open = a.openRequests(t)
		_, all = e.scrape(t, withKey(apiKey))
		queued, _ := find(all, "nomad_iis_requests_queued", labels)
		if len(open) == held && queued >= held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with the pool frozen: open requests %+v, queued %v; want %d of each", open, queued, held)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, r := range open {
		if r.Method != "GET" || r.Path != "/index.html" || r.Client != "127.0.0.1" || r.Pool != pool {
			t.Errorf("open request %+v, want GET /index.html from 127.0.0.1 to pool %q", r, pool)
		}
		if r.Elapsed <= 0 || r.Elapsed > 30 {
			t.Errorf("open request elapsed %v s", r.Elapsed)
		}
	}
	if r := get(t, withKey(apiKey), a.api+"/requests"); strings.Contains(string(r.body), "secret") {
		t.Errorf("the query string shows: %s", r.body)
	}
	first := open[0].Elapsed
	time.Sleep(1100 * time.Millisecond)
	if later := a.openRequests(t); len(later) != held || later[0].Elapsed < first+1 {
		t.Errorf("a second later: %+v (the oldest was %v s)", later, first)
	}

	thaw()
	for i, code := range answers() {
		if code != 200 {
			t.Errorf("held request %d answered %d", i, code)
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		open = a.openRequests(t)
		_, all = e.scrape(t, withKey(apiKey))
		queued, _ := find(all, "nomad_iis_requests_queued", labels)
		if len(open) == 0 && queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the answers: open requests %+v, queued %v", open, queued)
		}
		time.Sleep(300 * time.Millisecond)
	}

	t.Run("connections", func(t *testing.T) {
		front := map[string]string{"alloc_id": aID, "pool": ""}
		const idle = 4
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		host := strings.TrimSuffix(strings.TrimPrefix(a.siteURL, "http://"), "/")
		for i := 0; i < idle; i++ {
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			fmt.Fprintf(c, "GET /index.html HTTP/1.1\r\nHost: %s\r\n\r\n", host)
			status, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.Contains(status, " 200 ") {
				t.Fatalf("keep-alive request: %q %v", status, err)
			}
		}
		// One more that sent half a request head: reading.
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /index.html HTTP/1.1\r\n")
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, all := e.scrape(t, withKey(apiKey))
			waiting, ok := find(all, "nomad_iis_connections", merge(front, map[string]string{"state": "waiting"}))
			reading, _ := find(all, "nomad_iis_connections", merge(front, map[string]string{"state": "reading"}))
			writing, _ := find(all, "nomad_iis_connections", merge(front, map[string]string{"state": "writing"}))
			if ok && waiting >= idle && reading >= 1 && writing == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("connections waiting %v (found %v) reading %v writing %v; want >= %d, >= 1, 0",
					waiting, ok, reading, writing, idle)
			}
			time.Sleep(300 * time.Millisecond)
		}
		// The status page is no request of the site's.
		before := e.settledCounts(t, aID, "")
		for i := 0; i < 3; i++ {
			e.scrape(t, withKey(apiKey))
		}
		if after := e.settledCounts(t, aID, ""); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("scrapes moved the front's request counts: %v, was %v", after, before)
		}
		if code, _ := fetchSite(a.siteURL + "__nomad_iis/start/0"); code != 404 {
			t.Errorf("the start location answers visitors: %d", code)
		}
	})

	t.Run("scoping", func(t *testing.T) {
		if r := get(t, noAuth, a.api+"/requests"); r.code != 401 {
			t.Errorf("no credentials: %v, want 401", r)
		}
		expect(t, get(t, withKey(apiKey), e.base+"/allocs/no-such-alloc/app/requests"), 404, "unknown alloc")
		expect(t, get(t, withBearer(jwtFor(aID, []string{"FilesystemAccess"}, nil)), a.api+"/requests"), 403, "JWT without Status")
		expect(t, get(t, withBearer(jwtFor(aID, []string{"Status"}, func(c claims) { c["jobName"] = "other-app" })), a.api+"/requests"), 403, "JWT of another job")
		expect(t, get(t, withBearer(jwtFor(aID, []string{"Status"}, nil)), a.api+"/requests"), 200, "JWT of the task")
	})
}

// One hop: the front's workers are the pool's. Frozen, they accept nothing:
// requests wait in the kernel's accept queue of the bindings, counted as
// queued for the pool, and none is open.
func TestQueueOfAPoolTheFrontServes(t *testing.T) {
	e := startEnv(t, envOptions{})
	a := e.startApp(appOptions{})
	status := a.status(t).Pools[0]
	for deadline := time.Now().Add(10 * time.Second); len(status.WorkerIDs) == 0; status = a.status(t).Pools[0] {
		if time.Now().After(deadline) {
			t.Fatalf("the pool shows no workers: %+v", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	labels := map[string]string{"alloc_id": a.alloc.ID(), "pool": status.Name}
	queued := func() float64 {
		_, all := e.scrape(t, withKey(apiKey))
		v, _ := find(all, "nomad_iis_requests_queued", labels)
		return v
	}
	if v := queued(); v != 0 {
		t.Fatalf("queued on an idle site = %v", v)
	}
	const held = 3
	urls := make([]string, held)
	for i := range urls {
		urls[i] = a.siteURL + "index.html"
	}
	thaw, answers := holdRequests(t, status.WorkerIDs, urls)
	defer thaw()
	for deadline := time.Now().Add(15 * time.Second); queued() < held; {
		if time.Now().After(deadline) {
			t.Fatalf("with the front's workers frozen: queued %v, want %d", queued(), held)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if open := a.openRequests(t); len(open) != 0 {
		t.Errorf("nothing was accepted, yet open requests %+v", open)
	}
	thaw()
	for i, code := range answers() {
		if code != 200 {
			t.Errorf("held request %d answered %d", i, code)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); queued() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("after the answers: queued %v", queued())
		}
		time.Sleep(300 * time.Millisecond)
	}
}
