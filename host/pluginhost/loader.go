package pluginhost

import (
	"context"
	"fmt"
	"sort"
	"time"

	version "github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2/hcldec"

	"nomad_iis/gen/basepb"
	"nomad_iis/gen/hclspec"
)

// rpcTimeout bounds the short unary calls the loader makes.
const rpcTimeout = 10 * time.Second

// PluginDescription is what the loader's first launch learns.
type PluginDescription struct {
	// Info is the PluginInfo reply.
	Info *basepb.PluginInfoResponse
	// APIVersion is the plugin's own spelling of the negotiated driver API
	// version; it goes back in SetConfig.plugin_api_version.
	APIVersion string
	// ConfigSpec is the agent-side config schema (nil: no config allowed).
	ConfigSpec *hclspec.Spec
	// ConfigDecoder is ConfigSpec converted for hcldec (nil with no spec).
	ConfigDecoder hcldec.Spec
}

// CheckPluginInfo applies the loader's rules to a PluginInfo reply: type
// DRIVER, a plugin_version go-version can parse, and an API version equal
// as semver to v0.1.0. It returns the plugin's spelling of that version.
func CheckPluginInfo(info *basepb.PluginInfoResponse) (string, error) {
	if info.GetType() != basepb.PluginType_DRIVER {
		return "", fmt.Errorf("plugin type %v, want DRIVER", info.GetType())
	}
	if info.GetName() == "" {
		return "", fmt.Errorf("plugin reports an empty name")
	}
	if _, err := version.NewVersion(info.GetPluginVersion()); err != nil {
		return "", fmt.Errorf("plugin_version %q: %w", info.GetPluginVersion(), err)
	}
	want := version.Must(version.NewVersion(DriverAPIVersion))
	var matches []string
	for _, v := range info.GetPluginApiVersions() {
		pv, err := version.NewVersion(v)
		if err != nil {
			continue
		}
		if pv.Equal(want) {
			matches = append(matches, v)
		}
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("no supported API version in %q (want %s)", info.GetPluginApiVersions(), DriverAPIVersion)
	}
	sort.Strings(matches)
	return matches[0], nil
}

// Describe fetches and checks PluginInfo and ConfigSchema on a connected
// instance.
func Describe(ctx context.Context, d *DriverClient) (*PluginDescription, error) {
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	info, err := d.Base.PluginInfo(cctx, &basepb.PluginInfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("PluginInfo: %w", err)
	}
	apiVersion, err := CheckPluginInfo(info)
	if err != nil {
		return nil, fmt.Errorf("PluginInfo: %w", err)
	}
	schema, err := d.Base.ConfigSchema(cctx, &basepb.ConfigSchemaRequest{})
	if err != nil {
		return nil, fmt.Errorf("ConfigSchema: %w", err)
	}
	desc := &PluginDescription{Info: info, APIVersion: apiVersion, ConfigSpec: schema.GetSpec()}
	if desc.ConfigSpec != nil {
		if desc.ConfigDecoder, err = ConvertSpec(desc.ConfigSpec); err != nil {
			return nil, fmt.Errorf("ConfigSchema: %w", err)
		}
	}
	return desc, nil
}

// LoadPlugin is the loader's first launch: start the binary, read
// PluginInfo and ConfigSchema, then go-plugin Kill.
func LoadPlugin(ctx context.Context, opts LaunchOptions) (*PluginDescription, KillResult, error) {
	inst, err := Launch(opts, "loader")
	if err != nil {
		return nil, KillResult{}, err
	}
	desc, err := Describe(ctx, inst.Driver())
	kill := inst.Kill()
	return desc, kill, err
}

// ValidatePluginConfig is the loader's second launch, made only when the
// plugin has a config schema: a fresh process gets SetConfig twice with the
// same bytes and no nomad_config, then go-plugin Kill.
func ValidatePluginConfig(ctx context.Context, opts LaunchOptions, desc *PluginDescription, config []byte) (KillResult, error) {
	if desc.ConfigSpec == nil {
		return KillResult{}, nil
	}
	inst, err := Launch(opts, "validate")
	if err != nil {
		return KillResult{}, err
	}
	err = SetConfig(ctx, inst.Driver(), config, nil, desc.APIVersion, 2)
	return inst.Kill(), err
}

// SetConfig sends SetConfig `times` times with the same request.
func SetConfig(ctx context.Context, d *DriverClient, config []byte, nomad *basepb.NomadConfig, apiVersion string, times int) error {
	req := &basepb.SetConfigRequest{MsgpackConfig: config, NomadConfig: nomad, PluginApiVersion: apiVersion}
	for n := 1; n <= times; n++ {
		cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		_, err := d.Base.SetConfig(cctx, req)
		cancel()
		if err != nil {
			return fmt.Errorf("SetConfig (call %d of %d): %w", n, times, err)
		}
	}
	return nil
}
