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
	s.EvalDone(key)
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
	if _, idx, err := s.StopJob(key, true); err != nil || idx == 0 {
		t.Fatal(err)
	}
	if j, _ := s.Job(key); j != nil {
		t.Error("purged job still readable")
	}
	if _, _, err := s.StopJob(key, false); !errors.Is(err, ErrJobNotFound) {
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
	j, _ := r.Job(JobKey{"default", "a"})
	if j == nil || r.Index() != s.Index() || string(j.TaskGroups[0].Tasks[0].Config) != `{"application":[{"path":"local"}]}` {
		t.Errorf("restored job %+v, index %d", j, r.Index())
	}
}
