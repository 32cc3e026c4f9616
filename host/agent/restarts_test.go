package agent

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"nomad_iis/gen/pstructs"
)

func TestRestartTracker(t *testing.T) {
	now := time.Unix(1000, 0)
	attempts, interval, delay, mode := 2, time.Minute, time.Second, RestartModeFail
	rt := newRestartTracker(&RestartPolicy{Attempts: &attempts, Interval: &interval, Delay: &delay, Mode: &mode}, JobTypeService)
	rt.now = func() time.Time { return now }
	rt.jitterFrac = func() float64 { return 0 }
	for i := 0; i < 2; i++ {
		d := rt.Decide(false)
		if !d.Restart || d.Delay != time.Second {
			t.Fatalf("attempt %d: %+v", i, d)
		}
	}
	if d := rt.Decide(false); d.Restart || !d.Failed {
		t.Fatalf("third failure: %+v", d)
	}
	now = now.Add(2 * time.Minute)
	if d := rt.Decide(false); !d.Restart {
		t.Fatalf("after the interval: %+v", d)
	}

	mode = RestartModeDelay
	rt = newRestartTracker(&RestartPolicy{Attempts: &attempts, Interval: &interval, Delay: &delay, Mode: &mode}, JobTypeService)
	rt.now = func() time.Time { return now }
	rt.jitterFrac = func() float64 { return 0 }
	rt.Decide(false)
	rt.Decide(false)
	now = now.Add(10 * time.Second)
	if d := rt.Decide(false); !d.Restart || d.Delay != 50*time.Second {
		t.Fatalf("delay mode: %+v", d)
	}

	batch := newRestartTracker(nil, JobTypeBatch)
	if d := batch.Decide(true); d.Restart || d.Failed {
		t.Fatalf("batch success: %+v", d)
	}
	service := newRestartTracker(nil, JobTypeService)
	if d := service.Decide(true); !d.Restart {
		t.Fatalf("service exit 0 restarts: %+v", d)
	}
}

func TestParsePortSpec(t *testing.T) {
	m, err := ParsePortSpec("22, 80,8000-8002")
	if err != nil || len(m) != 5 || !m[8001] || !m[22] {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"x", "10-5", "0", "70000"} {
		if _, err := ParsePortSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPortAllocator(t *testing.T) {
	pa := newPortAllocator(30000, 30010, map[int]bool{30001: true}, "127.0.0.1")
	used := map[int]string{30002: "other[0]"}
	got, err := pa.assign([]Port{{Label: "a"}, {Label: "s", Value: 30005}, {Label: "b"}}, used)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Label != "a" || got[1].Value != 30005 || got[2].Label != "b" {
		t.Fatalf("%+v", got)
	}
	for _, p := range got {
		if p.Value == 30001 || p.Value == 30002 || p.HostIP != "127.0.0.1" {
			t.Errorf("port %+v is reserved or used", p)
		}
	}
	if got[0].Value == got[2].Value {
		t.Error("two ports got the same value")
	}
	if _, err := pa.assign([]Port{{Label: "s", Value: 30002}}, used); err == nil {
		t.Error("a static port held by another allocation was given")
	}
}

func TestStartErrorRecoverable(t *testing.T) {
	withDetail := func(code codes.Code, recoverable bool) error {
		st, err := status.New(code, "start failed").WithDetails(&pstructs.RecoverableError{Recoverable: recoverable})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"recoverable detail", withDetail(codes.FailedPrecondition, true), true},
		{"unrecoverable detail", withDetail(codes.InvalidArgument, false), false},
		{"no detail", status.Error(codes.FailedPrecondition, "start failed"), false},
		{"not a status", errors.New("start failed"), false},
	}
	for _, c := range cases {
		if got := startErrorRecoverable(c.err); got != c.want {
			t.Errorf("%s: recoverable %v, want %v", c.name, got, c.want)
		}
	}
}
