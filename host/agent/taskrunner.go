package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// taskStart says where a task runner begins.
type taskStart int

const (
	// startFresh is a task of a new allocation.
	startFresh taskStart = iota
	// startAgain starts a task that has no running process to recover.
	startAgain
	// startRecover recovers the task from its persisted handle.
	startRecover
	// startNone leaves a dead task alone.
	startNone
)

// taskRunner drives one task of an allocation: start, wait, restart
// policy, kill, and recovery after a plugin crash or an agent restart.
type taskRunner struct {
	r        *allocRunner
	name     string
	task     *Task
	ptr      *pluginhost.TaskRunner
	restarts *restartTracker

	artifactsDone bool
	payloadDone   bool
	// live is 1 while the plugin runs the task (after a start or recovery,
	// until it exited or was killed).
	live int32
}

func newTaskRunner(r *allocRunner, t *Task, ptr *pluginhost.TaskRunner) *taskRunner {
	return &taskRunner{r: r, name: t.Name, task: t, ptr: ptr, restarts: newRestartTracker(t.RestartPolicy, r.job.Type)}
}

// outcome is how a wait ended.
type outcome int

const (
	outAbandon outcome = iota
	outKilled
	outExited
)

type waitResult struct {
	res       *driverpb.WaitTaskResponse
	err       error
	abandoned bool
}

func (t *taskRunner) update(fn func(ts *TaskState, tr *taskRecord)) { t.r.update(t.name, fn) }

func (t *taskRunner) event(ev *TaskEvent) {
	t.update(func(ts *TaskState, tr *taskRecord) { appendEvent(ts, ev) })
}

func (t *taskRunner) run(mode taskStart) {
	if mode == startNone {
		return
	}
	if mode == startFresh {
		t.event(&TaskEvent{Type: EventReceived, DisplayMessage: "Task received by client"})
		t.event(&TaskEvent{Type: EventSetup, Message: "Building Task Directory", DisplayMessage: "Building Task Directory"})
	} else {
		t.artifactsDone = true
	}
	running := mode == startRecover && t.recover()
	for {
		if !running {
			if t.r.killed() {
				t.markDead(nil)
				return
			}
			started, stop := t.start()
			if stop {
				return
			}
			if !started {
				if !t.afterEnd(false) {
					return
				}
				continue
			}
		}
		running = false
		success, out := t.waitOrKill()
		if out != outExited || !t.afterEnd(success) {
			return
		}
	}
}

// recover re-attaches to the task the previous agent run started.
func (t *taskRunner) recover() bool {
	a := t.r.a
	h := &driverpb.TaskHandle{}
	err := proto.Unmarshal(t.r.rec.Tasks[t.name].Handle, h)
	if err == nil {
		err = t.ptr.Adopt(h)
	}
	if err == nil {
		if err = a.mon.waitHealthy(a.ctx); err == nil {
			err = t.ptr.Recover(a.ctx, true)
		}
	}
	if err != nil {
		if a.ctx.Err() != nil {
			return false
		}
		a.log.Warn("task could not be recovered; starting it again", "alloc", t.r.id, "task", t.name, "error", err)
		t.update(func(ts *TaskState, tr *taskRecord) {
			tr.Handle = nil
			ts.State = TaskStatePending
			appendEvent(ts, &TaskEvent{Type: EventRestoreFailed, DriverError: err.Error(),
				DisplayMessage: "failed to restore task: " + err.Error()})
		})
		return false
	}
	atomic.StoreInt32(&t.live, 1)
	a.log.Debug("task recovered", "alloc", t.r.id, "task", t.name)
	return true
}

// start fetches artifacts, checks the config and calls StartTask. stop is
// true when the runner must end (agent exit, or a config that can never
// work).
func (t *taskRunner) start() (started, stop bool) {
	a := t.r.a
	if !t.payloadDone {
		if err := t.writeDispatchPayload(); err != nil {
			t.event(&TaskEvent{Type: EventSetupFailure, SetupError: err.Error(),
				DisplayMessage: "failed to write the dispatch payload: " + err.Error()})
			return false, false
		}
		t.payloadDone = true
	}
	if !t.artifactsDone {
		if err := t.fetchArtifacts(); err != nil {
			t.event(&TaskEvent{Type: EventArtifactFailed, DownloadError: err.Error(),
				DisplayMessage: "failed to download artifacts: " + err.Error()})
			return false, false
		}
		t.artifactsDone = true
	}
	if err := a.mon.waitHealthy(a.ctx); err != nil {
		return false, true
	}
	if _, err := t.ptr.Prepare(a.ctx); err != nil {
		if a.ctx.Err() != nil {
			return false, true
		}
		if transportError(err) {
			t.event(&TaskEvent{Type: EventDriverFailure, DriverError: err.Error(), DisplayMessage: err.Error()})
			return false, false
		}
		t.update(func(ts *TaskState, tr *taskRecord) {
			ts.State, ts.Failed, ts.FinishedAt = TaskStateDead, true, time.Now().UTC()
			appendEvent(ts, &TaskEvent{Type: EventFailedValidation, ValidationError: err.Error(), FailsTask: true,
				DisplayMessage: err.Error()})
		})
		t.r.onTaskDead(t, true)
		return false, true
	}
	select {
	case a.startSem <- struct{}{}:
	case <-a.ctx.Done():
		return false, true
	}
	// Not cancelled by the agent's exit: a task the plugin started must
	// get its handle persisted, or a restarted agent could not recover it.
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
	_, err := t.ptr.Start(sctx)
	scancel()
	<-a.startSem
	if err != nil {
		if a.ctx.Err() != nil {
			return false, true
		}
		a.log.Warn("StartTask failed", "alloc", t.r.id, "task", t.name, "error", err)
		t.event(&TaskEvent{Type: EventDriverFailure, DriverError: err.Error(), DisplayMessage: err.Error()})
		if !transportError(err) && !startErrorRecoverable(err) {
			// As Nomad's task runner: the restart policy applies to
			// recoverable start errors only; this one fails the task.
			t.update(func(ts *TaskState, tr *taskRecord) {
				tr.Handle = nil
				appendEvent(ts, &TaskEvent{Type: EventNotRestarting, RestartReason: reasonUnrecoverable,
					FailsTask: true, DisplayMessage: reasonUnrecoverable})
				ts.State, ts.Failed, ts.FinishedAt = TaskStateDead, true, time.Now().UTC()
			})
			t.r.onTaskDead(t, true)
			return false, true
		}
		return false, false
	}
	handle, err := proto.Marshal(t.ptr.Handle())
	if err != nil {
		handle = nil
	}
	atomic.StoreInt32(&t.live, 1)
	t.update(func(ts *TaskState, tr *taskRecord) {
		tr.Handle, tr.StoppedByHost = handle, false
		ts.State, ts.Failed, ts.StartedAt, ts.FinishedAt = TaskStateRunning, false, time.Now().UTC(), time.Time{}
		appendEvent(ts, &TaskEvent{Type: EventStarted, DisplayMessage: "Task started by client"})
	})
	// Like the client's state DB: the handle is on disk before we go on.
	if err := a.persist.Sync(); err != nil {
		a.log.Error("writing state failed", "error", err)
	}
	return true, false
}

// writeDispatchPayload writes a dispatched job's payload to the task's
// dispatch_payload file under local/, as Nomad's dispatch hook does. The
// task dir is the task's to change: the write goes through an os.Root so
// that no symlink in it leads out of local/.
func (t *taskRunner) writeDispatchPayload() error {
	dp := t.task.DispatchPayload
	if dp == nil || dp.File == "" || !t.r.job.Dispatched {
		return nil
	}
	if escapesTaskDir(dp.File) {
		return fmt.Errorf("dispatch payload file %q escapes the task's local dir", dp.File)
	}
	root, err := os.OpenRoot(filepath.Join(t.ptr.Dir().Dir, "local"))
	if err != nil {
		return err
	}
	defer root.Close()
	if dir := filepath.Dir(filepath.Clean(dp.File)); dir != "." {
		if err := root.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	}
	return root.WriteFile(filepath.Clean(dp.File), t.r.job.Payload, 0o666)
}

func (t *taskRunner) fetchArtifacts() error {
	if len(t.task.Artifacts) == 0 {
		return nil
	}
	t.event(&TaskEvent{Type: EventDownloading, DisplayMessage: "Client is downloading artifacts"})
	palloc := t.r.palloc
	env := pluginhost.BuildTaskEnv(palloc.Options(), palloc.Dir(), t.ptr.Spec())
	for _, art := range t.task.Artifacts {
		if err := fetchArtifact(art, t.ptr.Dir().Dir, env); err != nil {
			return err
		}
	}
	return nil
}

// waitOrKill waits for the task to exit, kills it when the allocation is
// stopped, or abandons it when the agent exits.
func (t *taskRunner) waitOrKill() (bool, outcome) {
	a := t.r.a
	waitCtx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	results := make(chan waitResult, 1)
	go t.waitLoop(waitCtx, results)
	select {
	case res := <-results:
		if res.abandoned {
			return false, outAbandon
		}
		return t.exited(res), outExited
	case <-t.r.killCh:
		t.kill(results)
		return false, outKilled
	case <-a.ctx.Done():
		return false, outAbandon
	}
}

// waitLoop calls WaitTask until it answers; when the plugin went away it
// waits for the re-dispensed plugin (which recovered the task) and asks
// again.
func (t *taskRunner) waitLoop(ctx context.Context, out chan<- waitResult) {
	mon := t.r.a.mon
	for {
		epoch := mon.epoch()
		res, err := t.ptr.Wait(ctx)
		switch {
		case err == nil:
			out <- waitResult{res: res}
			return
		case ctx.Err() != nil:
			out <- waitResult{abandoned: true}
			return
		case transportError(err):
			mon.waitAfter(ctx, epoch, 3*time.Second)
		default:
			out <- waitResult{err: err}
			return
		}
	}
}

// transportError reports a failed call to a plugin that went away.
func transportError(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled:
		return true
	}
	return false
}

// exited records a task that ended on its own and destroys it in the
// plugin; it returns whether it ended successfully.
func (t *taskRunner) exited(res waitResult) bool {
	atomic.StoreInt32(&t.live, 0)
	r := res.res.GetResult()
	errText := res.res.GetErr()
	if res.err != nil {
		errText = res.err.Error()
	}
	msg := fmt.Sprintf("Exit Code: %d", r.GetExitCode())
	if r.GetSignal() != 0 {
		msg += fmt.Sprintf(", Signal: %d", r.GetSignal())
	}
	if r.GetOomKilled() {
		msg += ", OOM Killed"
	}
	if errText != "" {
		msg += ", Exit Message: " + strconv.Quote(errText)
	}
	t.update(func(ts *TaskState, tr *taskRecord) {
		tr.Handle = nil
		appendEvent(ts, &TaskEvent{Type: EventTerminated, ExitCode: int(r.GetExitCode()), Signal: int(r.GetSignal()),
			DisplayMessage: msg, Details: map[string]string{
				"exit_code": strconv.Itoa(int(r.GetExitCode())), "signal": strconv.Itoa(int(r.GetSignal())),
				"oom_killed": strconv.FormatBool(r.GetOomKilled()), "exit_message": errText}})
	})
	t.destroy()
	return r.GetExitCode() == 0 && r.GetSignal() == 0 && errText == ""
}

func (t *taskRunner) destroy() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := t.ptr.Destroy(ctx, true); err != nil {
		t.r.a.log.Debug("DestroyTask", "alloc", t.r.id, "task", t.name, "error", err)
	}
}

// kill stops the task with its kill_timeout and kill_signal, waits for it
// and destroys it.
func (t *taskRunner) kill(results <-chan waitResult) {
	a := t.r.a
	reason, _ := t.r.killInfo()
	spec := t.ptr.Spec()
	t.event(&TaskEvent{Type: EventKilling, KillTimeout: spec.KillTimeout, KillReason: reason,
		DisplayMessage: fmt.Sprintf("Sent interrupt. Waiting %v before force killing", spec.KillTimeout)})
	ctx, cancel := context.WithTimeout(context.Background(), spec.KillTimeout+2*time.Minute)
	defer cancel()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		epoch := a.mon.epoch()
		if err = t.ptr.Stop(ctx); err == nil || !transportError(err) {
			break
		}
		a.mon.waitAfter(ctx, epoch, 5*time.Second)
	}
	if err != nil {
		a.log.Warn("StopTask failed", "alloc", t.r.id, "task", t.name, "error", err)
	}
	select {
	case <-results:
	case <-time.After(spec.KillTimeout + 15*time.Second):
		a.log.Warn("WaitTask did not return after StopTask", "alloc", t.r.id, "task", t.name)
	}
	atomic.StoreInt32(&t.live, 0)
	t.destroy()
	t.markDead(err)
}

// markDead records a task stopped on purpose.
func (t *taskRunner) markDead(killErr error) {
	_, hostExit := t.r.killInfo()
	t.update(func(ts *TaskState, tr *taskRecord) {
		tr.Handle, tr.StoppedByHost = nil, hostExit
		ev := &TaskEvent{Type: EventKilled, DisplayMessage: "Task successfully killed"}
		if killErr != nil {
			ev.KillError, ev.DisplayMessage = killErr.Error(), "Task killed: "+killErr.Error()
		}
		if ts.State != TaskStatePending || len(ts.Events) > 0 {
			appendEvent(ts, ev)
		}
		ts.State, ts.FinishedAt = TaskStateDead, time.Now().UTC()
	})
	t.r.onTaskDead(t, false)
}

// afterEnd applies the restart policy after a failed start or an exit and
// returns whether to start again.
func (t *taskRunner) afterEnd(success bool) bool {
	dec := t.restarts.Decide(success)
	if !dec.Restart {
		t.update(func(ts *TaskState, tr *taskRecord) {
			tr.Handle = nil
			if dec.Failed {
				appendEvent(ts, &TaskEvent{Type: EventNotRestarting, RestartReason: dec.Reason, FailsTask: true,
					DisplayMessage: dec.Reason})
			}
			ts.State, ts.Failed, ts.FinishedAt = TaskStateDead, dec.Failed, time.Now().UTC()
		})
		t.r.onTaskDead(t, dec.Failed)
		return false
	}
	t.update(func(ts *TaskState, tr *taskRecord) {
		appendEvent(ts, &TaskEvent{Type: EventRestarting, RestartReason: dec.Reason, StartDelay: int64(dec.Delay),
			DisplayMessage: fmt.Sprintf("Task restarting in %v", dec.Delay.Round(time.Millisecond))})
		ts.State, ts.Restarts, ts.LastRestart = TaskStatePending, ts.Restarts+1, time.Now().UTC()
	})
	select {
	case <-time.After(dec.Delay):
		return true
	case <-t.r.killCh:
		t.markDead(nil)
		return false
	case <-t.r.a.ctx.Done():
		return false
	}
}

// recoverAfterCrash calls RecoverTask with the in-memory handle (what the
// client does when a plugin was re-dispensed).
func (t *taskRunner) recoverAfterCrash(ctx context.Context) error {
	if atomic.LoadInt32(&t.live) == 0 {
		return nil
	}
	return t.ptr.Recover(ctx, false)
}
