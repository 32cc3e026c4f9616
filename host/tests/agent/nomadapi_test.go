package agent

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"

	"nomad_iis/gen/driverpb"
	hostagent "nomad_iis/host/agent"
)

// nomadClient is HashiCorp's own Go client pointed at this agent.
func (a *agentProc) nomadClient() *nomad.Client {
	a.t.Helper()
	cfg := nomad.DefaultConfig()
	cfg.Address = a.Address
	c, err := nomad.NewClient(cfg)
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

// apiJob turns one of the host's jobs into the client's type, through the
// JSON both speak.
func apiJob(t *testing.T, j *hostagent.Job) *nomad.Job {
	t.Helper()
	raw, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	var out nomad.Job
	mustUnmarshal(t, raw, &out)
	return &out
}

// statusCode is the HTTP status of an error from HashiCorp's client.
func statusCode(err error) int {
	var ue nomad.UnexpectedResponseError
	if errors.As(err, &ue) {
		return ue.StatusCode()
	}
	return 0
}

// waitAllocs polls the job's allocations through the client until ok
// accepts them.
func waitAllocs(t *testing.T, c *nomad.Client, job string, all bool, ok func([]*nomad.AllocationListStub) bool) []*nomad.AllocationListStub {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		list, _, err := c.Jobs().Allocations(job, all, nil)
		if err == nil && ok(list) {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("allocations of %s: %v (err %v)", job, describe(list), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func describe(list []*nomad.AllocationListStub) string {
	var parts []string
	for _, a := range list {
		parts = append(parts, a.Name+" "+a.ID[:8]+" "+a.DesiredStatus+"/"+a.ClientStatus)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func running(n int) func([]*nomad.AllocationListStub) bool {
	return func(list []*nomad.AllocationListStub) bool {
		count := 0
		for _, a := range list {
			if a.DesiredStatus == "run" && a.ClientStatus == "running" {
				count++
			}
		}
		return count == n
	}
}

// TestJobsAPIWithNomadClient drives the Jobs HTTP API with HashiCorp's own
// client (github.com/hashicorp/nomad/api): every answer must decode into
// its structs and mean what Nomad's would.
func TestJobsAPIWithNomadClient(t *testing.T) {
	a := startAgent(t, agentOptions{})
	c := a.nomadClient()
	jobs := c.Jobs()

	t.Run("empty list", func(t *testing.T) {
		list, qm, err := jobs.List(nil)
		if err != nil || len(list) != 0 || qm.LastIndex == 0 || !qm.KnownLeader {
			t.Fatalf("List: %v %v %+v", list, err, qm)
		}
	})

	job := apiJob(t, sampleJob(t, "napi-web", 1))
	var reg *nomad.JobRegisterResponse
	t.Run("register", func(t *testing.T) {
		var wm *nomad.WriteMeta
		var err error
		reg, wm, err = jobs.Register(job, nil)
		if err != nil {
			t.Fatal(err)
		}
		if reg.EvalID == "" || reg.JobModifyIndex == 0 || reg.EvalCreateIndex == 0 || wm.LastIndex == 0 {
			t.Errorf("register: %+v %+v", reg, wm)
		}
	})
	if reg == nil {
		t.FailNow()
	}
	first := waitAllocs(t, c, "napi-web", false, running(1))

	t.Run("evaluations", func(t *testing.T) {
		// As `nomad job run` does: follow the register's evaluation.
		ev := waitEval(t, c, reg.EvalID)
		if ev.JobID != "napi-web" || ev.TriggeredBy != "job-register" || ev.Type != "service" || ev.Priority != 50 ||
			ev.Namespace != "default" || ev.CreateIndex != reg.EvalCreateIndex || ev.JobModifyIndex != reg.JobModifyIndex ||
			ev.QueuedAllocations["web"] != 0 || len(ev.FailedTGAllocs) != 0 || ev.ModifyIndex < ev.CreateIndex {
			t.Errorf("register eval: %+v", ev)
		}
		allocs, _, err := c.Evaluations().Allocations(reg.EvalID, nil)
		if err != nil || len(allocs) != 1 || allocs[0].ID != first[0].ID || allocs[0].EvalID != reg.EvalID {
			t.Errorf("eval allocations: %s %v", describe(allocs), err)
		}
		list, _, err := jobs.Evaluations("napi-web", nil)
		if err != nil || len(list) != 1 || list[0].ID != reg.EvalID {
			t.Errorf("job evaluations: %+v %v", list, err)
		}
		list, _, err = c.Evaluations().PrefixList(reg.EvalID[:8])
		if err != nil || len(list) != 1 || list[0].ID != reg.EvalID {
			t.Errorf("PrefixList: %+v %v", list, err)
		}
		list, _, err = c.Evaluations().List(&nomad.QueryOptions{Filter: ""})
		if err != nil || len(list) == 0 {
			t.Errorf("List: %+v %v", list, err)
		}
		n, _, err := c.Evaluations().Count(nil)
		if err != nil || n.Count != len(list) {
			t.Errorf("Count: %+v %v (list %d)", n, err, len(list))
		}
		if _, _, err := c.Evaluations().Info("00000000-0000-0000-0000-000000000000", nil); statusCode(err) != 404 ||
			!strings.Contains(err.Error(), "eval not found") {
			t.Errorf("unknown eval: %v", err)
		}
	})

	t.Run("info", func(t *testing.T) {
		j, qm, err := jobs.Info("napi-web", nil)
		if err != nil {
			t.Fatal(err)
		}
		g := j.TaskGroups[0]
		if *j.ID != "napi-web" || *j.Status != "running" || *j.Type != "service" || *j.Priority != 50 ||
			*j.Namespace != "default" || *j.Version != 0 || *g.Count != 1 || g.Tasks[0].Driver != "iis" ||
			*g.Tasks[0].Resources.MemoryMB != 128 || g.Networks[0].DynamicPorts[0].Label != "httplabel" {
			t.Errorf("job: %+v", j)
		}
		if qm.LastIndex != *j.ModifyIndex || *j.JobModifyIndex != reg.JobModifyIndex {
			t.Errorf("indexes: header %d, ModifyIndex %d, JobModifyIndex %d (register said %d)",
				qm.LastIndex, *j.ModifyIndex, *j.JobModifyIndex, reg.JobModifyIndex)
		}
		if _, _, err := jobs.Info("nope", nil); statusCode(err) != 404 || !strings.Contains(err.Error(), "job not found") {
			t.Errorf("Info(nope): %v", err)
		}
	})

	t.Run("list and prefix", func(t *testing.T) {
		list, _, err := jobs.PrefixList("napi-")
		if err != nil || len(list) != 1 {
			t.Fatalf("PrefixList: %v %v", list, err)
		}
		s := list[0]
		if s.ID != "napi-web" || s.Status != "running" || s.Type != "service" || s.JobSummary == nil ||
			s.JobSummary.Summary["web"].Running != 1 || s.JobModifyIndex != reg.JobModifyIndex {
			t.Errorf("stub: %+v", s)
		}
		if list, _, err := jobs.PrefixList("zzz"); err != nil || len(list) != 0 {
			t.Errorf("PrefixList(zzz): %v %v", list, err)
		}
	})

	t.Run("allocations", func(t *testing.T) {
		list, _, err := jobs.Allocations("napi-web", false, nil)
		if err != nil || len(list) != 1 {
			t.Fatalf("Allocations: %v %v", describe(list), err)
		}
		al := list[0]
		ts := al.TaskStates["app"]
		if al.Name != "napi-web.web[0]" || al.JobVersion != 0 || al.NodeID == "" || ts == nil || ts.State != "running" ||
			ts.Failed || len(ts.Events) < 4 || ts.Events[0].Type != "Received" {
			t.Errorf("alloc stub: %+v (task %+v)", al, ts)
		}
		full, _, err := c.Allocations().Info(al.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		ports := full.AllocatedResources.Shared.Ports
		if len(ports) != 1 || ports[0].Label != "httplabel" || ports[0].Value == 0 || full.Job == nil || *full.Job.ID != "napi-web" {
			t.Errorf("allocation: ports %+v, job %v", ports, full.Job)
		}
	})

	t.Run("summary", func(t *testing.T) {
		s, qm, err := jobs.Summary("napi-web", nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.JobID != "napi-web" || s.Summary["web"].Running != 1 || s.Children == nil || qm.LastIndex == 0 {
			t.Errorf("summary: %+v", s)
		}
	})

	t.Run("check-and-set", func(t *testing.T) {
		_, _, err := jobs.EnforceRegister(job, 0, nil)
		if err == nil || !strings.Contains(err.Error(), "Enforcing job modify index 0: job already exists") {
			t.Errorf("CAS 0 on an existing job: %v", err)
		}
		cur, _, err := jobs.Info("napi-web", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = jobs.EnforceRegister(job, *cur.JobModifyIndex+100, nil)
		if err == nil || !strings.Contains(err.Error(), "conflicting job modify index") {
			t.Errorf("CAS with a wrong index: %v", err)
		}
		// An update that only scales keeps the running allocation.
		job.TaskGroups[0].Count = ptr(2)
		r, _, err := jobs.EnforceRegister(job, *cur.JobModifyIndex, nil)
		if err != nil {
			t.Fatalf("CAS with the right index: %v", err)
		}
		if r.JobModifyIndex <= *cur.JobModifyIndex || r.EvalID == "" || r.EvalID == reg.EvalID {
			t.Errorf("update: %+v (was JobModifyIndex %d)", r, *cur.JobModifyIndex)
		}
		if ev := waitEval(t, c, r.EvalID); ev.TriggeredBy != "job-register" || ev.JobModifyIndex != r.JobModifyIndex {
			t.Errorf("update eval: %+v", ev)
		}
		list := waitAllocs(t, c, "napi-web", false, running(2))
		kept := false
		for _, al := range list {
			kept = kept || al.ID == first[0].ID
		}
		if !kept {
			t.Errorf("scaling 1 → 2 replaced the running allocation %s: %s", first[0].ID, describe(list))
		}
	})

	t.Run("versions", func(t *testing.T) {
		vs, diffs, qm, err := jobs.Versions("napi-web", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || *vs[0].Version != 1 || *vs[1].Version != 0 || *vs[0].TaskGroups[0].Count != 2 ||
			*vs[1].TaskGroups[0].Count != 1 || len(diffs) != 0 || qm.LastIndex == 0 {
			t.Errorf("versions: %d, diffs %v", len(vs), diffs)
		}
	})

	t.Run("blocking query wakes on change", func(t *testing.T) {
		_, qm, err := jobs.Info("napi-web", nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, same, err := jobs.Info("napi-web", &nomad.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 300 * time.Millisecond})
		if el := time.Since(start); err != nil || el < 250*time.Millisecond || same.LastIndex != qm.LastIndex {
			t.Errorf("no change: returned after %v with %+v (%v)", el, same, err)
		}
		type answer struct {
			idx uint64
			err error
		}
		got := make(chan answer, 1)
		go func() {
			_, m, err := jobs.Info("napi-web", &nomad.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: time.Minute})
			if err != nil {
				got <- answer{0, err}
				return
			}
			got <- answer{m.LastIndex, nil}
		}()
		select {
		case ans := <-got:
			t.Fatalf("the blocking query returned before any change: %+v", ans)
		case <-time.After(500 * time.Millisecond):
		}
		job.Meta = map[string]string{"release": "3"}
		if _, _, err := jobs.Register(job, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case ans := <-got:
			if ans.err != nil || ans.idx <= qm.LastIndex {
				t.Errorf("woke with %+v (was %d)", ans, qm.LastIndex)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the blocking query did not wake on the change")
		}
	})

	t.Run("job meta replaces allocations", func(t *testing.T) {
		// The previous step changed only the job's meta: Nomad replaces the
		// allocations so that their tasks see the new NOMAD_META_*.
		before, _, err := jobs.Allocations("napi-web", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		j, _, err := jobs.Info("napi-web", nil)
		if err != nil {
			t.Fatal(err)
		}
		list := waitAllocs(t, c, "napi-web", false, func(list []*nomad.AllocationListStub) bool {
			n := 0
			for _, al := range list {
				if al.DesiredStatus == "run" && al.ClientStatus == "running" && al.JobVersion == *j.Version {
					n++
				}
			}
			return n == 2
		})
		old := map[string]bool{}
		for _, al := range before {
			if al.JobVersion != *j.Version {
				old[al.ID] = true
			}
		}
		// The state file is written in the background: wait for the new
		// allocations' task handles.
		var handles map[string]*driverpb.TaskHandle
		for deadline := time.Now().Add(10 * time.Second); ; {
			handles = persistedHandles(t, a)
			all := true
			for _, al := range list {
				all = all && (al.DesiredStatus != "run" || handles[al.ID] != nil)
			}
			if all || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, al := range list {
			if al.DesiredStatus != "run" {
				if !old[al.ID] || al.DesiredDescription != "alloc is being updated due to job update" {
					t.Errorf("stopped %s: %q", al.ID, al.DesiredDescription)
				}
				continue
			}
			if old[al.ID] {
				t.Errorf("allocation %s of version %d kept running", al.ID, al.JobVersion)
			}
			if h := handles[al.ID]; h == nil || h.GetConfig().GetEnv()["NOMAD_META_release"] != "3" {
				t.Errorf("allocation %s: task env %v", al.ID, h.GetConfig().GetEnv())
			}
		}
	})

	t.Run("parse and validate", func(t *testing.T) {
		src, err := os.ReadFile(repoPath("examples", "jobs", "static-app.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jobs.ParseHCL(string(src), true)
		if err != nil {
			t.Fatal(err)
		}
		if *parsed.ID != "static-app" || parsed.TaskGroups[0].Tasks[0].Driver != "iis" || *parsed.Priority != 50 ||
			parsed.TaskGroups[0].Networks[0].DynamicPorts[0].Label != "httplabel" {
			t.Errorf("parsed: %+v", parsed)
		}
		v, _, err := jobs.Validate(job, nil)
		if err != nil || !v.DriverConfigValidated || len(v.ValidationErrors) != 0 || v.Error != "" {
			t.Errorf("Validate(good): %+v %v", v, err)
		}
		bad := apiJob(t, sampleJob(t, "napi-bad", 1))
		bad.TaskGroups[0].Tasks[0].Driver = ""
		v, _, err = jobs.Validate(bad, nil)
		if err != nil || len(v.ValidationErrors) == 0 || !strings.Contains(v.Error, "Job.TaskGroups[web].Tasks[app].Driver") {
			t.Errorf("Validate(no driver): %+v %v", v, err)
		}
		if _, _, err := jobs.Register(bad, nil); statusCode(err) != 400 || !strings.Contains(err.Error(), "missing driver") {
			t.Errorf("Register(no driver): %v", err)
		}
	})

	t.Run("deregister and purge", func(t *testing.T) {
		evalID, wm, err := jobs.Deregister("napi-web", false, nil)
		if err != nil || evalID == "" || wm.LastIndex == 0 {
			t.Fatalf("Deregister: %q %+v %v", evalID, wm, err)
		}
		if ev := waitEval(t, c, evalID); ev.TriggeredBy != "job-deregister" || ev.JobID != "napi-web" {
			t.Errorf("deregister eval: %+v", ev)
		}
		waitAllocs(t, c, "napi-web", false, func(list []*nomad.AllocationListStub) bool {
			for _, al := range list {
				if al.DesiredStatus != "stop" || al.ClientStatus != "complete" {
					return false
				}
			}
			return len(list) > 0
		})
		j, _, err := jobs.Info("napi-web", nil)
		if err != nil || !*j.Stop || *j.Status != "dead" {
			t.Errorf("after Deregister: %+v %v", j, err)
		}
		purgeEval, _, err := jobs.Deregister("napi-web", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ev := waitEval(t, c, purgeEval); ev.TriggeredBy != "job-deregister" {
			t.Errorf("purge eval: %+v", ev)
		}
		if _, _, err := jobs.Info("napi-web", nil); statusCode(err) != 404 {
			t.Errorf("purged job: %v", err)
		}
		if _, _, err := jobs.Deregister("nope", false, nil); statusCode(err) != 404 {
			t.Errorf("Deregister(nope): %v", err)
		}
	})
}

// waitEval follows an evaluation with blocking queries until the scheduler
// is done with it, as `nomad job run` monitors one.
func waitEval(t *testing.T, c *nomad.Client, id string) *nomad.Evaluation {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var index uint64
	for {
		ev, qm, err := c.Evaluations().Info(id, &nomad.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second})
		if err != nil {
			t.Fatalf("evaluation %s: %v", id, err)
		}
		if ev.ID != id || qm.LastIndex == 0 {
			t.Fatalf("evaluation %s answered %+v (index %d)", id, ev, qm.LastIndex)
		}
		if ev.Status != "pending" {
			if ev.Status != "complete" {
				t.Fatalf("evaluation %s: %s %s", id, ev.Status, ev.StatusDescription)
			}
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("evaluation %s still pending after a minute", id)
		}
		index = qm.LastIndex
	}
}

func ptr[T any](v T) *T { return &v }
