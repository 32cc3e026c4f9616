package pluginhost

import (
	"context"
	"fmt"
	"sync"

	"nomad_iis/gen/basepb"
)

// StartupMode selects how many launches an agent start makes.
type StartupMode int

const (
	// StartupFull replays the agent: loader launch, validation launch (if
	// the plugin has a config schema), then the long-lived instance.
	StartupFull StartupMode = iota
	// StartupShort uses one launch for everything (faster, for tools).
	StartupShort
)

// Config describes the plugin a Host runs.
type Config struct {
	// Launch says how to start the binary.
	Launch LaunchOptions
	// PluginConfig is the agent-side `plugin "x" { config { ... } }` block
	// as HCL-JSON; empty means no block.
	PluginConfig []byte
	// NomadConfig goes to the long-lived instance; nil means defaults.
	NomadConfig *basepb.NomadConfig
	// Startup is StartupFull unless set.
	Startup StartupMode
}

// StartReport says how the short-lived launches of the last start ended.
type StartReport struct {
	// LoaderKill is the end of launch 1 (zero with StartupShort).
	LoaderKill KillResult
	// ValidateKill is the end of launch 2 (zero without a config schema).
	ValidateKill KillResult
	// Validated is true when launch 2 ran.
	Validated bool
}

// Host is a single-node stand-in for a Nomad client agent's plugin side:
// it owns the long-lived driver instance and can restart it, crash it or
// reattach to it the way the agent's lifecycle would.
type Host struct {
	cfg Config

	mu           sync.Mutex
	desc         *PluginDescription
	pluginConfig *EncodedConfig
	drv          *Driver
	report       StartReport
}

// Start performs an agent start and returns the running host.
func Start(ctx context.Context, cfg Config) (*Host, error) {
	h := &Host{cfg: cfg}
	if err := h.start(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Host) start(ctx context.Context) error {
	if h.cfg.Startup == StartupShort {
		return h.startShort(ctx)
	}
	desc, loaderKill, err := LoadPlugin(ctx, h.cfg.Launch)
	if err != nil {
		return err
	}
	enc, err := EncodePluginConfig(desc.ConfigSpec, h.cfg.PluginConfig)
	if err != nil {
		return fmt.Errorf("plugin config: %w", err)
	}
	report := StartReport{LoaderKill: loaderKill, Validated: desc.ConfigSpec != nil}
	if report.ValidateKill, err = ValidatePluginConfig(ctx, h.cfg.Launch, desc, enc.Msgpack); err != nil {
		return err
	}
	drv, err := DispenseDriver(ctx, h.cfg.Launch, h.dispenseOptions(desc, enc))
	if err != nil {
		return err
	}
	h.set(desc, enc, drv, report)
	return nil
}

func (h *Host) startShort(ctx context.Context) error {
	inst, err := Launch(h.cfg.Launch, "driver")
	if err != nil {
		return err
	}
	desc, err := Describe(ctx, inst.Driver())
	if err != nil {
		inst.Kill()
		return err
	}
	enc, err := EncodePluginConfig(desc.ConfigSpec, h.cfg.PluginConfig)
	if err != nil {
		inst.Kill()
		return fmt.Errorf("plugin config: %w", err)
	}
	drv, err := startDriver(ctx, inst, h.dispenseOptions(desc, enc))
	if err != nil {
		inst.Kill()
		return err
	}
	h.set(desc, enc, drv, StartReport{})
	return nil
}

func (h *Host) dispenseOptions(desc *PluginDescription, enc *EncodedConfig) DispenseOptions {
	return DispenseOptions{APIVersion: desc.APIVersion, PluginConfig: enc.Msgpack, NomadConfig: h.cfg.NomadConfig}
}

func (h *Host) set(desc *PluginDescription, enc *EncodedConfig, drv *Driver, report StartReport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.desc, h.pluginConfig, h.drv, h.report = desc, enc, drv, report
}

// Description is what the loader learned about the plugin.
func (h *Host) Description() *PluginDescription {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.desc
}

// PluginConfig is the encoded agent-side config sent in SetConfig.
func (h *Host) PluginConfig() *EncodedConfig {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pluginConfig
}

// Report says how the short-lived launches of the last start ended.
func (h *Host) Report() StartReport {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.report
}

// Driver is the current long-lived instance (it changes on Restart, Crash
// and Reattach).
func (h *Host) Driver() *Driver {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.drv
}

// Client is the gRPC client of the current instance.
func (h *Host) Client() *DriverClient { return h.Driver().Driver() }

// Restart is an agent restart: a graceful shutdown of the plugin (tasks
// keep running), then a fresh agent start.
func (h *Host) Restart(ctx context.Context) (KillResult, error) {
	kill := h.Driver().Shutdown()
	return kill, h.start(ctx)
}

// Crash SIGKILLs the plugin while the agent lives on; the driver manager
// then re-dispenses it (launch 3 only, with SetConfig).
func (h *Host) Crash(ctx context.Context) error {
	drv := h.Driver()
	if err := drv.Crash(); err != nil {
		return err
	}
	h.mu.Lock()
	desc, enc := h.desc, h.pluginConfig
	h.mu.Unlock()
	next, err := DispenseDriver(ctx, h.cfg.Launch, h.dispenseOptions(desc, enc))
	if err != nil {
		return fmt.Errorf("re-dispense after crash: %w", err)
	}
	h.set(desc, enc, next, StartReport{})
	return nil
}

// Reattach is an agent crash and restart with the plugin surviving: the
// connection is dropped without a word, the new agent's loader launches run
// as new processes next to the survivor, then the agent reattaches to the
// same pid and address and calls PluginInfo and Init, but not SetConfig.
func (h *Host) Reattach(ctx context.Context) error {
	drv := h.Driver()
	rc := drv.ReattachConfig()
	drv.Detach()
	report := StartReport{}
	if h.cfg.Startup == StartupFull {
		desc, kill, err := LoadPlugin(ctx, h.cfg.Launch)
		if err != nil {
			return fmt.Errorf("loader launch next to the survivor: %w", err)
		}
		report.LoaderKill = kill
		enc, err := EncodePluginConfig(desc.ConfigSpec, h.cfg.PluginConfig)
		if err != nil {
			return err
		}
		report.Validated = desc.ConfigSpec != nil
		if report.ValidateKill, err = ValidatePluginConfig(ctx, h.cfg.Launch, desc, enc.Msgpack); err != nil {
			return err
		}
	}
	inst, err := Reattach(h.cfg.Launch, rc)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	info, err := inst.Driver().Base.PluginInfo(cctx, &basepb.PluginInfoRequest{})
	cancel()
	if err == nil {
		_, err = CheckPluginInfo(info)
	}
	if err != nil {
		inst.Kill()
		return fmt.Errorf("PluginInfo after reattach: %w", err)
	}
	h.mu.Lock()
	desc, enc := h.desc, h.pluginConfig
	h.mu.Unlock()
	next, err := startDriver(ctx, inst, DispenseOptions{APIVersion: desc.APIVersion, SkipSetConfig: true})
	if err != nil {
		inst.Kill()
		return err
	}
	h.set(desc, enc, next, report)
	return nil
}

// Shutdown is an agent shutdown: Driver/Shutdown, then go-plugin Kill.
func (h *Host) Shutdown() KillResult {
	drv := h.Driver()
	if drv == nil {
		return KillResult{}
	}
	return drv.Shutdown()
}
