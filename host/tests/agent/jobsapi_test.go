package agent

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	hostagent "nomad_iis/host/agent"
)

// TestJobsAPI checks the Jobs HTTP API against the shapes of Nomad's
// documentation: list, register, read, allocations, summary, versions,
// check-and-set, blocking queries, delete, and the 404/400 answers.
func TestJobsAPI(t *testing.T) {
	a := startAgent(t, agentOptions{})

	t.Run("empty list", func(t *testing.T) {
		code, body, idx := a.do("GET", "/v1/jobs", nil)
		if code != 200 || strings.TrimSpace(string(body)) != "[]" || idx == 0 {
			t.Fatalf("GET /v1/jobs: %d %s (X-Nomad-Index %d)", code, body, idx)
		}
	})

	job := sampleJob(t, "api-web", 1)
	var reg hostagent.JobRegisterResponse
	t.Run("register", func(t *testing.T) {
		code, body, idx := a.do("POST", "/v1/jobs", map[string]interface{}{"Job": job})
		if code != 200 {
			t.Fatalf("POST /v1/jobs: %d %s", code, body)
		}
		var raw map[string]interface{}
		mustUnmarshal(t, body, &raw)
		for _, k := range []string{"EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings", "Index", "KnownLeader", "LastContact"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("register response lacks %s: %s", k, body)
			}
		}
		mustUnmarshal(t, body, &reg)
		if reg.EvalID == "" || reg.JobModifyIndex == 0 || idx != reg.Index {
			t.Errorf("register response %+v, header index %d", reg, idx)
		}
	})
	stubs := a.register(job) // same spec again: waits until it runs

	t.Run("read", func(t *testing.T) {
		code, body, idx := a.do("GET", "/v1/job/api-web", nil)
		if code != 200 {
			t.Fatalf("GET /v1/job/api-web: %d %s", code, body)
		}
		var raw map[string]interface{}
		mustUnmarshal(t, body, &raw)
		for _, k := range []string{"ID", "Name", "Type", "Priority", "Region", "Namespace", "Datacenters", "TaskGroups",
			"Status", "Version", "CreateIndex", "ModifyIndex", "JobModifyIndex", "SubmitTime", "Stop"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("job lacks %s", k)
			}
		}
		var j hostagent.Job
		mustUnmarshal(t, body, &j)
		g := j.TaskGroups[0]
		task := g.Tasks[0]
		if j.Status != "running" || j.Type != "service" || j.Priority != 50 || j.Namespace != "default" ||
			*g.Count != 1 || task.Driver != "iis" || *task.Resources.MemoryMB != 128 || g.RestartPolicy.Mode == nil ||
			len(g.Networks[0].DynamicPorts) != 1 || g.Networks[0].DynamicPorts[0].Label != "httplabel" {
			t.Errorf("job read back: %s", body)
		}
		if idx != j.ModifyIndex || j.JobModifyIndex > j.ModifyIndex || j.CreateIndex > j.JobModifyIndex {
			t.Errorf("indexes: header %d, Create %d, JobModify %d, Modify %d", idx, j.CreateIndex, j.JobModifyIndex, j.ModifyIndex)
		}
	})

	t.Run("list with prefix", func(t *testing.T) {
		_, body, _ := a.do("GET", "/v1/jobs?prefix=api-", nil)
		var list []map[string]interface{}
		mustUnmarshal(t, body, &list)
		if len(list) != 1 || list[0]["ID"] != "api-web" || list[0]["JobSummary"] == nil || list[0]["Status"] != "running" {
			t.Errorf("prefix api-: %s", body)
		}
		_, body, _ = a.do("GET", "/v1/jobs?prefix=zzz", nil)
		if strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("prefix zzz: %s", body)
		}
	})

	t.Run("allocations", func(t *testing.T) {
		code, body, _ := a.do("GET", "/v1/job/api-web/allocations", nil)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var list []map[string]interface{}
		mustUnmarshal(t, body, &list)
		if len(list) != 1 {
			t.Fatalf("allocations: %s", body)
		}
		al := list[0]
		for _, k := range []string{"ID", "EvalID", "Name", "NodeID", "JobID", "JobVersion", "TaskGroup", "DesiredStatus",
			"ClientStatus", "TaskStates", "CreateIndex", "ModifyIndex", "CreateTime", "ModifyTime"} {
			if _, ok := al[k]; !ok {
				t.Errorf("allocation stub lacks %s", k)
			}
		}
		if al["ClientStatus"] != "running" || al["Name"] != "api-web.web[0]" || al["ID"] != stubs[0].ID {
			t.Errorf("allocation: %v", al)
		}
		states := al["TaskStates"].(map[string]interface{})["app"].(map[string]interface{})
		if states["State"] != "running" || states["Failed"] != false {
			t.Errorf("task state: %v", states)
		}
		var types []string
		for _, ev := range states["Events"].([]interface{}) {
			e := ev.(map[string]interface{})
			types = append(types, e["Type"].(string))
			for _, k := range []string{"Time", "Message", "DisplayMessage", "Details"} {
				if _, ok := e[k]; !ok {
					t.Errorf("event lacks %s", k)
				}
			}
		}
		if strings.Join(types, ",") != "Received,Task Setup,Downloading Artifacts,Started" &&
			!strings.HasPrefix(strings.Join(types, ","), "Received,Task Setup,Downloading Artifacts,Started") {
			t.Errorf("events: %v", types)
		}
		// The full allocation has the ports.
		_, body, _ = a.do("GET", "/v1/allocation/"+stubs[0].ID, nil)
		var full hostagent.Allocation
		mustUnmarshal(t, body, &full)
		ports := full.AllocatedResources.Shared.Ports
		if len(ports) != 1 || ports[0].Label != "httplabel" || ports[0].Value == 0 || ports[0].HostIP != "127.0.0.1" || full.Job == nil {
			t.Errorf("allocation resources: %s", body)
		}
	})

	t.Run("summary", func(t *testing.T) {
		_, body, _ := a.do("GET", "/v1/job/api-web/summary", nil)
		var s hostagent.JobSummary
		mustUnmarshal(t, body, &s)
		if s.JobID != "api-web" || s.Summary["web"].Running != 1 || s.Children == nil || s.CreateIndex == 0 {
			t.Errorf("summary: %s", body)
		}
	})

	t.Run("check-and-set", func(t *testing.T) {
		code, body, _ := a.do("POST", "/v1/jobs", map[string]interface{}{"Job": job, "EnforceIndex": true, "JobModifyIndex": 0})
		if code != 409 || !strings.Contains(string(body), "Enforcing job modify index 0: job already exists") {
			t.Errorf("CAS 0 on an existing job: %d %s", code, body)
		}
		_, body, _ = a.do("GET", "/v1/job/api-web", nil)
		var cur hostagent.Job
		mustUnmarshal(t, body, &cur)
		code, body, _ = a.do("POST", "/v1/job/api-web", map[string]interface{}{"Job": job, "EnforceIndex": true, "JobModifyIndex": cur.JobModifyIndex + 100})
		if code != 409 || !strings.Contains(string(body), "conflicting job modify index") {
			t.Errorf("CAS with a wrong index: %d %s", code, body)
		}
		changed := sampleJob(t, "api-web", 1)
		changed.Meta = map[string]string{"release": "2"}
		code, body, _ = a.do("POST", "/v1/job/api-web", map[string]interface{}{"Job": changed, "EnforceIndex": true, "JobModifyIndex": cur.JobModifyIndex})
		if code != 200 {
			t.Fatalf("CAS with the right index: %d %s", code, body)
		}
		var r hostagent.JobRegisterResponse
		mustUnmarshal(t, body, &r)
		if r.JobModifyIndex <= cur.JobModifyIndex {
			t.Errorf("JobModifyIndex %d did not rise above %d", r.JobModifyIndex, cur.JobModifyIndex)
		}
	})

	t.Run("versions", func(t *testing.T) {
		_, body, _ := a.do("GET", "/v1/job/api-web/versions", nil)
		var v hostagent.JobVersionsResponse
		mustUnmarshal(t, body, &v)
		if len(v.Versions) != 2 || v.Versions[0].Version != 1 || v.Versions[1].Version != 0 || v.Versions[0].Meta["release"] != "2" {
			t.Errorf("versions: %s", body)
		}
	})

	t.Run("blocking query wakes on change", func(t *testing.T) {
		// The meta change above replaced the allocation (as Nomad does): let
		// that settle first, so that nothing changes unless the test does.
		settled := time.Now().Add(time.Minute)
		for {
			_, body, _ := a.do("GET", "/v1/job/api-web/allocations", nil)
			var list []hostagent.AllocListStub
			mustUnmarshal(t, body, &list)
			running, done := 0, 0
			for _, al := range list {
				switch {
				case al.DesiredStatus == "run" && al.ClientStatus == "running" && al.JobVersion == 1:
					running++
				case al.DesiredStatus == "stop" && al.ClientStatus == "complete":
					done++
				}
			}
			if running == 1 && done == len(list)-1 {
				break
			}
			if time.Now().After(settled) {
				t.Fatalf("the meta update did not settle: %s", body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, _, idx := a.do("GET", "/v1/job/api-web/allocations", nil)
		start := time.Now()
		_, _, same := a.do("GET", "/v1/job/api-web/allocations?index="+itoa(idx)+"&wait=300ms", nil)
		if el := time.Since(start); el < 250*time.Millisecond || same != idx {
			t.Errorf("a blocking query without change returned after %v with index %d (want ~300ms, %d)", el, same, idx)
		}
		type answer struct {
			idx uint64
			at  time.Duration
		}
		got := make(chan answer, 1)
		start = time.Now()
		go func() {
			_, _, n := a.do("GET", "/v1/job/api-web/allocations?index="+itoa(idx)+"&wait=60s", nil)
			got <- answer{n, time.Since(start)}
		}()
		select {
		case ans := <-got:
			t.Fatalf("the blocking query returned before any change (index %d after %v)", ans.idx, ans.at)
		case <-time.After(500 * time.Millisecond):
		}
		code, body, _ := a.do("DELETE", "/v1/job/api-web", nil) // stops the allocation: a change
		if code != 200 {
			t.Fatalf("DELETE: %d %s", code, body)
		}
		select {
		case ans := <-got:
			if ans.idx <= idx || ans.at > 10*time.Second {
				t.Errorf("woke with index %d (was %d) after %v", ans.idx, idx, ans.at)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the blocking query did not wake on the change")
		}
	})

	t.Run("delete stops, purge removes", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, body, _ := a.do("GET", "/v1/job/api-web", nil)
			var j hostagent.Job
			mustUnmarshal(t, body, &j)
			_, abody, _ := a.do("GET", "/v1/job/api-web/allocations", nil)
			var list []hostagent.AllocListStub
			mustUnmarshal(t, abody, &list)
			// Two allocations: the first, replaced by the meta update, and
			// its replacement; both stopped.
			stopped := 0
			for _, al := range list {
				if al.DesiredStatus == "stop" && al.ClientStatus == "complete" {
					stopped++
				}
			}
			if j.Stop && j.Status == "dead" && len(list) == 2 && stopped == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after DELETE: job %s, allocations %s", body, abody)
			}
			time.Sleep(100 * time.Millisecond)
		}
		code, body, _ := a.do("DELETE", "/v1/job/api-web?purge=true", nil)
		var d hostagent.JobDeregisterResponse
		mustUnmarshal(t, body, &d)
		if code != 200 || d.EvalID == "" || d.Index == 0 {
			t.Fatalf("purge: %d %s", code, body)
		}
		if code, _, _ := a.do("GET", "/v1/job/api-web", nil); code != 404 {
			t.Errorf("purged job answers %d", code)
		}
		_, body, _ = a.do("GET", "/v1/jobs", nil)
		if strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("list after purge: %s", body)
		}
	})

	t.Run("404", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/job/nope"}, {"DELETE", "/v1/job/nope"}, {"GET", "/v1/job/nope/summary"},
			{"GET", "/v1/job/nope/versions"}, {"GET", "/v1/job/nope/allocations"}, {"GET", "/v1/allocation/nope"},
		} {
			code, body, _ := a.do(c.method, c.path, nil)
			if code != 404 || !strings.Contains(string(body), "not found") {
				t.Errorf("%s %s: %d %s", c.method, c.path, code, body)
			}
		}
	})

	t.Run("400 names the field", func(t *testing.T) {
		good := sampleJob(t, "bad", 1)
		raw, _ := json.Marshal(good)
		var m map[string]interface{}
		mustUnmarshal(t, raw, &m)
		group := func() map[string]interface{} { return m["TaskGroups"].([]interface{})[0].(map[string]interface{}) }
		task := func() map[string]interface{} { return group()["Tasks"].([]interface{})[0].(map[string]interface{}) }
		cases := []struct {
			name string
			body func() interface{}
			want string
		}{
			{"malformed JSON", func() interface{} { return `{"Job": {"ID": "x",` }, "JSON"},
			{"no job", func() interface{} { return map[string]interface{}{} }, "Job must be specified"},
			{"count type", func() interface{} { return `{"Job":{"ID":"x","TaskGroups":[{"Name":"w","Count":"three"}]}}` }, "Count"},
			{"no driver", func() interface{} { task()["Driver"] = ""; return map[string]interface{}{"Job": m} }, "Job.TaskGroups[web].Tasks[app].Driver"},
			{"unknown config attribute", func() interface{} {
				task()["Driver"] = "iis"
				task()["Config"] = map[string]interface{}{"application": []interface{}{map[string]interface{}{"path": "local"}}, "no_such_option": 1}
				return map[string]interface{}{"Job": m}
			}, "Job.TaskGroups[web].Tasks[app].Config"},
			{"negative count", func() interface{} {
				task()["Config"] = good.TaskGroups[0].Tasks[0].Config
				group()["Count"] = -2
				return map[string]interface{}{"Job": m}
			}, "Job.TaskGroups[web].Count"},
		}
		for _, c := range cases {
			code, body, _ := a.do("POST", "/v1/jobs", c.body())
			if code != 400 || !strings.Contains(string(body), c.want) {
				t.Errorf("%s: %d %s (want 400 naming %q)", c.name, code, body, c.want)
			}
		}
		code, body, _ := a.do("POST", "/v1/job/other-id", map[string]interface{}{"Job": good})
		if code != 400 || !strings.Contains(string(body), "does not match") {
			t.Errorf("URL/ID mismatch: %d %s", code, body)
		}
		if code, _, _ := a.do("GET", "/v1/jobs?index=abc", nil); code != 400 {
			t.Errorf("bad index: %d", code)
		}
	})

	t.Run("HCL parse", func(t *testing.T) {
		src, err := os.ReadFile(repoPath("examples", "jobs", "static-app.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		code, body, _ := a.do("POST", "/v1/jobs/parse", map[string]interface{}{"JobHCL": string(src)})
		var j hostagent.Job
		mustUnmarshal(t, body, &j)
		if code != http.StatusOK || j.ID != "static-app" || j.TaskGroups[0].Networks[0].DynamicPorts[0].Label != "httplabel" ||
			j.TaskGroups[0].Tasks[0].Driver != "iis" {
			t.Errorf("parse: %d %s", code, body)
		}
	})
}

func mustUnmarshal(t *testing.T, b []byte, v interface{}) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func itoa(i uint64) string { return strconv.FormatUint(i, 10) }
