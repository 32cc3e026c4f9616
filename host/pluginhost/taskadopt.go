package pluginhost

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"nomad_iis/gen/driverpb"
)

// Adopt gives a new runner the state of a task that an earlier agent
// process started: handle is what that agent persisted after StartTask (its
// Config is the TaskConfig of that start: task id, env, FIFO paths). Adopt
// reopens the task's log FIFOs as logmon does after an agent restart; call
// Recover(ctx, true) next so the plugin re-attaches to the task.
func (t *TaskRunner) Adopt(handle *driverpb.TaskHandle) error {
	if handle == nil || handle.GetConfig().GetId() == "" {
		return errors.New("adopt: the handle has no task config or task id")
	}
	logs, err := ReopenLogMon(t.alloc.dir.LogDir(), t.spec.Name)
	if err != nil {
		return fmt.Errorf("log collector: %w", err)
	}
	handle = proto.Clone(handle).(*driverpb.TaskHandle)
	t.closeLogs()
	t.mu.Lock()
	t.handle, t.config, t.env, t.logs = handle, handle.Config, handle.Config.GetEnv(), logs
	t.mu.Unlock()
	return nil
}
