package pluginhost

import (
	"bytes"
	"strings"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
)

// TestLoggerNeverShowsArgs: what go-plugin logs through a launch logger
// keeps every field but the plugin's arguments, also on derived loggers.
func TestLoggerNeverShowsArgs(t *testing.T) {
	var out bytes.Buffer
	l := LaunchOptions{Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &out})}.logger()
	args := []string{"/bin/plugin", "--management-api-key=s3cret", "--log-level=debug"}
	l.Debug("starting plugin", "path", "/bin/plugin", "args", args)
	l.Named("driver").With("args", args).Info("again")
	l.Log(hclog.Warn, "and again", "args", args, "pid", 42)
	got := out.String()
	if strings.Contains(got, "s3cret") || strings.Contains(got, "--log-level") {
		t.Errorf("the arguments were logged:\n%s", got)
	}
	for _, want := range []string{"path=/bin/plugin", "pid=42", "(3, not logged)", "driver"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q is missing:\n%s", want, got)
		}
	}
}
