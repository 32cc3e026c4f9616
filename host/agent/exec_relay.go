package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
	nomadapi "github.com/hashicorp/nomad/api"

	"nomad_iis/gen/driverpb"
)

// allocExec is /v1/client/allocation/:id/exec (a websocket, as `nomad alloc
// exec` and the client's Allocations().Exec open it): the command runs in
// the task through the plugin's ExecTaskStreaming, its frames relayed as
// Nomad's client relays them.
func (a *Agent) allocExec(w http.ResponseWriter, r *http.Request, allocID string) (interface{}, error) {
	q := r.URL.Query()
	var command []string
	if err := json.Unmarshal([]byte(q.Get("command")), &command); err != nil {
		return nil, fmt.Errorf("failed to marshal command into json: %v", err)
	}
	tty := false
	if v := q.Get("tty"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("tty value is not a boolean: %v", err)
		}
		tty = b
	}
	return a.serveExec(w, r, func() (string, []string, error) {
		taskID, err := a.execTarget(allocID, q.Get("task"), command)
		return taskID, command, err
	}, tty)
}

// serveExec is an exec websocket as Nomad's agent serves one: upgrade, the
// optional browser handshake, then `resolve` (the plugin's task and the
// command) and the relay; every error closes the socket with Nomad's code
// and message.
func (a *Agent) serveExec(w http.ResponseWriter, r *http.Request,
	resolve func() (string, []string, error), tty bool) (interface{}, error) {
	if !websocket.IsWebSocketUpgrade(r) {
		return nil, errors.New("websocket connection not found in context")
	}
	conn, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to upgrade connection: %v", err)
	}
	defer conn.Close()
	if err := readWsHandshake(conn, r); err != nil {
		closeWs(conn, http.StatusBadRequest, err.Error())
		return rawResponse(func(http.ResponseWriter) {}), nil
	}
	taskID, cmd, err := resolve()
	if err == nil {
		err = a.relayExec(r.Context(), conn, taskID, cmd, tty)
	}
	if err != nil {
		code, msg := errorCode(err)
		closeWs(conn, code, msg)
	}
	return rawResponse(func(http.ResponseWriter) {}), nil
}

// execTarget checks an exec request in Nomad's client's order, with its
// codes and messages, and names the plugin's task.
func (a *Agent) execTarget(allocID, task string, command []string) (string, error) {
	if task == "" {
		return "", coded(http.StatusBadRequest, "must provide task name")
	}
	if len(command) == 0 {
		return "", coded(http.StatusBadRequest, "command is not present")
	}
	al, _ := a.store.Alloc(allocID)
	if al == nil {
		return "", coded(http.StatusNotFound, "Unknown allocation %q", allocID)
	}
	return a.runningTask(al, task)
}

// runningTask is the plugin's ID of the allocation's task `name` while it runs.
func (a *Agent) runningTask(al *Allocation, name string) (string, error) {
	ts := al.TaskStates[name]
	if ts == nil {
		return "", coded(http.StatusBadRequest, "unknown task name %q", name)
	}
	if ts.StartedAt.IsZero() {
		return "", coded(http.StatusNotFound, "task %q not started yet.", name)
	}
	taskID := a.liveTaskID(al.ID, name)
	if taskID == "" {
		return "", coded(http.StatusNotFound, "task %q is not running.", name)
	}
	return taskID, nil
}

// relayExec runs `cmd` in the task through the plugin's ExecTaskStreaming
// (a setup message first, as Nomad's driver client sends it) and relays
// Nomad's exec frames both ways: stdin and terminal sizes from the socket,
// stdout, stderr and the exit code to it. The session ends with the
// command, or when the socket goes (the plugin then ends the command).
func (a *Agent) relayExec(ctx context.Context, conn *websocket.Conn, taskID string, cmd []string, tty bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := a.host.Client().Driver.ExecTaskStreaming(ctx)
	if err != nil {
		return err
	}
	setup := &driverpb.ExecTaskStreamingRequest_Setup{TaskId: taskID, Command: cmd, Tty: tty}
	if err := stream.Send(&driverpb.ExecTaskStreamingRequest{Setup: setup}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	go relayInput(conn, stream, cancel)
	for {
		out, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the plugin ended the exec session without an exit code")
			}
			return err
		}
		frame := outputFrame(out)
		if err := conn.WriteJSON(frame); err != nil {
			return nil // the client went away; cancel ends the command
		}
		if frame.Exited {
			_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			return nil
		}
	}
}

// relayInput feeds the socket's stdin and terminal sizes to the plugin
// until the socket ends, then cancels the session.
func relayInput(conn *websocket.Conn, stream driverpb.Driver_ExecTaskStreamingClient, cancel context.CancelFunc) {
	defer cancel()
	for {
		var in nomadapi.ExecStreamingInput
		if err := conn.ReadJSON(&in); err != nil {
			return
		}
		req := &driverpb.ExecTaskStreamingRequest{}
		switch {
		case in.Stdin != nil:
			req.Stdin = &driverpb.ExecTaskStreamingIOOperation{Data: in.Stdin.Data, Close: in.Stdin.Close}
		case in.TTYSize != nil:
			req.TtySize = &driverpb.ExecTaskStreamingRequest_TerminalSize{
				Height: int32(in.TTYSize.Height), Width: int32(in.TTYSize.Width)}
		default:
			continue // a heartbeat
		}
		if err := stream.Send(req); err != nil {
			return
		}
		if in.Stdin != nil && in.Stdin.Close {
			_ = stream.CloseSend()
		}
	}
}

// outputFrame is the plugin's answer as Nomad's exec frame.
func outputFrame(out *driverpb.ExecTaskStreamingResponse) nomadapi.ExecStreamingOutput {
	var f nomadapi.ExecStreamingOutput
	if s := out.GetStdout(); s != nil {
		f.Stdout = &nomadapi.ExecStreamingIOOperation{Data: s.Data, Close: s.Close}
	}
	if s := out.GetStderr(); s != nil {
		f.Stderr = &nomadapi.ExecStreamingIOOperation{Data: s.Data, Close: s.Close}
	}
	if out.GetExited() {
		f.Exited = true
		f.Result = &nomadapi.ExecStreamingExitResult{ExitCode: int(out.GetResult().GetExitCode())}
	}
	return f
}

// allocClientRequest routes /v1/client/allocation/:id/<op>.
func (a *Agent) allocClientRequest(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	rest := strings.TrimPrefix(r.URL.Path, "/v1/client/allocation/")
	id, op, _ := strings.Cut(rest, "/")
	if op != "exec" || id == "" {
		return nil, coded(http.StatusNotFound, "Invalid URL path")
	}
	return a.allocExec(w, r, id)
}
