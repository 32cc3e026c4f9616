package agent

import (
	"fmt"
	"math/rand"
	"time"

	"google.golang.org/grpc/status"

	"nomad_iis/gen/pstructs"
)

// reasonUnrecoverable is the restart reason Nomad gives for a start error
// that is not recoverable.
const reasonUnrecoverable = "Error was unrecoverable"

// startErrorRecoverable is what Nomad's driver client and restart tracker
// make of a failed StartTask (plugins/drivers/client.go, restarts.go): only a
// RecoverableError{recoverable: true} as the first status detail lets the
// restart policy retry; any other error fails the task.
func startErrorRecoverable(err error) bool {
	details := status.Convert(err).Details()
	if len(details) == 0 {
		return false
	}
	rec, ok := details[0].(*pstructs.RecoverableError)
	return ok && rec.GetRecoverable()
}

// restartTracker applies a task's restart policy the way Nomad's client
// does: failures are counted within Interval; up to Attempts restarts wait
// Delay (plus up to 25% jitter); after that "fail" gives up and "delay"
// waits for the rest of the interval and starts counting again.
type restartTracker struct {
	policy     RestartPolicy
	jobType    string
	count      int
	startTime  time.Time
	now        func() time.Time
	jitterFrac func() float64
}

func newRestartTracker(p *RestartPolicy, jobType string) *restartTracker {
	pol := defaultRestartPolicy(jobType)
	if p != nil {
		pol = *mergeRestart(p, pol)
	}
	return &restartTracker{policy: pol, jobType: jobType, now: time.Now, jitterFrac: rand.Float64}
}

// restartDecision is what to do after a task ended.
type restartDecision struct {
	Restart bool
	Delay   time.Duration
	Reason  string
	// Failed marks the task failed when it is not restarted.
	Failed bool
}

// Decide is called when a start failed or the task exited; success is an
// exit code 0 without a signal.
func (r *restartTracker) Decide(success bool) restartDecision {
	if success && r.jobType != JobTypeService && r.jobType != JobTypeSystem {
		return restartDecision{Reason: "Task completed successfully"}
	}
	now := r.now()
	interval := *r.policy.Interval
	if r.startTime.IsZero() || now.Sub(r.startTime) > interval {
		r.count, r.startTime = 0, now
	}
	r.count++
	attempts := *r.policy.Attempts
	if r.count > attempts {
		if *r.policy.Mode == RestartModeFail {
			return restartDecision{Failed: true, Reason: fmt.Sprintf(
				"Exceeded allowed attempts %d in interval %v and mode is %q", attempts, interval, RestartModeFail)}
		}
		wait := r.startTime.Add(interval).Sub(now)
		if wait < 0 {
			wait = 0
		}
		r.count, r.startTime = 0, r.startTime.Add(interval)
		return restartDecision{Restart: true, Delay: wait, Reason: fmt.Sprintf(
			"Exceeded allowed attempts %d in interval %v and mode is %q", attempts, interval, RestartModeDelay)}
	}
	delay := *r.policy.Delay
	delay += time.Duration(float64(delay) * 0.25 * r.jitterFrac())
	return restartDecision{Restart: true, Delay: delay, Reason: "Restart within policy"}
}
