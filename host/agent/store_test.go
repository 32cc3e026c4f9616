package agent

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testJob(id string) *Job {
	var j Job
	if err := json.Unmarshal([]byte(`{"ID":"`+id+`","TaskGroups":[{"Name":"web","Tasks":[{"Name":"app","Driver":"iis","Config":{"application":[{"path":"local"}]}}]}]}`), &j); err != nil {
		panic(err)
	}
	j.Canonicalize("global")
	return &j
}

func TestStoreIndexesAndCheckAndSet(t *testing.T) {
	s := NewStore(nil)
	res, err := s.UpsertJob(testJob("a"), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Index != 1 || res.Job.CreateIndex != 1 || res.Job.JobModifyIndex != 1 || res.Job.Version != 0 {
		t.Fatalf("first register: %+v", res)
	}
	if res.Job.Status != JobStatusPending {
		t.Errorf("status %q, want pending", res.Job.Status)
	}
	var ee *EnforceIndexError
	if _, err := s.UpsertJob(testJob("a"), true, 0); !errors.As(err, &ee) || !strings.Contains(err.Error(), "job already exists") {
		t.Errorf("CAS 0 on an existing job: %v", err)
	}
	if _, err := s.UpsertJob(testJob("a"), true, 7); !errors.As(err, &ee) || !strings.Contains(err.Error(), "conflicting job modify index: 1") {
		t.Errorf("CAS 7: %v", err)
	}
	if _, err := s.UpsertJob(testJob("new"), true, 3); !errors.As(err, &ee) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("CAS on a new job: %v", err)
	}
	same, err := s.UpsertJob(testJob("a"), true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if same.Index <= res.Index || same.Job.Version != 0 || same.Job.CreateIndex != 1 {
		t.Errorf("re-register of the same spec: %+v", same.Job)
	}
	changed := testJob("a")
	changed.Meta = map[string]string{"x": "y"}
	upd, err := s.UpsertJob(changed, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Job.Version != 1 || upd.Index <= same.Index {
		t.Errorf("changed spec: version %d index %d", upd.Job.Version, upd.Index)
	}
	vs, _, err := s.Versions(JobKey{"default", "a"})
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 0 {
		t.Errorf("versions: %v %v", err, vs)
	}
	if _, _, err := s.Versions(JobKey{"default", "zzz"}); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("versions of an unknown job: %v", err)
	}
}

func TestStoreStatusFollowsAllocations(t *testing.T) {
	s := NewStore(nil)
	res, _ := s.UpsertJob(testJob("a"), false, 0)
	key := JobKey{"default", "a"}
	rec := &allocRecord{Alloc: &Allocation{ID: "al1", Namespace: "default", JobID: "a", Job: res.Job, TaskGroup: "web",
		DesiredStatus: AllocDesiredRun, ClientStatus: AllocClientPending,
		TaskStates: map[string]*TaskState{"app": {State: TaskStatePending}}}, Tasks: map[string]*taskRecord{}}
	s.PutAlloc(rec)
	s.EvalDone(key, s.Index(), evalOutcome{})
	if j, _ := s.Job(key); j.Status != JobStatusRunning {
		t.Errorf("with a pending alloc: %q", j.Status)
	}
	changed := s.Changed()
	before := s.Index()
	_, _ = s.UpdateAlloc("al1", func(r *allocRecord) bool {
		r.Alloc.ClientStatus = AllocClientComplete
		return true
	})
	select {
	case <-changed:
	case <-time.After(time.Second):
		t.Fatal("a write did not wake watchers")
	}
	if s.Index() <= before {
		t.Error("index did not rise")
	}
	if j, _ := s.Job(key); j.Status != JobStatusDead {
		t.Errorf("with only a complete alloc: %q", j.Status)
	}
	sum, _, _ := s.Summary(key)
	if sum.Summary["web"].Complete != 1 {
		t.Errorf("summary: %+v", sum.Summary)
	}
	_, ev, idx, err := s.StopJob(key, true)
	if err != nil || idx == 0 || ev.TriggeredBy != EvalTriggerJobDeregister || ev.Status != EvalStatusPending {
		t.Fatalf("purge: %v, eval %+v", err, ev)
	}
	if j, _ := s.Job(key); j != nil {
		t.Error("purged job still readable")
	}
	if _, _, _, err := s.StopJob(key, false); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("stop of a purged job: %v", err)
	}
}

func TestStoreSnapshotRoundTrip(t *testing.T) {
	s := NewStore(nil)
	s.UpsertJob(testJob("a"), false, 0)
	b, err := s.snapshot("node-1")
	if err != nil {
		t.Fatal(err)
	}
	r := NewStore(nil)
	node, err := r.restore(b)
	if err != nil || node != "node-1" {
		t.Fatalf("restore: %v %q", err, node)
	}
	evs, _ := r.Evals(EvalFilter{Namespace: "*"})
	if len(evs) != 1 || evs[0].JobID != "a" || evs[0].Status != EvalStatusPending {
		t.Errorf("restored evaluations: %+v", evs)
	}
	j, _ := r.Job(JobKey{"default", "a"})
	if j == nil || r.Index() != s.Index() || string(j.TaskGroups[0].Tasks[0].Config) != `{"application":[{"path":"local"}]}` {
		t.Errorf("restored job %+v, index %d", j, r.Index())
	}
}

func TestStoreEvaluations(t *testing.T) {
	s := NewStore(nil)
	key := JobKey{"default", "a"}
	res, err := s.UpsertJob(testJob("a"), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev, idx, err := s.Eval(res.EvalID)
	if err != nil || ev.Status != EvalStatusPending || ev.TriggeredBy != EvalTriggerJobRegister || ev.JobID != "a" ||
		ev.CreateIndex != res.Index || ev.JobModifyIndex != res.Job.JobModifyIndex || idx != res.Index || ev.Type != "service" {
		t.Fatalf("register's eval: %+v %v", ev, err)
	}
	if _, _, err := s.Eval("nope"); !errors.Is(err, ErrEvalNotFound) {
		t.Errorf("unknown eval: %v", err)
	}
	// A pass that could not place one allocation: complete with the
	// failure, and a blocked evaluation waits for room.
	failed := placementFailure(nil, res.Job, errors.New("network: port collision"))
	// An evaluation created after the pass began waits for the next one.
	snapshot := s.Index()
	later, _, _ := s.CreateEval(key, EvalTriggerJobRegister)
	s.EvalDone(key, snapshot, evalOutcome{Queued: map[string]int{"web": 1}, Failed: map[string]*AllocMetric{"web": failed}})
	if ev, _, _ := s.Eval(later.ID); ev.Status != EvalStatusPending {
		t.Errorf("an evaluation newer than the pass: %+v", ev)
	}
	if j, _ := s.Job(key); j.Status != JobStatusPending {
		t.Errorf("job status with an evaluation pending: %q", j.Status)
	}
	ev, _, _ = s.Eval(res.EvalID)
	if ev.Status != EvalStatusComplete || ev.QueuedAllocations["web"] != 1 || ev.FailedTGAllocs["web"] == nil ||
		ev.FailedTGAllocs["web"].DimensionExhausted["network: port collision"] != 1 || ev.BlockedEval == "" || ev.ModifyIndex <= res.Index {
		t.Fatalf("after a failed placement: %+v", ev)
	}
	blocked, _, err := s.Eval(ev.BlockedEval)
	if err != nil || blocked.Status != EvalStatusBlocked || blocked.PreviousEval != ev.ID || blocked.TriggeredBy != EvalTriggerQueuedAllocs {
		t.Fatalf("blocked eval: %+v %v", blocked, err)
	}
	if s.LatestEvalID(key) != later.ID {
		t.Errorf("latest eval %s, want the pending %s", s.LatestEvalID(key), later.ID)
	}
	// The next pass places it: the blocked evaluation completes.
	s.EvalDone(key, s.Index(), evalOutcome{Queued: map[string]int{"web": 0}})
	if ev, _, _ := s.Eval(later.ID); ev.Status != EvalStatusComplete {
		t.Errorf("the later evaluation after the next pass: %+v", ev)
	}
	if b, _, _ := s.Eval(blocked.ID); b.Status != EvalStatusComplete {
		t.Errorf("blocked eval after placement: %+v", b)
	}
	forced, _, err := s.CreateEval(key, EvalTriggerJobRegister)
	if err != nil || forced.Status != EvalStatusPending || s.LatestEvalID(key) != forced.ID {
		t.Fatalf("CreateEval: %+v %v", forced, err)
	}
	if _, _, err := s.CreateEval(JobKey{"default", "zzz"}, EvalTriggerJobRegister); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("CreateEval of an unknown job: %v", err)
	}
	list, _ := s.Evals(EvalFilter{Namespace: "default", JobID: "a"})
	if len(list) != 4 || list[0].ID != forced.ID {
		t.Errorf("list: %d, first %+v", len(list), list[0])
	}
	if list, _ := s.Evals(EvalFilter{Namespace: "*", Prefix: res.EvalID[:6]}); len(list) != 1 || list[0].ID != res.EvalID {
		t.Errorf("prefix list: %+v", list)
	}
	if list, _ := s.Evals(EvalFilter{Namespace: "*", Status: EvalStatusPending}); len(list) != 1 {
		t.Errorf("status filter: %+v", list)
	}
}
