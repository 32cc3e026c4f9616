package agent

import (
	"sync"
	"time"
)

// periodicRunner launches periodic jobs on time, as Nomad's periodic
// dispatcher: the next launch follows the job's cron specs in its time
// zone from the last launch (or the job's submission); a launch missed
// while the agent was down runs once at start; with prohibit_overlap a
// launch is skipped while a child still runs.
type periodicRunner struct {
	a    *Agent
	kick chan struct{}
	quit chan struct{}
	done chan struct{}

	mu sync.Mutex
	// skipped is the last launch time passed over (overlap) per job.
	skipped map[JobKey]time.Time
	started bool
	once    sync.Once
}

func newPeriodicRunner(a *Agent) *periodicRunner {
	return &periodicRunner{a: a, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		skipped: map[JobKey]time.Time{}}
}

func (p *periodicRunner) start() {
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	go p.loop()
}

func (p *periodicRunner) stop() {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if !started {
		return
	}
	p.once.Do(func() { close(p.quit) })
	<-p.done
}

// Kick makes the runner look at the jobs again (a job was registered,
// changed or stopped).
func (p *periodicRunner) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// nextLaunch is a periodic job's next launch after its last one.
func (p *periodicRunner) nextLaunch(key JobKey, j *Job) (time.Time, error) {
	base := time.Unix(0, j.SubmitTime)
	if last := p.a.store.LastLaunch(key); last.After(base) {
		base = last
	}
	p.mu.Lock()
	if s := p.skipped[key]; s.After(base) {
		base = s
	}
	p.mu.Unlock()
	return j.Periodic.next(base)
}

func (p *periodicRunner) loop() {
	defer close(p.done)
	for {
		wait := p.launchDue(time.Now())
		var t *time.Timer
		var fire <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			fire = t.C
		}
		quit := false
		select {
		case <-p.quit:
			quit = true
		case <-p.kick:
		case <-fire:
		}
		if t != nil {
			t.Stop()
		}
		if quit {
			return
		}
	}
}

// launchDue launches every job whose next launch has come and returns the
// time until the next one (0: none).
func (p *periodicRunner) launchDue(now time.Time) time.Duration {
	var soonest time.Duration
	for _, key := range p.a.store.JobKeys() {
		j, _ := p.a.store.Job(key)
		if j == nil || !j.IsPeriodicActive() {
			continue
		}
		next, err := p.nextLaunch(key, j)
		if err != nil || next.IsZero() {
			continue
		}
		if next.After(now) {
			if d := next.Sub(now); soonest == 0 || d < soonest {
				soonest = d
			}
			continue
		}
		p.launch(key, j, next)
		if again, err := p.nextLaunch(key, j); err == nil && !again.IsZero() {
			if d := again.Sub(now); d > 0 && (soonest == 0 || d < soonest) {
				soonest = d
			} else if d <= 0 {
				soonest = time.Millisecond
			}
		}
	}
	return soonest
}

func (p *periodicRunner) launch(key JobKey, j *Job, at time.Time) {
	a := p.a
	if j.Periodic.ProhibitOverlap != nil && *j.Periodic.ProhibitOverlap && a.store.RunningChildren(key) {
		a.log.Debug("skipping launch of periodic job because job prohibits overlap", "job", key.String())
		p.mu.Lock()
		p.skipped[key] = at
		p.mu.Unlock()
		return
	}
	// A launch missed while the agent was down runs now, once.
	if now := time.Now(); now.Sub(at) > time.Minute {
		at = now
	}
	child, _, err := a.store.LaunchPeriodic(key, at)
	if err != nil {
		a.log.Warn("periodic launch failed", "job", key.String(), "error", err)
		return
	}
	a.log.Info("launched periodic job", "job", key.String(), "child", child.ID)
	a.sched.Enqueue(JobKey{child.Namespace, child.ID})
}
