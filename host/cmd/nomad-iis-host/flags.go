package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"nomad_iis/host/pluginhost"
)

// usageError is a command line mistake (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// common holds the flags every command has.
type common struct {
	plugin   string
	logLevel string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.plugin, "plugin", "", "path of the plugin binary (required)")
	fs.StringVar(&c.logLevel, "log-level", "info", "host and plugin log level on stderr: trace|debug|info|warn|error|off")
}

// launchOptions validates the flags and builds the plugin launch options;
// args after "--" go to the plugin.
func (c *common) launchOptions(fs *flag.FlagSet) (pluginhost.LaunchOptions, error) {
	if c.plugin == "" {
		return pluginhost.LaunchOptions{}, usagef("--plugin is required")
	}
	level := hclog.LevelFromString(c.logLevel)
	if level == hclog.NoLevel {
		return pluginhost.LaunchOptions{}, usagef("bad --log-level %q", c.logLevel)
	}
	return pluginhost.LaunchOptions{
		Path:   c.plugin,
		Args:   fs.Args(),
		Logger: hclog.New(&hclog.LoggerOptions{Name: "host", Level: level, Output: os.Stderr}),
	}, nil
}

// jsonArg reads a JSON flag value: inline text or "@file".
func jsonArg(name, value string) ([]byte, error) {
	if value == "" {
		return nil, nil
	}
	var b []byte
	if strings.HasPrefix(value, "@") {
		var err error
		if b, err = os.ReadFile(value[1:]); err != nil {
			return nil, usagef("--%s: %v", name, err)
		}
	} else {
		b = []byte(value)
	}
	if !json.Valid(b) {
		return nil, usagef("--%s is not valid JSON", name)
	}
	return b, nil
}

// portsFlag collects repeated --port label=N[@ip] values.
type portsFlag []pluginhost.Port

func (p *portsFlag) String() string { return fmt.Sprint(*p) }

func (p *portsFlag) Set(s string) error {
	port, err := pluginhost.ParsePort(s)
	if err != nil {
		return err
	}
	*p = append(*p, port)
	return nil
}

// protoJSON renders a protobuf message as a JSON value for embedding.
func protoJSON(m proto.Message) json.RawMessage {
	if m == nil {
		return json.RawMessage("null")
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", err.Error()))
	}
	return b
}

func printJSON(v interface{}) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
