package agent

import (
	"time"

	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

// pumpEvents copies the plugin's TaskEvents stream into the tasks' event
// histories as "Driver" events, following the current plugin instance.
func (a *Agent) pumpEvents() {
	defer close(a.pumpDone)
	var drv *pluginhost.Driver
	cursor := 0
	for {
		cur := a.host.Driver()
		if cur != drv {
			drv, cursor = cur, 0
		}
		evs, changed := drv.Events.Since(cursor)
		cursor += len(evs)
		for _, ev := range evs {
			a.driverEvent(ev)
		}
		select {
		case <-a.pumpStop:
			return
		case <-changed:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// driverEvent records one driver event on its task, as the client's
// driver manager does (Type "Driver", annotations as Details).
func (a *Agent) driverEvent(ev *driverpb.DriverTaskEvent) {
	at := time.Now().UnixNano()
	if ts := ev.GetTimestamp(); ts != nil {
		at = ts.AsTime().UnixNano()
	}
	_, _ = a.store.UpdateAlloc(ev.GetAllocId(), func(r *allocRecord) bool {
		ts := r.Alloc.TaskStates[ev.GetTaskName()]
		if ts == nil {
			return false
		}
		appendEvent(ts, &TaskEvent{Type: EventDriverMessage, Time: at, Details: ev.GetAnnotations(),
			DriverMessage: ev.GetMessage(), DisplayMessage: ev.GetMessage()})
		return true
	})
}
