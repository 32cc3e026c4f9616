package pluginhost

import (
	"fmt"

	hclog "github.com/hashicorp/go-hclog"
)

// quietArgs is the logger handed to go-plugin: go-plugin logs the plugin's
// whole command line ("starting plugin ... args=[...]") at debug level, and
// plugin arguments may carry secrets (--management-api-key=...). Every
// "args" value is replaced by how many there were; nothing else changes.
type quietArgs struct {
	hclog.Logger
}

func withoutArgs(l hclog.Logger) hclog.Logger {
	if _, ok := l.(quietArgs); ok {
		return l
	}
	return quietArgs{l}
}

// scrub returns kv with the value of every "args" key replaced.
func scrub(kv []interface{}) []interface{} {
	var out []interface{}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); !ok || k != "args" {
			continue
		}
		if out == nil {
			out = append([]interface{}(nil), kv...)
		}
		switch v := kv[i+1].(type) {
		case []string:
			out[i+1] = fmt.Sprintf("(%d, not logged)", len(v))
		default:
			out[i+1] = "(not logged)"
		}
	}
	if out == nil {
		return kv
	}
	return out
}

func (q quietArgs) Log(level hclog.Level, msg string, args ...interface{}) {
	q.Logger.Log(level, msg, scrub(args)...)
}
func (q quietArgs) Trace(msg string, args ...interface{}) { q.Logger.Trace(msg, scrub(args)...) }
func (q quietArgs) Debug(msg string, args ...interface{}) { q.Logger.Debug(msg, scrub(args)...) }
func (q quietArgs) Info(msg string, args ...interface{})  { q.Logger.Info(msg, scrub(args)...) }
func (q quietArgs) Warn(msg string, args ...interface{})  { q.Logger.Warn(msg, scrub(args)...) }
func (q quietArgs) Error(msg string, args ...interface{}) { q.Logger.Error(msg, scrub(args)...) }

func (q quietArgs) With(args ...interface{}) hclog.Logger {
	return quietArgs{q.Logger.With(scrub(args)...)}
}
func (q quietArgs) Named(name string) hclog.Logger      { return quietArgs{q.Logger.Named(name)} }
func (q quietArgs) ResetNamed(name string) hclog.Logger { return quietArgs{q.Logger.ResetNamed(name)} }
