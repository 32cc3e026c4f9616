package tests

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"nomad_iis/gen/pstructs"
	"nomad_iis/host/pluginhost"
)

// A failed StartTask tells Nomad whether a retry may succeed: Nomad's driver
// client (plugins/drivers/client.go) turns a RecoverableError in the first
// status detail into a structs.RecoverableError, and the task runner
// restarts the task by its restart policy only when it is recoverable. A
// start error without the detail counts as unrecoverable.

// nomadRecoverable is what Nomad's client reads from a failed StartTask:
// found is false when the first detail is not a RecoverableError.
func nomadRecoverable(err error) (recoverable, found bool) {
	details := status.Convert(err).Details()
	if len(details) == 0 {
		return false, false
	}
	rec, ok := details[0].(*pstructs.RecoverableError)
	if !ok {
		return false, false
	}
	return rec.GetRecoverable(), true
}

// startFails starts the task and returns its error; a start that succeeds
// fails the test.
func startFails(t *testing.T, task *pluginhost.TaskRunner) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := task.Start(ctx)
	if err == nil {
		stop := ctxTimeout(t, 30*time.Second)
		_ = task.StopWith(stop, time.Second, "")
		_ = task.Destroy(stop, true)
		t.Fatal("StartTask succeeded")
	}
	if status.Code(err) == codes.Unimplemented {
		t.Skipf("StartTask is unimplemented: %v", err)
	}
	return err
}

func TestStartTaskSaysWhetherNomadMayRetry(t *testing.T) {
	const site = `{"application": [{"path": "local"}], "binding": [{"type": "http", "port": "httplabel"}]}`
	e := newSiteEnv(t, site)
	newTask := func(name, config string) *pluginhost.TaskRunner {
		task, err := e.alloc.NewTask(pluginhost.TaskSpec{Name: name, Config: []byte(config)})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}

	t.Run("a port in use is recoverable, and the retry succeeds once it is free", func(t *testing.T) {
		held, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", e.port))
		if err != nil {
			t.Fatal(err)
		}
		err = startFails(t, e.task)
		held.Close()
		if code := status.Code(err); code != codes.FailedPrecondition {
			t.Errorf("code %v, want FailedPrecondition: %v", code, err)
		}
		if !strings.Contains(status.Convert(err).Message(), "address already in use") {
			t.Errorf("the error does not say why: %v", err)
		}
		if rec, found := nomadRecoverable(err); !found || !rec {
			t.Errorf("RecoverableError found=%v recoverable=%v, want a recoverable one: %v", found, rec, err)
		}
		e.start(t) // what Nomad's restart does: a new StartTask
		if code, body, err := getEventually(e.url("/"), 10*time.Second); err != nil || code != 200 {
			t.Errorf("GET / after the retry: %d %q %v", code, body, err)
		}
	})

	t.Run("a web.config the site cannot serve is not recoverable", func(t *testing.T) {
		task := newTask("badconfig", site)
		writeFile(t, filepath.Join(task.Dir().LocalDir, "web.config"), "<configuration><system.webServer>")
		err := startFails(t, task)
		if code := status.Code(err); code != codes.InvalidArgument {
			t.Errorf("code %v, want InvalidArgument: %v", code, err)
		}
		if !strings.Contains(status.Convert(err).Message(), "web.config") {
			t.Errorf("the error does not name web.config: %v", err)
		}
		if rec, found := nomadRecoverable(err); !found || rec {
			t.Errorf("RecoverableError found=%v recoverable=%v, want an unrecoverable one: %v", found, rec, err)
		}
	})

	t.Run("a binding without its port label is not recoverable", func(t *testing.T) {
		task := newTask("badlabel", `{"application": [{"path": "local"}], "binding": [{"type": "http", "port": "nolabel"}]}`)
		err := startFails(t, task)
		if code := status.Code(err); code != codes.InvalidArgument {
			t.Errorf("code %v, want InvalidArgument: %v", code, err)
		}
		if !strings.Contains(status.Convert(err).Message(), "nolabel") {
			t.Errorf("the error does not name the label: %v", err)
		}
		if rec, found := nomadRecoverable(err); !found || rec {
			t.Errorf("RecoverableError found=%v recoverable=%v, want an unrecoverable one: %v", found, rec, err)
		}
	})
}
