package pluginhost

import (
	plugin "github.com/hashicorp/go-plugin"
)

// Values a Nomad client agent uses when it talks to a driver plugin.
const (
	// MagicCookieKey and MagicCookieValue guard against running the plugin
	// binary by hand; go-plugin passes them in the environment.
	MagicCookieKey   = "NOMAD_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255"

	// AppProtocolVersion is Nomad's go-plugin handshake version.
	AppProtocolVersion = 2

	// DriverAPIVersion is the only driver plugin API version Nomad supports.
	DriverAPIVersion = "v0.1.0"

	// PluginSetName is the go-plugin plugin set key used for drivers.
	PluginSetName = "driver"

	// DefaultClientMinPort and DefaultClientMaxPort are the agent's
	// client_min_port/client_max_port defaults, sent in nomad_config.
	DefaultClientMinPort = 14000
	DefaultClientMaxPort = 14512

	// DefaultPluginMinPort and DefaultPluginMaxPort are go-plugin's TCP port
	// range for the plugin's listener (Nomad does not change it).
	DefaultPluginMinPort = 10000
	DefaultPluginMaxPort = 25000
)

// Handshake returns the go-plugin handshake Nomad uses for its plugins.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  AppProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}
