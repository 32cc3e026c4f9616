package agent

import (
	"strings"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
)

// waitDeployment follows a deployment with blocking queries until ok
// accepts it.
func waitDeployment(t *testing.T, c *nomad.Client, id string, ok func(*nomad.Deployment) bool) *nomad.Deployment {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var index uint64
	for {
		d, qm, err := c.Deployments().Info(id, &nomad.QueryOptions{WaitIndex: index, WaitTime: 2 * time.Second})
		if err != nil {
			t.Fatalf("deployment %s: %v", id, err)
		}
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s: %s %q", id, d.Status, d.StatusDescription)
		}
		index = qm.LastIndex
	}
}

// latestDeployment waits for the job's deployment of a version.
func latestDeployment(t *testing.T, c *nomad.Client, job string, version uint64) *nomad.Deployment {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, _, err := c.Jobs().LatestDeployment(job, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil && d.JobVersion == version {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("no deployment of %s version %d (latest %+v)", job, version, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeploymentsWithNomadClient: a service job with an update block is
// deployed (health from the task states after min_healthy_time, Stable on
// success), updated one allocation at a time (max_parallel = 1), rolled
// back to its last stable version when a new version fails (auto_revert),
// and its deployments answer pause, fail and promote.
func TestDeploymentsWithNomadClient(t *testing.T) {
	a := startAgent(t, agentOptions{})
	c := a.nomadClient()
	jobs := c.Jobs()

	job := apiJob(t, sampleJob(t, "dep-web", 2))
	job.TaskGroups[0].Update = &nomad.UpdateStrategy{MaxParallel: ptr(1), MinHealthyTime: ptr(time.Second),
		HealthyDeadline: ptr(20 * time.Second), ProgressDeadline: ptr(40 * time.Second), AutoRevert: ptr(true)}
	reg, _, err := jobs.Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEval(t, c, reg.EvalID)

	t.Run("first version", func(t *testing.T) {
		d := latestDeployment(t, c, "dep-web", 0)
		if d.Status != "running" || !strings.Contains(d.StatusDescription, "task states") || d.TaskGroups["web"] == nil ||
			d.TaskGroups["web"].DesiredTotal != 2 || !d.TaskGroups["web"].AutoRevert {
			t.Errorf("deployment: %+v", d)
		}
		d = waitDeployment(t, c, d.ID, func(d *nomad.Deployment) bool { return d.Status != "running" })
		st := d.TaskGroups["web"]
		if d.Status != "successful" || d.StatusDescription != "Deployment completed successfully" ||
			st.HealthyAllocs != 2 || st.PlacedAllocs != 2 || st.UnhealthyAllocs != 0 {
			t.Errorf("deployment: %+v %+v", d, st)
		}
		allocs, _, err := c.Deployments().Allocations(d.ID, nil)
		if err != nil || len(allocs) != 2 {
			t.Fatalf("deployment allocations: %s %v", describe(allocs), err)
		}
		for _, al := range allocs {
			if al.DeploymentStatus == nil || al.DeploymentStatus.Healthy == nil || !*al.DeploymentStatus.Healthy {
				t.Errorf("allocation %s: %+v", al.ID, al.DeploymentStatus)
			}
		}
		if j, _, _ := jobs.Info("dep-web", nil); !*j.Stable {
			t.Error("the job is not stable after a successful deployment")
		}
	})

	t.Run("rolling update", func(t *testing.T) {
		job.TaskGroups[0].Tasks[0].Env["RELEASE"] = "1"
		r, _, err := jobs.Register(job, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, r.EvalID)
		d := latestDeployment(t, c, "dep-web", 1)
		mixed, maxInFlight := false, 0
		for d.Status == "running" {
			list, _, _ := jobs.Allocations("dep-web", false, nil)
			old, inflight := 0, 0
			for _, al := range list {
				if al.DesiredStatus != "run" {
					continue
				}
				if al.JobVersion == 0 && al.ClientStatus == "running" {
					old++
				}
				if al.JobVersion == 1 && (al.DeploymentStatus == nil || al.DeploymentStatus.Healthy == nil) {
					inflight++
				}
			}
			mixed = mixed || (old == 1)
			if inflight > maxInFlight {
				maxInFlight = inflight
			}
			time.Sleep(50 * time.Millisecond)
			d, _, _ = c.Deployments().Info(d.ID, nil)
		}
		if d.Status != "successful" || !mixed || maxInFlight != 1 {
			t.Errorf("deployment %s %q; old and new ran side by side: %v; most new allocations not yet healthy at once: %d",
				d.Status, d.StatusDescription, mixed, maxInFlight)
		}
		waitAllocs(t, c, "dep-web", false, func(list []*nomad.AllocationListStub) bool {
			n := 0
			for _, al := range list {
				if al.DesiredStatus == "run" && al.JobVersion == 1 && al.ClientStatus == "running" {
					n++
				}
			}
			return n == 2
		})
	})

	t.Run("failure rolls back", func(t *testing.T) {
		bad := apiJob(t, sampleJob(t, "dep-web", 2))
		bad.TaskGroups[0].Update = job.TaskGroups[0].Update
		bad.TaskGroups[0].Tasks[0].Config = map[string]interface{}{
			"application": []interface{}{map[string]interface{}{"path": "local"}},
			"binding":     []interface{}{map[string]interface{}{"type": "http", "port": "nolabel"}},
		}
		if _, _, err := jobs.Register(bad, nil); err != nil {
			t.Fatal(err)
		}
		d := latestDeployment(t, c, "dep-web", 2)
		d = waitDeployment(t, c, d.ID, func(d *nomad.Deployment) bool { return d.Status != "running" })
		if d.Status != "failed" || d.StatusDescription != "Failed due to unhealthy allocations - rolling back to job version 1" ||
			d.TaskGroups["web"].UnhealthyAllocs != 1 {
			t.Fatalf("failed deployment: %s %q %+v", d.Status, d.StatusDescription, d.TaskGroups["web"])
		}
		j, _, _ := jobs.Info("dep-web", nil)
		if *j.Version != 3 || j.TaskGroups[0].Tasks[0].Env["RELEASE"] != "1" {
			t.Errorf("after the rollback: version %d, env %v", *j.Version, j.TaskGroups[0].Tasks[0].Env)
		}
		back := latestDeployment(t, c, "dep-web", 3)
		back = waitDeployment(t, c, back.ID, func(d *nomad.Deployment) bool { return d.Status != "running" })
		if back.Status != "successful" {
			t.Errorf("the rollback's deployment: %s %q", back.Status, back.StatusDescription)
		}
		all, _, err := jobs.Deployments("dep-web", true, nil)
		if err != nil || len(all) != 4 || all[0].ID != back.ID {
			t.Errorf("job deployments: %d %v", len(all), err)
		}
	})

	t.Run("pause, promote, fail", func(t *testing.T) {
		job.TaskGroups[0].Tasks[0].Env["RELEASE"] = "4"
		// Nomad requires min_healthy_time < healthy_deadline < progress_deadline.
		job.TaskGroups[0].Update.MinHealthyTime = ptr(30 * time.Second)
		job.TaskGroups[0].Update.HealthyDeadline = ptr(35 * time.Second)
		if _, _, err := jobs.Register(job, nil); err != nil {
			t.Fatal(err)
		}
		d := latestDeployment(t, c, "dep-web", 4)
		if _, _, err := c.Deployments().Pause(d.ID, true, nil); err != nil {
			t.Fatal(err)
		}
		if d, _, _ := c.Deployments().Info(d.ID, nil); d.Status != "paused" || d.StatusDescription != "Deployment is paused" {
			t.Errorf("paused: %s %q", d.Status, d.StatusDescription)
		}
		if _, _, err := c.Deployments().PromoteAll(d.ID, nil); statusCode(err) != 400 || !strings.Contains(err.Error(), "no canaries to promote") {
			t.Errorf("promote without canaries: %v", err)
		}
		resp, _, err := c.Deployments().Fail(d.ID, nil)
		if err != nil || resp.RevertedJobVersion == nil || *resp.RevertedJobVersion != 3 || resp.EvalID == "" {
			t.Fatalf("fail: %+v %v", resp, err)
		}
		d, _, _ = c.Deployments().Info(d.ID, nil)
		if d.Status != "failed" || d.StatusDescription != "Deployment marked as failed - rolling back to job version 3" {
			t.Errorf("failed by the user: %s %q", d.Status, d.StatusDescription)
		}
		if _, _, err := c.Deployments().Fail(d.ID, nil); statusCode(err) != 400 {
			t.Errorf("fail of a terminal deployment: %v", err)
		}
		if _, _, err := c.Deployments().Info("00000000-0000-0000-0000-000000000000", nil); statusCode(err) != 404 {
			t.Errorf("unknown deployment: %v", err)
		}
		if _, _, err := jobs.LatestDeployment("nope", nil); statusCode(err) != 404 {
			t.Errorf("latest deployment of an unknown job: %v", err)
		}
		list, _, err := c.Deployments().PrefixList(d.ID[:6])
		if err != nil || len(list) != 1 || list[0].ID != d.ID {
			t.Errorf("PrefixList: %v %v", list, err)
		}
	})

	t.Run("stop cancels", func(t *testing.T) {
		j, _, _ := jobs.Info("dep-web", nil)
		d := latestDeployment(t, c, "dep-web", *j.Version)
		if _, _, err := jobs.Deregister("dep-web", false, nil); err != nil {
			t.Fatal(err)
		}
		d = waitDeployment(t, c, d.ID, func(d *nomad.Deployment) bool { return d.Status != "running" })
		if d.Status != "cancelled" && d.Status != "successful" {
			t.Errorf("deployment of a stopped job: %s %q", d.Status, d.StatusDescription)
		}
	})

	t.Run("survive a restart", func(t *testing.T) {
		before, _, err := jobs.Deployments("dep-web", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !a.signalStop(time.Minute) {
			t.Fatal("the agent did not stop")
		}
		a.start(true)
		c = a.nomadClient()
		after, _, err := c.Jobs().Deployments("dep-web", true, nil)
		if err != nil || len(after) != len(before) {
			t.Fatalf("deployments after a restart: %d (before %d) %v", len(after), len(before), err)
		}
		for i := range after {
			if after[i].ID != before[i].ID || after[i].Status != before[i].Status ||
				after[i].StatusDescription != before[i].StatusDescription {
				t.Errorf("deployment %d: %+v, before %+v", i, after[i], before[i])
			}
		}
	})
}

// TestCanaryDeploymentsWithNomadClient: with canary = 1 an update first
// runs one canary beside the old allocations and waits for a promotion
// (manual, or automatic with auto_promote once the canary is healthy);
// then the canary takes an old allocation's place and the rest roll.
func TestCanaryDeploymentsWithNomadClient(t *testing.T) {
	a := startAgent(t, agentOptions{})
	c := a.nomadClient()
	jobs := c.Jobs()

	job := apiJob(t, sampleJob(t, "canary-web", 2))
	job.TaskGroups[0].Update = &nomad.UpdateStrategy{MaxParallel: ptr(1), Canary: ptr(1), MinHealthyTime: ptr(time.Second),
		HealthyDeadline: ptr(20 * time.Second), ProgressDeadline: ptr(40 * time.Second)}
	if _, _, err := jobs.Register(job, nil); err != nil {
		t.Fatal(err)
	}
	first := latestDeployment(t, c, "canary-web", 0)
	if first.TaskGroups["web"].DesiredCanaries != 0 {
		t.Errorf("canaries on the first version: %+v", first.TaskGroups["web"])
	}
	waitDeployment(t, c, first.ID, func(d *nomad.Deployment) bool { return d.Status == "successful" })

	job.TaskGroups[0].Tasks[0].Env["RELEASE"] = "1"
	if _, _, err := jobs.Register(job, nil); err != nil {
		t.Fatal(err)
	}
	d := latestDeployment(t, c, "canary-web", 1)
	if !strings.HasPrefix(d.StatusDescription, "Deployment is running but requires manual promotion") ||
		d.TaskGroups["web"].DesiredCanaries != 1 {
		t.Errorf("canary deployment: %q %+v", d.StatusDescription, d.TaskGroups["web"])
	}
	d = waitDeployment(t, c, d.ID, func(d *nomad.Deployment) bool {
		return len(d.TaskGroups["web"].PlacedCanaries) == 1 && d.TaskGroups["web"].HealthyAllocs == 1
	})
	canary := d.TaskGroups["web"].PlacedCanaries[0]
	time.Sleep(1500 * time.Millisecond)
	list, _, _ := jobs.Allocations("canary-web", false, nil)
	old, running := 0, 0
	for _, al := range list {
		if al.DesiredStatus == "run" && al.ClientStatus == "running" {
			running++
			if al.JobVersion == 0 {
				old++
			}
		}
	}
	if d, _, _ = c.Deployments().Info(d.ID, nil); d.Status != "running" || old != 2 || running != 3 {
		t.Fatalf("before the promotion: deployment %s, %d running, %d of them old: %s", d.Status, running, old, describe(list))
	}
	al, _, err := c.Allocations().Info(canary, nil)
	if err != nil || al.DeploymentStatus == nil || !al.DeploymentStatus.Canary || al.DeploymentID != d.ID {
		t.Errorf("canary allocation: %+v %v", al, err)
	}
	if _, _, err := c.Deployments().PromoteAll(d.ID, nil); err != nil {
		t.Fatal(err)
	}
	d = waitDeployment(t, c, d.ID, func(d *nomad.Deployment) bool { return d.Status != "running" })
	if d.Status != "successful" || !d.TaskGroups["web"].Promoted {
		t.Fatalf("after the promotion: %s %q %+v", d.Status, d.StatusDescription, d.TaskGroups["web"])
	}
	list = waitAllocs(t, c, "canary-web", false, func(list []*nomad.AllocationListStub) bool {
		n := 0
		for _, al := range list {
			if al.DesiredStatus == "run" && al.ClientStatus == "running" && al.JobVersion == 1 {
				n++
			} else if al.DesiredStatus == "run" {
				return false
			}
		}
		return n == 2
	})
	kept := false
	for _, al := range list {
		kept = kept || (al.ID == canary && al.DesiredStatus == "run")
	}
	if !kept {
		t.Errorf("the promoted canary was not kept: %s", describe(list))
	}

	// auto_promote: no manual step.
	job.TaskGroups[0].Update.AutoPromote = ptr(true)
	job.TaskGroups[0].Tasks[0].Env["RELEASE"] = "2"
	if _, _, err := jobs.Register(job, nil); err != nil {
		t.Fatal(err)
	}
	d = latestDeployment(t, c, "canary-web", 2)
	d = waitDeployment(t, c, d.ID, func(d *nomad.Deployment) bool { return d.Status != "running" })
	if d.Status != "successful" || !d.TaskGroups["web"].Promoted || len(d.TaskGroups["web"].PlacedCanaries) != 1 {
		t.Errorf("auto promotion: %s %q %+v", d.Status, d.StatusDescription, d.TaskGroups["web"])
	}
}
