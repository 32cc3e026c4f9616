package agent

import (
	"strings"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"

	"nomad_iis/host/pluginhost"
)

// TestJobOperationsWithNomadClient: plan, versions with diffs, revert,
// stable, evaluate (both forms), allocations?all and a placement failure,
// through HashiCorp's client.
func TestJobOperationsWithNomadClient(t *testing.T) {
	a := startAgent(t, agentOptions{})
	c := a.nomadClient()
	jobs := c.Jobs()

	job := apiJob(t, sampleJob(t, "ops-web", 1))
	t.Run("plan of a new job", func(t *testing.T) {
		p, _, err := jobs.Plan(job, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := p.Annotations.DesiredTGUpdates["web"]
		if p.JobModifyIndex != 0 || u == nil || u.Place != 1 || u.Ignore+u.Stop+u.InPlaceUpdate+u.DestructiveUpdate != 0 ||
			p.Diff == nil || p.Diff.Type != "Added" || p.Diff.ID != "ops-web" || len(p.FailedTGAllocs) != 0 {
			t.Errorf("plan: %+v, updates %+v, diff %+v", p, u, p.Diff)
		}
		if _, _, err := jobs.Info("ops-web", nil); statusCode(err) != 404 {
			t.Errorf("a plan registered the job: %v", err)
		}
	})

	reg, _, err := jobs.Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEval(t, c, reg.EvalID)
	first := waitAllocs(t, c, "ops-web", false, running(1))

	changed := apiJob(t, sampleJob(t, "ops-web", 1))
	changed.TaskGroups[0].Tasks[0].Env["RELEASE"] = "2"
	t.Run("plan of a change", func(t *testing.T) {
		p, _, err := jobs.Plan(changed, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := p.Annotations.DesiredTGUpdates["web"]
		if p.JobModifyIndex != reg.JobModifyIndex || u.DestructiveUpdate != 1 || u.Place+u.InPlaceUpdate+u.Ignore != 0 {
			t.Errorf("plan: JobModifyIndex %d (want %d), updates %+v", p.JobModifyIndex, reg.JobModifyIndex, u)
		}
		if p.Diff.Type != "Edited" || len(p.Diff.TaskGroups) != 1 || p.Diff.TaskGroups[0].Updates["create/destroy update"] != 1 {
			t.Fatalf("diff: %+v", p.Diff)
		}
		task := p.Diff.TaskGroups[0].Tasks[0]
		if task.Type != "Edited" || len(task.Fields) != 1 || task.Fields[0].Name != "Env[RELEASE]" ||
			task.Fields[0].Type != "Added" || task.Fields[0].New != "2" {
			t.Errorf("task diff: %+v", task)
		}
		// Nomad's plan annotation of the task (what `nomad job plan` prints).
		if len(task.Annotations) != 1 || task.Annotations[0] != "forces create/destroy update" {
			t.Errorf("task annotations: %v", task.Annotations)
		}
		scaled := apiJob(t, sampleJob(t, "ops-web", 1))
		scaled.TaskGroups[0].Count = ptr(3)
		p, _, err = jobs.Plan(scaled, false, nil)
		if u := p.Annotations.DesiredTGUpdates["web"]; err != nil || u.Place != 2 || u.InPlaceUpdate != 1 || p.Diff != nil {
			t.Errorf("plan of a scale: %+v %v", p, err)
		}
		same, _, err := jobs.Plan(apiJob(t, sampleJob(t, "ops-web", 1)), true, nil)
		if u := same.Annotations.DesiredTGUpdates["web"]; err != nil || u.Ignore != 1 || same.Diff.Type != "None" {
			t.Errorf("plan of the same job: %+v %v", same, err)
		}
		// A plan changes nothing; its JobModifyIndex serves a later
		// check-and-set register.
		if list, _, _ := jobs.Allocations("ops-web", false, nil); len(list) != 1 || list[0].ID != first[0].ID {
			t.Errorf("allocations after plans: %s", describe(list))
		}
		r, _, err := jobs.EnforceRegister(changed, p.JobModifyIndex, nil)
		if err != nil {
			t.Fatalf("CAS register with the plan's index: %v", err)
		}
		waitEval(t, c, r.EvalID)
		waitAllocs(t, c, "ops-web", false, func(list []*nomad.AllocationListStub) bool {
			return running(1)(list) && list[0].ID != first[0].ID && list[0].JobVersion == 1
		})
	})

	t.Run("versions with diffs", func(t *testing.T) {
		vs, diffs, _, err := jobs.Versions("ops-web", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || len(diffs) != 1 || diffs[0].Type != "Edited" || len(diffs[0].TaskGroups) != 1 {
			t.Fatalf("versions %d, diffs %+v", len(vs), diffs)
		}
		f := diffs[0].TaskGroups[0].Tasks[0].Fields
		if len(f) != 1 || f[0].Name != "Env[RELEASE]" || f[0].Type != "Added" {
			t.Errorf("diff fields: %+v", f)
		}
	})

	t.Run("revert", func(t *testing.T) {
		if _, _, err := jobs.Revert("ops-web", 0, ptr(uint64(7)), nil, "", ""); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), "enforcing version 7") {
			t.Errorf("revert with a wrong prior version: %v", err)
		}
		if _, _, err := jobs.Revert("ops-web", 99, nil, nil, "", ""); statusCode(err) != 404 ||
			!strings.Contains(err.Error(), "at version 99 not found") {
			t.Errorf("revert to a missing version: %v", err)
		}
		if _, _, err := jobs.Revert("ops-web", 1, nil, nil, "", ""); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), "can't revert to current version") {
			t.Errorf("revert to the current version: %v", err)
		}
		if _, _, err := jobs.Revert("nope", 0, nil, nil, "", ""); statusCode(err) != 404 {
			t.Errorf("revert of an unknown job: %v", err)
		}
		if j, _, _ := jobs.Info("ops-web", nil); *j.Version != 1 {
			t.Fatalf("a refused revert changed the job: version %d", *j.Version)
		}
		r, _, err := jobs.Revert("ops-web", 0, ptr(uint64(1)), nil, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if ev := waitEval(t, c, r.EvalID); ev.TriggeredBy != "job-register" {
			t.Errorf("revert eval: %+v", ev)
		}
		j, _, err := jobs.Info("ops-web", nil)
		env := j.TaskGroups[0].Tasks[0].Env
		if err != nil || *j.Version != 2 || env["RELEASE"] != "" || env["GREETING"] == "" || *j.JobModifyIndex != r.JobModifyIndex {
			t.Errorf("after revert: %+v %v", j, err)
		}
		waitAllocs(t, c, "ops-web", false, func(list []*nomad.AllocationListStub) bool {
			return running(1)(list) && func() bool {
				for _, al := range list {
					if al.DesiredStatus == "run" && al.JobVersion != 2 {
						return false
					}
				}
				return true
			}()
		})
	})

	t.Run("stable", func(t *testing.T) {
		resp, _, err := jobs.Stable("ops-web", 2, true, nil)
		if err != nil || resp.JobModifyIndex == 0 {
			t.Fatalf("Stable: %+v %v", resp, err)
		}
		j, _, _ := jobs.Info("ops-web", nil)
		if !*j.Stable {
			t.Errorf("job not stable after Stable(2)")
		}
		vs, _, _, _ := jobs.Versions("ops-web", false, nil)
		if !*vs[0].Stable || *vs[1].Stable {
			t.Errorf("versions' Stable: v%d %v, v%d %v", *vs[0].Version, *vs[0].Stable, *vs[1].Version, *vs[1].Stable)
		}
		if _, _, err := jobs.Stable("ops-web", 42, true, nil); statusCode(err) != 404 {
			t.Errorf("Stable of a missing version: %v", err)
		}
	})

	t.Run("version tags and submissions", func(t *testing.T) {
		if _, err := jobs.TagVersion("ops-web", 0, "golden", "the first", nil); err != nil {
			t.Fatal(err)
		}
		v, _, err := jobs.VersionByTag("ops-web", "golden", nil)
		if err != nil || *v.Version != 0 || v.VersionTag.Description != "the first" || v.VersionTag.TaggedTime == 0 {
			t.Fatalf("VersionByTag: %+v %v", v, err)
		}
		if _, err := jobs.TagVersion("ops-web", 1, "golden", "", nil); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), `tag "golden" already exists on a different version`) {
			t.Errorf("a second version with the same tag: %v", err)
		}
		vs, diffs, _, err := jobs.VersionsOpts("ops-web", &nomad.VersionsOptions{Diffs: true, DiffTag: "golden"}, nil)
		if err != nil || len(diffs) != len(vs) || diffs[len(vs)-1].Type != "None" || diffs[1].Type != "Edited" {
			t.Errorf("diffs against the tag: %d versions, %+v %v", len(vs), diffs, err)
		}
		if _, _, _, err := jobs.VersionsOpts("ops-web", &nomad.VersionsOptions{Diffs: true, DiffVersion: ptr(uint64(42))}, nil); statusCode(err) != 404 {
			t.Errorf("diffs against a missing version: %v", err)
		}
		if _, err := jobs.UntagVersion("ops-web", "golden", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := jobs.UntagVersion("ops-web", "golden", nil); statusCode(err) != 404 {
			t.Errorf("untag twice: %v", err)
		}
		src := `job "ops-web" { group "web" { task "app" { driver = "iis" } } }`
		r, _, err := jobs.RegisterOpts(apiJob(t, sampleJob(t, "ops-web", 1)),
			&nomad.RegisterOptions{Submission: &nomad.JobSubmission{Source: src, Format: "hcl2"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, r.EvalID)
		j, _, _ := jobs.Info("ops-web", nil)
		sub, _, err := jobs.Submission("ops-web", int(*j.Version), nil)
		if err != nil || sub.Source != src || sub.Format != "hcl2" {
			t.Errorf("submission: %+v %v", sub, err)
		}
		if _, _, err := jobs.Submission("ops-web", 0, nil); statusCode(err) != 404 || !strings.Contains(err.Error(), "job source not found") {
			t.Errorf("submission of a version sent without one: %v", err)
		}
	})

	t.Run("evaluate", func(t *testing.T) {
		id, wm, err := jobs.ForceEvaluate("ops-web", nil)
		if err != nil || id == "" || wm.LastIndex == 0 {
			t.Fatalf("ForceEvaluate: %q %v", id, err)
		}
		if ev := waitEval(t, c, id); ev.JobID != "ops-web" {
			t.Errorf("eval: %+v", ev)
		}
		if _, _, err := jobs.ForceEvaluate("nope", nil); statusCode(err) != 404 {
			t.Errorf("evaluate of an unknown job: %v", err)
		}
	})

	t.Run("force reschedule", func(t *testing.T) {
		bad := apiJob(t, sampleJob(t, "ops-fail", 1))
		bad.TaskGroups[0].Tasks[0].Config = map[string]interface{}{
			"application": []interface{}{map[string]interface{}{"path": "local"}},
			"binding":     []interface{}{map[string]interface{}{"type": "http", "port": "nolabel"}},
		}
		if _, _, err := jobs.Register(bad, nil); err != nil {
			t.Fatal(err)
		}
		failed := waitAllocs(t, c, "ops-fail", false, func(list []*nomad.AllocationListStub) bool {
			return len(list) == 1 && list[0].ClientStatus == "failed"
		})
		// A plain evaluation leaves a failed allocation alone.
		id, _, err := jobs.ForceEvaluate("ops-fail", nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, id)
		if list, _, _ := jobs.Allocations("ops-fail", false, nil); len(list) != 1 {
			t.Errorf("evaluate without ForceReschedule: %s", describe(list))
		}
		id, _, err = jobs.EvaluateWithOpts("ops-fail", nomad.EvalOptions{ForceReschedule: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, id)
		list := waitAllocs(t, c, "ops-fail", false, func(list []*nomad.AllocationListStub) bool { return len(list) == 2 })
		old, _, err := c.Allocations().Info(failed[0].ID, nil)
		if err != nil || old.NextAllocation == "" {
			t.Fatalf("the failed allocation: %+v %v", old, err)
		}
		next, _, err := c.Allocations().Info(old.NextAllocation, nil)
		if err != nil || next.PreviousAllocation != old.ID || next.Name != old.Name || next.EvalID != id {
			t.Errorf("replacement: %+v %v (list %s)", next, err, describe(list))
		}
	})

	t.Run("allocations all", func(t *testing.T) {
		// A job purged and registered again under the same ID: its
		// allocations list only the new instance's, all=true also the old
		// one's (still being stopped, so not yet collected).
		first := apiJob(t, sampleJob(t, "ops-again", 1))
		r, _, err := jobs.Register(first, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, r.EvalID)
		old := waitAllocs(t, c, "ops-again", false, running(1))
		if _, _, err := jobs.Deregister("ops-again", true, nil); err != nil {
			t.Fatal(err)
		}
		r, _, err = jobs.Register(apiJob(t, sampleJob(t, "ops-again", 1)), nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, r.EvalID)
		current, _, err := jobs.Allocations("ops-again", false, nil)
		if err != nil || len(current) != 1 || current[0].EvalID != r.EvalID || current[0].ID == old[0].ID {
			t.Errorf("allocations of the new instance: %s %v", describe(current), err)
		}
		all, _, err := jobs.Allocations("ops-again", true, nil)
		found := false
		for _, al := range all {
			found = found || al.ID == old[0].ID
		}
		if err != nil || len(all) != 2 || !found {
			t.Errorf("all=true: %s %v (want also %s)", describe(all), err, old[0].ID)
		}
	})

	t.Run("scale", func(t *testing.T) {
		r, _, err := jobs.Scale("ops-web", "web", ptr(2), "more traffic", false, map[string]any{"by": "test"}, nil)
		if err != nil || r.EvalID == "" {
			t.Fatalf("Scale: %+v %v", r, err)
		}
		waitEval(t, c, r.EvalID)
		waitAllocs(t, c, "ops-web", false, running(2))
		if _, _, err := jobs.Scale("ops-web", "web", nil, "autoscaler failed", true, nil, nil); err != nil {
			t.Fatalf("an error event: %v", err)
		}
		st, qm, err := jobs.ScaleStatus("ops-web", nil)
		if err != nil || qm.LastIndex == 0 {
			t.Fatal(err)
		}
		g := st.TaskGroups["web"]
		if st.JobID != "ops-web" || g.Desired != 2 || g.Placed != 2 || g.Running != 2 || len(g.Events) != 2 {
			t.Fatalf("scale status: %+v %+v", st, g)
		}
		if e := g.Events[1]; e.Count == nil || *e.Count != 2 || e.PreviousCount != 1 || e.Message != "more traffic" ||
			e.EvalID == nil || *e.EvalID != r.EvalID || e.Meta["by"] != "test" {
			t.Errorf("scaling event: %+v", e)
		}
		if e := g.Events[0]; e.Count != nil || !e.Error || e.Message != "autoscaler failed" || e.EvalID != nil {
			t.Errorf("error event: %+v", e)
		}
		if _, _, err := jobs.Scale("ops-web", "nope", ptr(1), "", false, nil, nil); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), `task group "nope" specified for scaling does not exist in job`) {
			t.Errorf("scale of an unknown group: %v", err)
		}
		other := &nomad.ScalingRequest{Count: ptr(int64(1)), Target: map[string]string{"Job": "other", "Group": "web"}}
		if _, _, err := jobs.ScaleWithRequest("ops-web", other, nil); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), "job ID in payload did not match URL") {
			t.Errorf("scale naming another job: %v", err)
		}
		services, _, err := jobs.Services("ops-web", nil)
		if err != nil || len(services) != 0 {
			t.Errorf("services: %v %v", services, err)
		}
	})

	t.Run("placement failure", func(t *testing.T) {
		port, err := pluginhost.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		static := func(id string) *nomad.Job {
			j := apiJob(t, sampleJob(t, id, 1))
			j.TaskGroups[0].Networks[0].DynamicPorts = nil
			j.TaskGroups[0].Networks[0].ReservedPorts = []nomad.Port{{Label: "httplabel", Value: port}}
			return j
		}
		holder, _, err := jobs.Register(static("ops-holder"), nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, holder.EvalID)
		waitAllocs(t, c, "ops-holder", false, running(1))
		blocked := static("ops-blocked")
		p, _, err := jobs.Plan(blocked, false, nil)
		if err != nil || p.FailedTGAllocs["web"] == nil || p.FailedTGAllocs["web"].NodesExhausted != 1 {
			t.Errorf("plan with a taken port: %+v %v", p, err)
		}
		r, _, err := jobs.Register(blocked, nil)
		if err != nil {
			t.Fatal(err)
		}
		ev := waitEval(t, c, r.EvalID)
		m := ev.FailedTGAllocs["web"]
		if m == nil || len(m.DimensionExhausted) != 1 || ev.QueuedAllocations["web"] != 1 || ev.BlockedEval == "" {
			t.Fatalf("eval of an unplaceable job: %+v (metric %+v)", ev, m)
		}
		b, _, err := c.Evaluations().Info(ev.BlockedEval, nil)
		if err != nil || b.Status != "blocked" || b.PreviousEval != ev.ID || b.TriggeredBy != "queued-allocs" {
			t.Errorf("blocked eval: %+v %v", b, err)
		}
		s, _, _ := jobs.Summary("ops-blocked", nil)
		if s.Summary["web"].Queued != 1 {
			t.Errorf("summary: %+v", s.Summary)
		}
		// The port frees up: the queued allocation is placed and the
		// blocked evaluation completes.
		if _, _, err := jobs.Deregister("ops-holder", false, nil); err != nil {
			t.Fatal(err)
		}
		waitAllocs(t, c, "ops-blocked", false, running(1))
		if ev := waitEval(t, c, ev.BlockedEval); ev.Status != "complete" {
			t.Errorf("blocked eval after the port freed: %+v", ev)
		}
	})
}

// TestUnhealthyDriverLeavesAllocationsQueued: while the driver
// fingerprints itself unhealthy (its nginx binary does not run), nothing
// is placed; the evaluation says why as Nomad's does ("missing drivers")
// and leaves a blocked evaluation.
func TestUnhealthyDriverLeavesAllocationsQueued(t *testing.T) {
	a := startAgent(t, agentOptions{pluginConfig: `{"nginx_path": "/nonexistent/nginx"}`})
	c := a.nomadClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n *nomad.Node
		nodes, _, err := c.Nodes().List(nil)
		if err == nil && len(nodes) == 1 {
			n, _, err = c.Nodes().Info(nodes[0].ID, nil)
		}
		if err == nil && n != nil && n.Drivers["iis"] != nil && n.Drivers["iis"].Detected && !n.Drivers["iis"].Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the driver did not fingerprint unhealthy: %+v %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	job := apiJob(t, sampleJob(t, "sick", 1))
	p, _, err := c.Jobs().Plan(job, false, nil)
	if err != nil || p.FailedTGAllocs["web"] == nil || p.FailedTGAllocs["web"].ConstraintFiltered["missing drivers"] != 1 {
		t.Errorf("plan: %+v %v", p, err)
	}
	r, _, err := c.Jobs().Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := waitEval(t, c, r.EvalID)
	m := ev.FailedTGAllocs["web"]
	if m == nil || m.NodesFiltered != 1 || m.ConstraintFiltered["missing drivers"] != 1 || ev.QueuedAllocations["web"] != 1 ||
		ev.BlockedEval == "" {
		t.Fatalf("eval: %+v (metric %+v)", ev, m)
	}
	if list, _, _ := c.Jobs().Allocations("sick", true, nil); len(list) != 0 {
		t.Errorf("placed on an unhealthy driver: %s", describe(list))
	}
	if j, _, _ := c.Jobs().Info("sick", nil); *j.Status != "pending" {
		t.Errorf("job status %q, want pending", *j.Status)
	}
}
