package agent

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// jobActions is GET /v1/job/:id/actions: every task's actions with their
// task and group. As Nomad's, an unknown job is a 500 `Unknown job "id"`
// and the answer carries no index.
func (a *Agent) jobActions(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	if r.Method != http.MethodGet {
		return nil, errMethod
	}
	j, _ := a.store.Job(key)
	if j == nil {
		return nil, fmt.Errorf("Unknown job %q", key.ID)
	}
	out := []*JobAction{}
	for _, g := range j.TaskGroups {
		for _, t := range g.Tasks {
			for _, act := range t.Actions {
				out = append(out, &JobAction{Action: *act, TaskName: t.Name, TaskGroupName: g.Name})
			}
		}
	}
	setIndex(w, 0)
	return out, nil
}

var wsUpgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// jobRunAction is /v1/job/:id/action (a websocket, as `nomad action` and
// the client's Jobs().ActionExec open it): it checks the request as
// Nomad's client does and runs the action's command through the plugin's
// ExecTaskStreaming, relaying its frames (exec_relay.go). Every error
// closes the socket as Nomad's does (1011 for a 500, 1008 otherwise) with
// Nomad's message; the plugin's own error is passed on as it comes.
func (a *Agent) jobRunAction(w http.ResponseWriter, r *http.Request, key JobKey) (interface{}, error) {
	return a.serveExec(w, r, func() (string, []string, error) { return a.actionTarget(r, key) },
		r.URL.Query().Get("tty") == "true")
}

// readWsHandshake reads the optional first message (?ws_handshake=true)
// that carries a browser's token; this host has no ACLs, so only its
// version is checked.
func readWsHandshake(conn *websocket.Conn, r *http.Request) error {
	hv := r.URL.Query().Get("ws_handshake")
	if hv == "" {
		return nil
	}
	h, err := strconv.ParseBool(hv)
	if err != nil {
		return fmt.Errorf("ws_handshake value is not a boolean: %v", err)
	}
	if !h {
		return nil
	}
	var msg struct {
		Version   int    `json:"version"`
		AuthToken string `json:"auth_token"`
	}
	if err := conn.ReadJSON(&msg); err != nil {
		return err
	}
	if msg.Version != 1 {
		return fmt.Errorf("unexpected handshake value: %v", msg.Version)
	}
	return nil
}

// closeWs sends Nomad's close frame for an HTTP status and message. A
// control frame carries at most 125 bytes, the code's two included: a
// longer message is cut at a character boundary, or no frame would go.
func closeWs(conn *websocket.Conn, code int, msg string) {
	ws := websocket.ClosePolicyViolation
	if code == http.StatusInternalServerError {
		ws = websocket.CloseInternalServerErr
	}
	const maxText = 123
	if len(msg) > maxText {
		cut := maxText
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(ws, msg))
}

// actionTarget resolves ?allocID, ?task and ?action in Nomad's order with
// its codes and messages: the plugin's task and the action's command.
func (a *Agent) actionTarget(r *http.Request, key JobKey) (string, []string, error) {
	q := r.URL.Query()
	if tty := q.Get("tty"); tty != "" {
		if _, err := strconv.ParseBool(tty); err != nil {
			return "", nil, fmt.Errorf("tty value is not a boolean: %v", err)
		}
	}
	allocID, taskName, action := q.Get("allocID"), q.Get("task"), q.Get("action")
	if allocID == "" {
		return "", nil, coded(http.StatusBadRequest, "must provide a valid alloc id")
	}
	al, _ := a.store.Alloc(allocID)
	if al == nil {
		return "", nil, coded(http.StatusNotFound, "Unknown allocation %q", allocID)
	}
	if taskName == "" {
		return "", nil, coded(http.StatusBadRequest, "must provide task name")
	}
	if al.JobID != key.ID || al.Namespace != key.Namespace {
		return "", nil, coded(http.StatusBadRequest, "job %s does not have allocation %s", key.ID, allocID)
	}
	task := allocTask(al, taskName)
	if task == nil {
		return "", nil, coded(http.StatusBadRequest, "task %s not found in allocation %s", taskName, allocID)
	}
	var cmd []string
	for _, act := range task.Actions {
		if act.Name == action {
			cmd = append([]string{act.Command}, act.Args...)
		}
	}
	if cmd == nil {
		return "", nil, coded(http.StatusBadRequest, "action %s not found in task %s", action, taskName)
	}
	taskID, err := a.runningTask(al, taskName)
	return taskID, cmd, err
}

// allocTask is the allocation's task of that name, from its job.
func allocTask(al *Allocation, name string) *Task {
	if al.Job == nil {
		return nil
	}
	if g := groupOf(al.Job, al.TaskGroup); g != nil {
		for _, t := range g.Tasks {
			if t.Name == name {
				return t
			}
		}
	}
	return nil
}

// liveTaskID is the plugin's task ID of a running task ("" if not running).
func (a *Agent) liveTaskID(allocID, task string) string {
	ar := a.runner(allocID)
	if ar == nil {
		return ""
	}
	for _, t := range ar.taskRunners() {
		if t.name == task && atomic.LoadInt32(&t.live) == 1 {
			return t.ptr.TaskID()
		}
	}
	return ""
}
