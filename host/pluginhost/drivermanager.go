package pluginhost

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"nomad_iis/gen/basepb"
	"nomad_iis/gen/driverpb"
)

// DispenseOptions configures the long-lived (third) plugin instance.
type DispenseOptions struct {
	// APIVersion is the negotiated plugin API version (plugin's spelling).
	APIVersion string
	// PluginConfig is the msgpack of the agent-side config block.
	PluginConfig []byte
	// NomadConfig is sent in SetConfig; nil means DefaultNomadConfig().
	NomadConfig *basepb.NomadConfig
	// SkipSetConfig is set after a reattach: the agent does not configure a
	// plugin it reattached to.
	SkipSetConfig bool
}

// Driver is the long-lived plugin instance with its Fingerprint and
// TaskEvents streams held open.
type Driver struct {
	*Instance
	// Fingerprints is the Fingerprint stream.
	Fingerprints *FingerprintWatcher
	// Events is the TaskEvents stream.
	Events *EventWatcher
	// InitImplemented is false when Driver/Init answered UNIMPLEMENTED.
	InitImplemented bool
}

// DispenseDriver is the driver manager's launch: start the plugin, then
// SetConfig with nomad_config, the optional Init, and both streams.
func DispenseDriver(ctx context.Context, opts LaunchOptions, d DispenseOptions) (*Driver, error) {
	inst, err := Launch(opts, "driver")
	if err != nil {
		return nil, err
	}
	drv, err := startDriver(ctx, inst, d)
	if err != nil {
		inst.Kill()
		return nil, err
	}
	return drv, nil
}

func startDriver(ctx context.Context, inst *Instance, d DispenseOptions) (*Driver, error) {
	client := inst.Driver()
	if !d.SkipSetConfig {
		nomad := d.NomadConfig
		if nomad == nil {
			nomad = DefaultNomadConfig()
		}
		if err := SetConfig(ctx, client, d.PluginConfig, nomad, d.APIVersion, 1); err != nil {
			return nil, err
		}
	}
	initImplemented, err := callInit(ctx, client)
	if err != nil {
		return nil, err
	}
	return &Driver{
		Instance:        inst,
		Fingerprints:    WatchFingerprints(client),
		Events:          WatchEvents(client),
		InitImplemented: initImplemented,
	}, nil
}

// callInit calls the optional Driver/Init (Nomad >= 2.0.4). UNIMPLEMENTED
// is fine; any other error kills the plugin in the agent.
func callInit(ctx context.Context, d *DriverClient) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	_, err := d.Driver.Init(cctx, &driverpb.InitRequest{})
	if status.Code(err) == codes.Unimplemented {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("Init: %w", err)
	}
	return true, nil
}

// stopStreams cancels the Fingerprint and TaskEvents streams.
func (d *Driver) stopStreams() {
	d.Fingerprints.Stop()
	d.Events.Stop()
}

// Shutdown is the agent's shutdown of the driver: the optional
// Driver/Shutdown with a 2 s deadline, then go-plugin Kill. Running tasks
// must survive it.
func (d *Driver) Shutdown() KillResult {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, _ = d.Driver().Driver.Shutdown(ctx, &driverpb.ShutdownRequest{})
	cancel()
	d.stopStreams()
	return d.Kill()
}

// Crash SIGKILLs the plugin; the streams end as they would in the agent.
func (d *Driver) Crash() error {
	err := d.Instance.Crash()
	d.stopStreams()
	return err
}

// Detach drops the connection as an agent crash would; the plugin lives on.
func (d *Driver) Detach() {
	d.Instance.Detach()
	d.stopStreams()
}
