package agent

import (
	"testing"
	"time"
)

// TestPeriodicNextFollowsTimeZoneAndSpecs: the next launch is read in the
// job's time zone, and with several crons it is the earliest.
func TestPeriodicNextFollowsTimeZoneAndSpecs(t *testing.T) {
	from := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	p := &PeriodicConfig{Spec: strPtr("0 9 * * *"), TimeZone: strPtr("Europe/Berlin")}
	p.canonicalize()
	next, err := p.next(from)
	if err != nil || !next.Equal(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("09:00 Berlin after 07:00Z: %v %v", next.UTC(), err)
	}
	p = &PeriodicConfig{Specs: []string{"0 12 * * *", "30 7 * * *"}}
	p.canonicalize()
	if next, err := p.next(from); err != nil || !next.Equal(time.Date(2026, 12, 6, 7, 30, 0, 0, time.UTC)) {
		t.Errorf("earliest of two crons: %v %v", next, err)
	}
	if _, err := (&PeriodicConfig{Spec: strPtr("bogus")}).next(from); err == nil {
		t.Error("a bad spec gave no error")
	}
	job := testJob("p")
	job.Type = JobTypeBatch
	job.Periodic = &PeriodicConfig{Spec: strPtr("*/5 * * * *"), TimeZone: strPtr("Mars/Olympus")}
	job.Periodic.canonicalize()
	var pr problems
	job.validatePeriodic(&pr)
	if len(pr) != 1 || pr[0] != `Job.Periodic.TimeZone: Invalid time zone "Mars/Olympus": unknown time zone Mars/Olympus` {
		t.Errorf("bad time zone: %v", pr)
	}
}

// TestDispatchChecksLikeNomad: payload and meta rules, with Nomad's words.
func TestDispatchChecksLikeNomad(t *testing.T) {
	job := testJob("d")
	job.ParameterizedJob = &ParameterizedJobConfig{Payload: DispatchPayloadForbidden, MetaRequired: []string{"a"}}
	cases := []struct {
		req  JobDispatchRequest
		want string
	}{
		{JobDispatchRequest{Payload: []byte("x"), Meta: map[string]string{"a": "1"}}, "Payload provided but forbidden by parameterized job"},
		{JobDispatchRequest{Meta: map[string]string{"a": "1", "z": "2", "b": "3"}}, "Dispatch request included unpermitted metadata keys: [b z]"},
		{JobDispatchRequest{}, "Dispatch did not provide required meta keys: [a]"},
		{JobDispatchRequest{Meta: map[string]string{"a": "1"}}, ""},
	}
	for _, c := range cases {
		err := validateDispatch(&c.req, job)
		if (err == nil && c.want != "") || (err != nil && err.Error() != c.want) {
			t.Errorf("%+v: %v, want %q", c.req, err, c.want)
		}
	}
	if id := dispatchedID("batch", "", time.Unix(1700000000, 0)); len(id) != len("batch/dispatch-1700000000-")+8 {
		t.Errorf("dispatched ID %q", id)
	}
	if id := dispatchedID("batch", "nightly", time.Unix(1700000000, 0)); id[:len("batch/dispatch-nightly-1700000000-")] != "batch/dispatch-nightly-1700000000-" {
		t.Errorf("dispatched ID with a prefix template %q", id)
	}
}
