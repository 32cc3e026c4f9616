package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	nomad "github.com/hashicorp/nomad/api"
)

// TestJobsAPIRestWithNomadClient covers the rest of the Jobs API page:
// actions (listed; running one answers what Nomad answers for a driver
// without exec), dispatch/payload, jobs/statuses, and Nomad's paging and
// filter expressions on the lists.
func TestJobsAPIRestWithNomadClient(t *testing.T) {
	a := startAgent(t, agentOptions{})
	c := a.nomadClient()
	jobs := c.Jobs()

	web := apiJob(t, sampleJob(t, "more-web", 1))
	web.TaskGroups[0].Tasks[0].Actions = []*nomad.Action{
		{Name: "warm-up", Command: "curl", Args: []string{"-s", "http://localhost/"}},
		{Name: "flush", Command: "cmd.exe", Args: []string{"/c", "echo"}},
		{Name: "answer", Command: "/bin/sh", Args: []string{"-c", "read x; echo \"got:$x uid:$(id -u)\"; exit 3"}},
	}
	reg, _, err := jobs.Register(web, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEval(t, c, reg.EvalID)
	allocs := waitAllocs(t, c, "more-web", false, running(1))

	t.Run("actions", func(t *testing.T) {
		code, body, _ := a.do("GET", "/v1/job/more-web/actions", nil)
		var list []struct {
			Name, Command, TaskName, TaskGroupName string
			Args                                   []string
		}
		mustUnmarshal(t, body, &list)
		if code != 200 || len(list) != 3 || list[0].Name != "warm-up" || list[0].Command != "curl" ||
			list[0].TaskName != "app" || list[0].TaskGroupName != "web" || len(list[0].Args) != 2 || list[1].Name != "flush" {
			t.Errorf("actions: %d %s", code, body)
		}
		if code, body, _ := a.do("GET", "/v1/job/nope/actions", nil); code != 500 || string(body) != `Unknown job "nope"` {
			t.Errorf("unknown job: %d %s", code, body)
		}
		if code, _, _ := a.do("POST", "/v1/job/more-web/actions", nil); code != 405 {
			t.Errorf("POST actions: %d", code)
		}
		// Without a websocket upgrade, Nomad answers as here.
		if code, body, _ := a.do("POST", "/v1/job/more-web/action", nil); code != 500 ||
			string(body) != "websocket connection not found in context" {
			t.Errorf("action without websocket: %d %s", code, body)
		}
	})

	t.Run("run an action", func(t *testing.T) {
		alloc, _, err := c.Allocations().Info(allocs[0].ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		// The action runs in the task through the plugin's exec, its stdin,
		// output and exit code relayed in Nomad's frames.
		exit, err := jobs.ActionExec(ctx, alloc, "more-web", "app", false, nil, "answer",
			strings.NewReader("hi\n"), &stdout, &stderr, nil, nil)
		if err != nil || exit != 3 || !strings.HasPrefix(stdout.String(), "got:hi uid:") ||
			strings.TrimSpace(stdout.String()) == "got:hi uid:0" {
			t.Errorf("action exec: exit %d, err %v, stdout %q, stderr %q", exit, err, stdout.String(), stderr.String())
		}
		t.Logf("action exec answered: exit %d, %q", exit, stdout.String())
		// A command the task cannot run: the plugin's refusal, as Nomad's client relays it.
		exit, err = jobs.ActionExec(ctx, alloc, "more-web", "app", false, nil, "flush",
			strings.NewReader(""), &stdout, &stderr, nil, nil)
		if err == nil || exit != -2 || !strings.Contains(err.Error(), "cmd.exe") {
			t.Errorf("unrunnable action: exit %d, err %v", exit, err)
		}
		_, err = jobs.ActionExec(ctx, alloc, "more-web", "app", false, nil, "nope",
			strings.NewReader(""), &stdout, &stderr, nil, nil)
		if err == nil || err.Error() != "action nope not found in task app" {
			t.Errorf("unknown action: %v", err)
		}
		// The close codes: 1011 for Nomad's 500s, 1008 for the rest.
		closeOf := func(query string) *websocket.CloseError {
			u := strings.Replace(a.Address, "http://", "ws://", 1) + "/v1/job/more-web/action?" + query
			conn, _, err := websocket.DefaultDialer.Dial(u, nil)
			if err != nil {
				t.Fatalf("dial %s: %v", u, err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, _, err = conn.ReadMessage()
			ce, _ := err.(*websocket.CloseError)
			if ce == nil {
				t.Fatalf("%s: %v", query, err)
			}
			return ce
		}
		q := url.Values{"allocID": {alloc.ID}, "task": {"app"}, "action": {"flush"}}
		if ce := closeOf(q.Encode()); ce.Code != websocket.CloseInternalServerErr || !strings.Contains(ce.Text, "no executable file") {
			t.Errorf("exec close: %+v", ce)
		}
		q.Set("allocID", "00000000-0000-0000-0000-000000000000")
		if ce := closeOf(q.Encode()); ce.Code != websocket.ClosePolicyViolation ||
			ce.Text != `Unknown allocation "00000000-0000-0000-0000-000000000000"` {
			t.Errorf("unknown alloc close: %+v", ce)
		}
		q.Set("allocID", alloc.ID)
		q.Set("task", "")
		if ce := closeOf(q.Encode()); ce.Code != websocket.ClosePolicyViolation || ce.Text != "must provide task name" {
			t.Errorf("no task close: %+v", ce)
		}
	})

	t.Run("alloc exec", func(t *testing.T) {
		alloc, _, err := c.Allocations().Info(allocs[0].ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		// As `nomad alloc exec`: stdin in, stdout and stderr apart, the exit code.
		exit, err := c.Allocations().Exec(ctx, alloc, "app", false,
			[]string{"/bin/sh", "-c", "cat; echo oops >&2; exit 5"},
			strings.NewReader("hello from stdin"), &stdout, &stderr, nil, nil)
		if err != nil || exit != 5 || stdout.String() != "hello from stdin" || stderr.String() != "oops\n" {
			t.Errorf("alloc exec: exit %d, err %v, stdout %q, stderr %q", exit, err, stdout.String(), stderr.String())
		}
		// A terminal: the command sees a tty.
		stdout.Reset()
		exit, err = c.Allocations().Exec(ctx, alloc, "app", true, []string{"/bin/sh", "-c", "tty"},
			strings.NewReader(""), &stdout, &stderr, nil, nil)
		if err != nil || exit != 0 || !strings.HasPrefix(stdout.String(), "/dev/pts/") {
			t.Errorf("alloc exec -t: exit %d, err %v, stdout %q", exit, err, stdout.String())
		}
		// Nomad's refusals, in its order.
		_, err = c.Allocations().Exec(ctx, alloc, "", false, []string{"id"}, strings.NewReader(""), &stdout, &stderr, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "must provide task name") {
			t.Errorf("alloc exec without a task: %v", err)
		}
		_, err = c.Allocations().Exec(ctx, alloc, "nope", false, []string{"id"}, strings.NewReader(""), &stdout, &stderr, nil, nil)
		if err == nil || !strings.Contains(err.Error(), `unknown task name "nope"`) {
			t.Errorf("alloc exec in an unknown task: %v", err)
		}
	})

	t.Run("bad input as Nomad answers it", func(t *testing.T) {
		for _, c := range []struct{ path, body, want string }{
			{"/v1/job/more-web/revert", `{"JobVersion": 0}`, "JobID must be specified"},
			{"/v1/job/more-web/stable", `{"JobID": "other", "Stable": true}`, "Job ID does not match"},
			{"/v1/job/more-web/evaluate", `{"EvalOptions": {"ForceReschedule": false}}`, "Job ID must be specified"},
			{"/v1/job/more-web/evaluate", `{"JobID": "other"}`, "JobID not same as job name"},
			{"/v1/job/more-web/plan", `{"Job": {"Name": "x"}}`, "Job must have a valid ID"},
			{"/v1/job/more-web", `{"Job": {"Name": "x"}}`, "Job ID hasn't been provided"},
			{"/v1/job/more-web", `{"Job": {"ID": "other"}}`, "Job ID does not match name"},
			{"/v1/job/more-web/scale", `{"Count": 1, "Target": {"Job": "other", "Group": "web"}}`, "job ID in payload did not match URL"},
		} {
			if code, body, _ := a.do("POST", c.path, c.body); code != 400 || string(body) != c.want {
				t.Errorf("%s %s: %d %q, want 400 %q", c.path, c.body, code, body, c.want)
			}
		}
		for _, c := range []struct {
			path string
			code int
			want string
		}{
			{"/v1/job/nope/versions", 404, "job versions not found"},
			{"/v1/job/more-web/versions?diffs=maybe", 500, `Failed to parse value of "diffs" (maybe) as a bool: `},
			{"/v1/job/more-web/versions?diffs=true&diff_version=x", 500, `Failed to parse value of "diff_version" (x) as a uint64: `},
			{"/v1/evaluations?per_page=x", 400, "Expect a number for `per_page` query string parameter"},
		} {
			if code, body, _ := a.do("GET", c.path, nil); code != c.code || !strings.HasPrefix(string(body), c.want) {
				t.Errorf("%s: %d %q, want %d %q", c.path, code, body, c.code, c.want)
			}
		}
		// Without a body, evaluate re-evaluates the URL's job.
		if code, body, _ := a.do("POST", "/v1/job/more-web/evaluate", nil); code != 200 || !strings.Contains(string(body), `"EvalID"`) {
			t.Errorf("evaluate without a body: %d %s", code, body)
		}
	})

	t.Run("dispatch payload", func(t *testing.T) {
		param := batchJob(t, "more-param")
		param.ParameterizedJob = &nomad.ParameterizedJobConfig{Payload: "required"}
		param.TaskGroups[0].Tasks[0].DispatchPayload = &nomad.DispatchPayloadConfig{File: "in.bin"}
		if _, _, err := jobs.Register(param, nil); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(a.Address+"/v1/job/more-param/dispatch/payload", "application/octet-stream",
			strings.NewReader("raw \x00 bytes"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out nomad.JobDispatchResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 ||
			!strings.HasPrefix(out.DispatchedJobID, "more-param/dispatch-") || out.EvalID == "" {
			t.Fatalf("dispatch/payload: %d %+v %v", resp.StatusCode, out, err)
		}
		list := waitAllocs(t, c, out.DispatchedJobID, false, running(1))
		got, err := os.ReadFile(filepath.Join(a.dir, "data", "alloc", list[0].ID, "app", "local", "in.bin"))
		if err != nil || string(got) != "raw \x00 bytes" {
			t.Errorf("payload file: %q %v", got, err)
		}
		if code, body, _ := a.do("POST", "/v1/job/more-param/dispatch/payload", ""); code != 400 ||
			!strings.Contains(string(body), "Payload is not provided but required by parameterized job") {
			t.Errorf("empty payload: %d %s", code, body)
		}
		if code, _, _ := a.do("GET", "/v1/job/more-param/dispatch/payload", nil); code != 405 {
			t.Errorf("GET dispatch/payload: %d", code)
		}
	})

	t.Run("jobs statuses", func(t *testing.T) {
		type status struct {
			ID, Namespace, Type, Status string
			GroupCountSum               int
			ChildStatuses               []string
			ModifyIndex                 uint64
			Allocs                      []struct{ ID, Group, ClientStatus string }
		}
		code, body, idx := a.do("POST", "/v1/jobs/statuses", map[string]interface{}{"Jobs": []map[string]string{{"ID": "more-web"}}})
		var one []status
		mustUnmarshal(t, body, &one)
		if code != 200 || len(one) != 1 || one[0].ID != "more-web" || one[0].Namespace != "default" || one[0].GroupCountSum != 1 ||
			len(one[0].Allocs) != 1 || one[0].Allocs[0].ID != allocs[0].ID || one[0].Allocs[0].ClientStatus != "running" || idx == 0 {
			t.Errorf("one job: %d %s (index %d)", code, body, idx)
		}
		// Without a body: every job without a parent, newest change first.
		code, body, _ = a.do("GET", "/v1/jobs/statuses", nil)
		var all []status
		mustUnmarshal(t, body, &all)
		if code != 200 || len(all) != 2 || all[0].ID != "more-param" || all[1].ID != "more-web" ||
			all[0].ModifyIndex < all[1].ModifyIndex || len(all[0].ChildStatuses) != 1 {
			t.Errorf("all: %d %s", code, body)
		}
		req, _ := http.NewRequest("GET", a.Address+"/v1/jobs/statuses?per_page=1&include_children=true", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page []status
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		next := resp.Header.Get("X-Nomad-NextToken")
		if len(page) != 1 || next == "" {
			t.Errorf("first page: %+v next %q", page, next)
		}
		for body, want := range map[string]string{`{"Jobs": []}`: "no jobs in request", `{"Jobs": 1}`: "error decoding request: "} {
			if code, got, _ := a.do("POST", "/v1/jobs/statuses", body); code != 400 || !strings.HasPrefix(string(got), want) {
				t.Errorf("%s: %d %s", body, code, got)
			}
		}
		if code, _, _ := a.do("PUT", "/v1/jobs/statuses", nil); code != 405 {
			t.Errorf("PUT statuses: %d", code)
		}
	})

	t.Run("paging and filters", func(t *testing.T) {
		evals := c.Evaluations()
		all, _, err := evals.List(nil)
		if err != nil || len(all) < 3 {
			t.Fatalf("evaluations: %d %v", len(all), err)
		}
		// The server lists oldest first, as Nomad; HashiCorp's client
		// sorts each page newest first.
		_, body, _ := a.do("GET", "/v1/evaluations", nil)
		var raw []struct {
			ID          string
			CreateIndex uint64
		}
		mustUnmarshal(t, body, &raw)
		for i := 1; i < len(raw); i++ {
			if raw[i-1].CreateIndex > raw[i].CreateIndex {
				t.Fatalf("not oldest first: %d before %d", raw[i-1].CreateIndex, raw[i].CreateIndex)
			}
		}
		var paged []string
		q := &nomad.QueryOptions{PerPage: 2}
		for {
			page, qm, err := evals.List(q)
			if err != nil || len(page) > 2 {
				t.Fatalf("page: %d %v", len(page), err)
			}
			for _, e := range page {
				paged = append(paged, e.ID)
			}
			if qm.NextToken == "" {
				break
			}
			q.NextToken = qm.NextToken
		}
		seen := map[string]bool{}
		for _, id := range paged {
			seen[id] = true
		}
		if len(paged) != len(raw) || len(seen) != len(raw) {
			t.Errorf("paged %d (%d distinct) of %d", len(paged), len(seen), len(raw))
		}
		for _, e := range raw {
			if !seen[e.ID] {
				t.Errorf("evaluation %s missing from the pages", e.ID)
			}
		}
		rev, _, err := evals.List(&nomad.QueryOptions{Reverse: true, PerPage: 1})
		if err != nil || len(rev) != 1 || rev[0].ID != raw[len(raw)-1].ID {
			t.Errorf("reverse: %+v %v", rev, err)
		}
		mine, _, err := evals.List(&nomad.QueryOptions{Filter: `JobID == "more-web" and TriggeredBy == "job-register"`})
		want := 0
		for _, e := range all {
			if e.JobID == "more-web" && e.TriggeredBy == "job-register" {
				want++
			}
		}
		found := false
		for _, e := range mine {
			found = found || e.ID == reg.EvalID
			if e.JobID != "more-web" {
				t.Errorf("filter let %s of %s through", e.ID, e.JobID)
			}
		}
		if err != nil || len(mine) != want || want < 2 || !found {
			t.Errorf("filter: %d of %d %v", len(mine), want, err)
		}
		_, _, err = evals.List(&nomad.QueryOptions{Filter: `JobID ==`})
		if statusCode(err) != 400 || !strings.Contains(err.Error(), "failed to read filter expression") {
			t.Errorf("bad filter: %v", err)
		}
		_, _, err = evals.List(&nomad.QueryOptions{Filter: `JobID == "x"`, Params: map[string]string{"job": "x"}})
		if statusCode(err) != 400 || !strings.Contains(err.Error(), "Filter expression cannot be used with other filter parameters") {
			t.Errorf("filter with job: %v", err)
		}
		list, _, err := jobs.List(&nomad.QueryOptions{Filter: `Type == "batch"`})
		if err != nil || len(list) != 2 || list[0].ID != "more-param" {
			t.Errorf("jobs filter: %+v %v", list, err)
		}
		withMeta, _, err := jobs.List(&nomad.QueryOptions{Prefix: "more-web", Params: map[string]string{"meta": "true"}})
		if err != nil || len(withMeta) != 1 || withMeta[0].Meta == nil {
			t.Errorf("jobs meta: %+v %v", withMeta, err)
		}
		page, qm, err := c.Allocations().List(&nomad.QueryOptions{PerPage: 1})
		if err != nil || len(page) != 1 || qm.NextToken == "" {
			t.Errorf("allocations page: %d %+v %v", len(page), qm, err)
		}
		_, _, err = c.Deployments().List(&nomad.QueryOptions{Filter: `Status ==`})
		if statusCode(err) != 400 {
			t.Errorf("deployments bad filter: %v", err)
		}
	})
}

// TestJobRunFollowsEvaluationAndDeployment: `nomad-iis-host job run`
// monitors as `nomad job run` does, with its exit codes.
func TestJobRunFollowsEvaluationAndDeployment(t *testing.T) {
	a := startAgent(t, agentOptions{})
	host := binary(t, "NOMAD_IIS_HOST_BIN")
	dir := tempDir(t)
	write := func(name string, job *nomad.Job) string {
		b, err := json.Marshal(map[string]interface{}{"Job": job})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	job := apiJob(t, sampleJob(t, "run-web", 1))
	job.TaskGroups[0].Update = &nomad.UpdateStrategy{MaxParallel: ptr(1), MinHealthyTime: ptr(time.Second),
		HealthyDeadline: ptr(30 * time.Second), ProgressDeadline: ptr(60 * time.Second)}
	out, errOut, code := runBinary(t, host, nil, 2*time.Minute, "job", "run", "-address", a.Address, write("web.json", job))
	for _, want := range []string{`Monitoring evaluation "`, `Evaluation triggered by job "run-web"`,
		`Evaluation within deployment: "`, `Allocation "`, `created: node "`, `group "web"`,
		`finished with status "complete"`, `Monitoring deployment "`, "Status      = successful",
		"Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline"} {
		if !strings.Contains(out, want) {
			t.Errorf("job run output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Fatalf("job run: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("job run:\n%s", out)

	// The same static port for a second job cannot be placed: exit 2 with
	// Nomad's lines.
	clash := apiJob(t, sampleJob(t, "run-clash", 1))
	allocs, _, _ := a.nomadClient().Jobs().Allocations("run-web", false, nil)
	al, _, err := a.nomadClient().Allocations().Info(allocs[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	port := al.AllocatedResources.Shared.Ports[0]
	clash.TaskGroups[0].Networks = []*nomad.NetworkResource{{ReservedPorts: []nomad.Port{{Label: port.Label, Value: port.Value}}}}
	out, errOut, code = runBinary(t, host, nil, time.Minute, "job", "run", "-address", a.Address, write("clash.json", clash))
	if code != 2 || !strings.Contains(out, "but failed to place all allocations:") ||
		!strings.Contains(out, `Task Group "web" (failed to place 1 allocation):`) || !strings.Contains(out, "waiting for additional capacity") {
		t.Errorf("clash: exit %d\n%s\n%s", code, out, errOut)
	}

	out, _, code = runBinary(t, host, nil, time.Minute, "job", "run", "-detach", "-address", a.Address, write("again.json", job))
	if code != 0 || !strings.Contains(out, "Job registration successful") || !strings.Contains(out, "Evaluation ID: ") ||
		strings.Contains(out, "Monitoring") {
		t.Errorf("detach: exit %d\n%s", code, out)
	}
}
