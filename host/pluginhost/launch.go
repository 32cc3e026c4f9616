package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// LaunchOptions says how to start (or reattach to) a plugin binary.
type LaunchOptions struct {
	// Path of the plugin binary.
	Path string
	// Args are passed to the binary unchanged (agent config `args`) and are
	// never logged. Secrets belong in Env or in files, not here: every local
	// user can read a process's arguments.
	Args []string
	// Env is added to the host's environment for the plugin process.
	Env []string
	// Logger receives go-plugin's log and the plugin's stderr lines
	// (re-logged by level as a Nomad agent does). Nil discards them.
	Logger hclog.Logger
	// Stderr, if set, gets a raw copy of every plugin stderr line.
	Stderr io.Writer
	// StartTimeout bounds the wait for the handshake line (default 1 min).
	StartTimeout time.Duration
	// ProtocolVersion overrides the app protocol offered to the plugin
	// (PLUGIN_PROTOCOL_VERSIONS). Zero means Nomad's 2. Tests use it to check
	// that a plugin refuses a version it does not speak.
	ProtocolVersion int
}

// logger never logs the plugin's arguments (they may hold secrets).
func (o LaunchOptions) logger() hclog.Logger {
	if o.Logger != nil {
		return withoutArgs(o.Logger)
	}
	return hclog.NewNullLogger()
}

// Instance is one plugin process behind a go-plugin client.
type Instance struct {
	client   *plugin.Client
	rpc      *plugin.GRPCClient
	driver   *DriverClient
	reattach plugin.ReattachConfig
}

// KillResult reports how a plugin process ended after Kill.
type KillResult struct {
	// Graceful is true when the process exited by itself after
	// GRPCController/Shutdown, before go-plugin's 2 s SIGKILL deadline.
	Graceful bool
	// Elapsed is the time until the process was gone.
	Elapsed time.Duration
	// Hung is true when go-plugin's Kill did not return within 10 s of the
	// exit: it waits for EOF on the plugin's stdout/stderr pipes, so some
	// other process (a task?) inherited and still holds them.
	Hung bool
}

// driverPlugin is the go-plugin client side of a Nomad driver: it hands
// back our typed gRPC clients on the shared connection.
type driverPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (driverPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("pluginhost only implements the client side")
}

func (driverPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return NewDriverClient(conn), nil
}

func pluginSet() plugin.PluginSet {
	return plugin.PluginSet{PluginSetName: driverPlugin{}}
}

func clientConfig(opts LaunchOptions) *plugin.ClientConfig {
	hs := Handshake()
	if opts.ProtocolVersion != 0 {
		hs.ProtocolVersion = uint(opts.ProtocolVersion)
	}
	return &plugin.ClientConfig{
		HandshakeConfig: hs,
		// Plugins as well as VersionedPlugins: a reattach does not negotiate.
		Plugins:          pluginSet(),
		VersionedPlugins: map[int]plugin.PluginSet{int(hs.ProtocolVersion): pluginSet()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           opts.logger(),
		Stderr:           opts.Stderr,
		StartTimeout:     opts.StartTimeout,
		MinPort:          DefaultPluginMinPort,
		MaxPort:          DefaultPluginMaxPort,
	}
}

// Launch starts the plugin binary with go-plugin's client, exactly as the
// agent does (plain exec, the host's environment plus go-plugin's
// variables), completes the handshake and connects over gRPC. purpose is a
// short label for logs ("loader", "validate", "driver").
func Launch(opts LaunchOptions, purpose string) (*Instance, error) {
	cfg := clientConfig(opts)
	cmd := exec.Command(opts.Path, opts.Args...)
	cmd.Env = append(cmd.Env, opts.Env...)
	cfg.Cmd = cmd
	client := plugin.NewClient(cfg)
	inst, err := connect(client)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("launch %s (%s): %w", opts.Path, purpose, err)
	}
	return inst, nil
}

// Reattach connects to an already running plugin process, as the agent does
// after it crashed and left the plugin alive. Killing the resulting Instance
// stops that process.
func Reattach(opts LaunchOptions, rc plugin.ReattachConfig) (*Instance, error) {
	cfg := clientConfig(opts)
	cfg.Reattach = &rc
	client := plugin.NewClient(cfg)
	inst, err := connect(client)
	if err != nil {
		return nil, fmt.Errorf("reattach to pid %d at %s: %w", rc.Pid, rc.Addr, err)
	}
	return inst, nil
}

func connect(client *plugin.Client) (*Instance, error) {
	proto, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := proto.Dispense(PluginSetName)
	if err != nil {
		return nil, err
	}
	rc := client.ReattachConfig()
	if rc == nil {
		return nil, errors.New("go-plugin returned no reattach config")
	}
	grpcClient, ok := proto.(*plugin.GRPCClient)
	if !ok {
		return nil, fmt.Errorf("plugin speaks %T, not gRPC", proto)
	}
	inst := &Instance{
		client:   client,
		rpc:      grpcClient,
		driver:   raw.(*DriverClient),
		reattach: *rc,
	}
	return inst, nil
}

// Driver returns the typed gRPC clients of this instance.
func (i *Instance) Driver() *DriverClient { return i.driver }

// Pid is the plugin's process id.
func (i *Instance) Pid() int { return i.reattach.Pid }

// ReattachConfig is what the agent persists to find this process again.
func (i *Instance) ReattachConfig() plugin.ReattachConfig { return i.reattach }

// Address is the network and address the plugin announced in its handshake.
func (i *Instance) Address() (network, addr string) {
	return i.reattach.Addr.Network(), i.reattach.Addr.String()
}

// Exited reports whether the plugin process has exited.
func (i *Instance) Exited() bool { return i.client.Exited() }

// WaitExit waits until the plugin process has exited or the timeout passes.
func (i *Instance) WaitExit(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if i.client.Exited() || !PidAlive(i.Pid()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill ends the plugin like the agent does: close the broker, call
// GRPCController/Shutdown, close the connection, wait up to 2 s, then
// SIGKILL the plugin pid only.
func (i *Instance) Kill() KillResult {
	start := time.Now()
	killed := make(chan struct{})
	go func() {
		i.client.Kill()
		close(killed)
	}()
	var res KillResult
	for PidAlive(i.Pid()) && time.Since(start) < 10*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	res.Elapsed = time.Since(start)
	res.Graceful = res.Elapsed < 2*time.Second
	select {
	case <-killed:
	case <-time.After(10 * time.Second):
		res.Hung = true
	}
	return res
}

// Crash SIGKILLs the plugin process (and nothing else) and waits for it to
// be gone. The gRPC connection breaks as it would for the agent.
func (i *Instance) Crash() error {
	if err := syscall.Kill(i.Pid(), syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("SIGKILL plugin pid %d: %w", i.Pid(), err)
	}
	if !i.WaitExit(5 * time.Second) {
		return fmt.Errorf("plugin pid %d still alive 5s after SIGKILL", i.Pid())
	}
	_ = i.rpc.Conn.Close()
	return nil
}

// Detach drops the gRPC connection without telling the plugin, as when the
// agent itself dies. The process keeps running and can be reattached with
// ReattachConfig. (The plugin's stdout/stderr pipes stay with this host
// process; a real agent crash would close them.)
func (i *Instance) Detach() {
	_ = i.rpc.Conn.Close()
}
