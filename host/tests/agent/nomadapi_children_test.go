package agent

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
)

// batchJob is the sample job as a batch job (its site keeps running, so a
// child stays "running" until it is stopped).
func batchJob(t *testing.T, id string) *nomad.Job {
	j := apiJob(t, sampleJob(t, id, 1))
	j.Type = ptr("batch")
	return j
}

// waitJob polls a job through the client until ok accepts it.
func waitJob(t *testing.T, c *nomad.Client, id string, ok func(*nomad.Job, *nomad.JobSummary) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		j, _, err := c.Jobs().Info(id, nil)
		var s *nomad.JobSummary
		if err == nil {
			s, _, err = c.Jobs().Summary(id, nil)
		}
		if err == nil && ok(j, s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %+v %v", id, j, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// children lists the IDs of a job's children.
func children(t *testing.T, c *nomad.Client, parent string) []string {
	t.Helper()
	list, _, err := c.Jobs().PrefixList(parent + "/")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range list {
		if s.ParentID == parent {
			out = append(out, s.ID)
		}
	}
	return out
}

// TestParameterizedAndPeriodicJobsWithNomadClient: nothing runs on
// register; dispatch (payload into local/, meta checked and in the env)
// and periodic launches (cron, time zone, prohibit_overlap, force) create
// the children that run; the parents' summaries count them; all of it
// survives an agent restart.
func TestParameterizedAndPeriodicJobsWithNomadClient(t *testing.T) {
	a := startAgent(t, agentOptions{})
	c := a.nomadClient()
	jobs := c.Jobs()

	param := batchJob(t, "pjob")
	param.ParameterizedJob = &nomad.ParameterizedJobConfig{Payload: "required", MetaRequired: []string{"release"},
		MetaOptional: []string{"note"}}
	param.TaskGroups[0].Tasks[0].DispatchPayload = &nomad.DispatchPayloadConfig{File: "input/payload.txt"}
	reg, _, err := jobs.Register(param, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitEval(t, c, reg.EvalID)

	t.Run("parameterized job runs nothing", func(t *testing.T) {
		j, _, err := jobs.Info("pjob", nil)
		if err != nil || *j.Status != "running" || j.ParameterizedJob == nil || j.ParameterizedJob.Payload != "required" {
			t.Fatalf("parent: %+v %v", j, err)
		}
		if list, _, _ := jobs.Allocations("pjob", true, nil); len(list) != 0 {
			t.Errorf("the parameterized job placed %s", describe(list))
		}
		stubs, _, _ := jobs.PrefixList("pjob")
		if len(stubs) != 1 || !stubs[0].ParameterizedJob || stubs[0].Periodic {
			t.Errorf("list stub: %+v", stubs)
		}
		if _, _, err := jobs.ForceEvaluate("pjob", nil); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), "can't evaluate parameterized job") {
			t.Errorf("evaluate of a parameterized job: %v", err)
		}
	})

	t.Run("dispatch refuses bad input", func(t *testing.T) {
		big := make([]byte, 16*1024+1)
		for _, c2 := range []struct {
			name    string
			meta    map[string]string
			payload []byte
			want    string
		}{
			{"no payload", map[string]string{"release": "1"}, nil, "Payload is not provided but required by parameterized job"},
			{"unknown meta", map[string]string{"release": "1", "other": "x"}, []byte("p"), "Dispatch request included unpermitted metadata keys: [other]"},
			{"missing meta", map[string]string{"note": "x"}, []byte("p"), "Dispatch did not provide required meta keys: [release]"},
			{"payload too big", map[string]string{"release": "1"}, big, "Payload exceeds maximum size; 16385 > 16384"},
		} {
			_, _, err := jobs.Dispatch("pjob", c2.meta, c2.payload, "", nil)
			if statusCode(err) != 400 || !strings.Contains(err.Error(), c2.want) {
				t.Errorf("%s: %v (want 400 %q)", c2.name, err, c2.want)
			}
		}
		if _, _, err := jobs.Dispatch("nope", nil, nil, "", nil); statusCode(err) != 404 {
			t.Errorf("dispatch of an unknown job: %v", err)
		}
		if kids := children(t, c, "pjob"); len(kids) != 0 {
			t.Errorf("refused dispatches left children %v", kids)
		}
	})

	var child string
	t.Run("dispatch", func(t *testing.T) {
		resp, _, err := jobs.Dispatch("pjob", map[string]string{"release": "7"}, []byte("hello payload"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^pjob/dispatch-\d{10}-[0-9a-f]{8}$`).MatchString(resp.DispatchedJobID) ||
			resp.EvalID == "" || resp.JobCreateIndex == 0 || resp.EvalCreateIndex != resp.JobCreateIndex {
			t.Fatalf("dispatch: %+v", resp)
		}
		child = resp.DispatchedJobID
		ev := waitEval(t, c, resp.EvalID)
		if ev.JobID != child {
			t.Errorf("dispatch eval: %+v", ev)
		}
		list := waitAllocs(t, c, child, false, running(1))
		j, _, err := jobs.Info(child, nil)
		if err != nil || *j.ParentID != "pjob" || !j.Dispatched || j.Meta["release"] != "7" || string(j.Payload) != "hello payload" {
			t.Fatalf("child: %+v %v", j, err)
		}
		got, err := os.ReadFile(filepath.Join(a.dir, "data", "alloc", list[0].ID, "app", "local", "input", "payload.txt"))
		if err != nil || string(got) != "hello payload" {
			t.Errorf("payload file: %q %v", got, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			h := persistedHandles(t, a)[list[0].ID]
			if h != nil {
				if v := h.GetConfig().GetEnv()["NOMAD_META_release"]; v != "7" {
					t.Errorf("NOMAD_META_release = %q", v)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no task handle persisted for the child")
			}
			time.Sleep(100 * time.Millisecond)
		}
		waitJob(t, c, "pjob", func(_ *nomad.Job, s *nomad.JobSummary) bool {
			return s.Children != nil && s.Children.Running == 1 && s.Children.Pending == 0
		})
	})

	t.Run("force on a non-periodic job", func(t *testing.T) {
		if _, _, err := jobs.PeriodicForce("pjob", nil); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), "can't force launch non-periodic job") {
			t.Errorf("force: %v", err)
		}
		if _, _, err := jobs.Dispatch(child, map[string]string{"release": "1"}, []byte("x"), "", nil); statusCode(err) != 400 ||
			!strings.Contains(err.Error(), "is not a parameterized job") {
			t.Errorf("dispatch of a dispatched child: %v", err)
		}
	})

	t.Run("periodic validation", func(t *testing.T) {
		bad := batchJob(t, "badcron")
		bad.Periodic = &nomad.PeriodicConfig{Spec: ptr("not a cron")}
		if _, _, err := jobs.Register(bad, nil); statusCode(err) != 400 || !strings.Contains(err.Error(), "Invalid cron spec") {
			t.Errorf("bad cron: %v", err)
		}
		svc := apiJob(t, sampleJob(t, "svccron", 1))
		svc.Periodic = &nomad.PeriodicConfig{Spec: ptr("*/5 * * * *")}
		if _, _, err := jobs.Register(svc, nil); statusCode(err) != 400 || !strings.Contains(err.Error(), "Periodic can only be used with") {
			t.Errorf("periodic service job: %v", err)
		}
	})

	t.Run("periodic", func(t *testing.T) {
		cron := batchJob(t, "cron")
		cron.Periodic = &nomad.PeriodicConfig{Specs: []string{"*/2 * * * * * *"}, ProhibitOverlap: ptr(true),
			TimeZone: ptr("Europe/Berlin")}
		p, _, err := jobs.Plan(cron, false, nil)
		if err != nil || p.NextPeriodicLaunch.IsZero() || time.Until(p.NextPeriodicLaunch) > 3*time.Second {
			t.Fatalf("plan: next launch %v %v", p.NextPeriodicLaunch, err)
		}
		r, _, err := jobs.Register(cron, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitEval(t, c, r.EvalID)
		waitJob(t, c, "cron", func(j *nomad.Job, s *nomad.JobSummary) bool { return s.Children.Running == 1 })
		kids := children(t, c, "cron")
		if len(kids) != 1 || !regexp.MustCompile(`^cron/periodic-\d{10}$`).MatchString(kids[0]) {
			t.Fatalf("children: %v", kids)
		}
		if list, _, _ := jobs.Allocations("cron", false, nil); len(list) != 0 {
			t.Errorf("the periodic parent placed %s", describe(list))
		}
		evs, _, err := jobs.Evaluations(kids[0], nil)
		if err != nil || len(evs) != 1 || evs[0].TriggeredBy != "periodic-job" {
			t.Errorf("child evals: %+v %v", evs, err)
		}
		// prohibit_overlap: the running child holds back the next launches.
		time.Sleep(4500 * time.Millisecond)
		if kids := children(t, c, "cron"); len(kids) != 1 {
			t.Errorf("overlapping launches: %v", kids)
		}
		// A force launch does not wait.
		f, _, err := jobs.PeriodicForce("cron", nil)
		if err != nil || f == "" {
			t.Fatalf("force: %q %v", f, err)
		}
		waitEval(t, c, f)
		waitJob(t, c, "cron", func(j *nomad.Job, s *nomad.JobSummary) bool { return s.Children.Running == 2 })
		// Stopping the parent ends the launches (its children go on).
		if _, _, err := jobs.Deregister("cron", false, nil); err != nil {
			t.Fatal(err)
		}
		for _, k := range children(t, c, "cron") {
			if _, _, err := jobs.Deregister(k, false, nil); err != nil {
				t.Fatalf("deregister %s: %v", k, err)
			}
		}
		waitJob(t, c, "cron", func(j *nomad.Job, s *nomad.JobSummary) bool {
			return *j.Status == "dead" && s.Children.Dead == 2 && s.Children.Running == 0
		})
		time.Sleep(2500 * time.Millisecond)
		if kids := children(t, c, "cron"); len(kids) != 2 {
			t.Errorf("a stopped periodic job launched: %v", kids)
		}
	})

	t.Run("survives a restart", func(t *testing.T) {
		if !a.signalStop(time.Minute) {
			t.Fatal("the agent did not stop")
		}
		a.start(true)
		c = a.nomadClient()
		jobs = c.Jobs()
		ev, _, err := c.Evaluations().Info(reg.EvalID, nil)
		if err != nil || ev.Status != "complete" || ev.JobID != "pjob" {
			t.Errorf("evaluation after the restart: %+v %v", ev, err)
		}
		j, _, err := jobs.Info(child, nil)
		if err != nil || string(j.Payload) != "hello payload" {
			t.Errorf("dispatched child after the restart: %+v %v", j, err)
		}
		waitAllocs(t, c, child, false, running(1))
		waitJob(t, c, "pjob", func(_ *nomad.Job, s *nomad.JobSummary) bool { return s.Children.Running == 1 })
		if kids := children(t, c, "cron"); len(kids) != 2 {
			t.Errorf("periodic children after the restart: %v", kids)
		}
	})
}
