package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the agent's configuration file, a subset of a Nomad agent's
// (JSON, or HCL with the same names): where state lives, where the HTTP
// API listens, the driver plugin with its args and config block, and the
// client's port settings.
type Config struct {
	// Region, Datacenter and Name describe this node (defaults: global,
	// dc1, the hostname).
	Region     string `json:"region"`
	Datacenter string `json:"datacenter"`
	Name       string `json:"name"`
	// DataDir holds state.json, alloc/ and the plugin's data dir. It and
	// its parents must be world-traversable (pool workers run as other
	// Unix users: each ApplicationPoolIdentity pool its own).
	DataDir string `json:"data_dir"`
	// BindAddr is the HTTP API's address (default 127.0.0.1).
	BindAddr string `json:"bind_addr"`
	// Ports.HTTP is the HTTP API's port (default 4646; 0 picks a free one).
	Ports PortsConfig `json:"ports"`
	// LogLevel is trace, debug, info, warn or error (default info).
	LogLevel string `json:"log_level"`
	// PluginDir is where the plugin binary is found (named as its plugin
	// block).
	PluginDir string `json:"plugin_dir"`
	// Plugins is `plugin "nomad_iis" { args = [...] config { ... } }`;
	// exactly one driver plugin.
	Plugins map[string]*PluginConfig `json:"plugin"`
	// Client holds the client-side settings.
	Client ClientConfig `json:"client"`
	// StopTasksOnExit makes the agent stop every task when it exits
	// (SIGINT/SIGTERM). By default it leaves them running, as a Nomad client
	// does, and recovers them on its next start.
	StopTasksOnExit bool `json:"stop_tasks_on_exit"`
	// PluginStartup is "full" (the agent's three launches, default) or
	// "short" (one launch; faster).
	PluginStartup string `json:"plugin_startup"`

	// PluginPath overrides PluginDir/<name> (command line only).
	PluginPath string `json:"-"`
}

// PortsConfig is the agent's ports block.
type PortsConfig struct {
	HTTP *int `json:"http"`
}

// PluginConfig is one plugin block.
type PluginConfig struct {
	// Args are the plugin's command line arguments.
	Args []string `json:"args"`
	// Config is the plugin's config block as HCL-JSON.
	Config json.RawMessage `json:"config"`
}

// ClientConfig is the agent's client block.
type ClientConfig struct {
	// MinDynamicPort and MaxDynamicPort bound dynamic ports (20000-32000).
	MinDynamicPort int `json:"min_dynamic_port"`
	MaxDynamicPort int `json:"max_dynamic_port"`
	// Reserved.ReservedPorts are never given to tasks ("22,80,8000-8100").
	Reserved ReservedConfig `json:"reserved"`
	// HostIP is the address ports are assigned on (default 127.0.0.1).
	HostIP string `json:"host_ip"`
	// MaxKillTimeout caps a task's kill_timeout (default 30s).
	MaxKillTimeout string `json:"max_kill_timeout"`
	// StartConcurrency bounds concurrent StartTask calls (default 8).
	StartConcurrency int `json:"start_concurrency"`
}

// ReservedConfig is the client's reserved block.
type ReservedConfig struct {
	ReservedPorts string `json:"reserved_ports"`
}

// LoadConfig reads a JSON or HCL (.hcl) agent config file.
func LoadConfig(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tree interface{}
	if strings.HasSuffix(path, ".hcl") {
		m, err := HCLToJSON(src, path)
		if err != nil {
			return nil, err
		}
		tree = m
	} else if err := json.Unmarshal(src, &tree); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tree = unwrapBlocks(tree, "")
	b, err := json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.DataDir != "" && !filepath.IsAbs(cfg.DataDir) {
		cfg.DataDir = filepath.Join(filepath.Dir(path), cfg.DataDir)
	}
	if cfg.PluginDir != "" && !filepath.IsAbs(cfg.PluginDir) {
		cfg.PluginDir = filepath.Join(filepath.Dir(path), cfg.PluginDir)
	}
	return &cfg, nil
}

// unwrapBlocks turns single-element arrays of objects into objects for the
// blocks of the agent config (HCL blocks come as arrays), leaving plugin
// config blocks as they are.
func unwrapBlocks(v interface{}, path string) interface{} {
	switch t := v.(type) {
	case []interface{}:
		if len(t) == 1 {
			if _, ok := t[0].(map[string]interface{}); ok && path != "plugin.*.config" {
				return unwrapBlocks(t[0], path)
			}
		}
		return t
	case map[string]interface{}:
		if path == "plugin.*.config" {
			return t
		}
		for k, c := range t {
			child := k
			if path != "" {
				child = path + "." + k
			}
			if path == "plugin" {
				child = "plugin.*"
			}
			t[k] = unwrapBlocks(c, child)
		}
		return t
	}
	return v
}

// HTTPPort is the configured HTTP port (default 4646).
func (c *Config) HTTPPort() int {
	if c.Ports.HTTP == nil {
		return 4646
	}
	return *c.Ports.HTTP
}

// Finish fills defaults and checks the config.
func (c *Config) Finish() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Region, defaultRegion)
	def(&c.Datacenter, "dc1")
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	def(&c.BindAddr, "127.0.0.1")
	def(&c.LogLevel, "info")
	def(&c.PluginStartup, "full")
	def(&c.Client.HostIP, "127.0.0.1")
	def(&c.Client.MaxKillTimeout, "30s")
	if c.Client.MinDynamicPort == 0 {
		c.Client.MinDynamicPort = 20000
	}
	if c.Client.MaxDynamicPort == 0 {
		c.Client.MaxDynamicPort = 32000
	}
	if c.Client.StartConcurrency <= 0 {
		c.Client.StartConcurrency = 8
	}
	switch {
	case c.DataDir == "":
		return fmt.Errorf("data_dir is required")
	case !filepath.IsAbs(c.DataDir):
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			return err
		}
		c.DataDir = abs
	}
	if net.ParseIP(c.BindAddr) == nil {
		return fmt.Errorf("bind_addr %q is not an IP address", c.BindAddr)
	}
	if net.ParseIP(c.Client.HostIP) == nil {
		return fmt.Errorf("client.host_ip %q is not an IP address", c.Client.HostIP)
	}
	if p := c.HTTPPort(); p < 0 || p > 65535 {
		return fmt.Errorf("ports.http %d is out of range", p)
	}
	if c.Client.MinDynamicPort < 1024 || c.Client.MaxDynamicPort > 65535 || c.Client.MinDynamicPort > c.Client.MaxDynamicPort {
		return fmt.Errorf("client.min_dynamic_port/max_dynamic_port %d-%d is not a valid range above 1023",
			c.Client.MinDynamicPort, c.Client.MaxDynamicPort)
	}
	if _, err := ParsePortSpec(c.Client.Reserved.ReservedPorts); err != nil {
		return fmt.Errorf("client.reserved.reserved_ports: %w", err)
	}
	if _, err := time.ParseDuration(c.Client.MaxKillTimeout); err != nil {
		return fmt.Errorf("client.max_kill_timeout: %w", err)
	}
	if c.PluginStartup != "full" && c.PluginStartup != "short" {
		return fmt.Errorf("plugin_startup %q must be full or short", c.PluginStartup)
	}
	if len(c.Plugins) > 1 {
		return fmt.Errorf("plugin: this host runs exactly one driver plugin, %d are configured", len(c.Plugins))
	}
	if c.PluginPath == "" {
		name := c.PluginName()
		if name == "" {
			return fmt.Errorf("no plugin: add a plugin block (plugin \"nomad_iis\" { ... }) or give -plugin PATH")
		}
		dir := c.PluginDir
		if dir == "" {
			dir = filepath.Join(c.DataDir, "plugins")
		}
		c.PluginPath = filepath.Join(dir, name)
	}
	if _, err := os.Stat(c.PluginPath); err != nil {
		return fmt.Errorf("plugin binary: %w", err)
	}
	return nil
}

// PluginName is the configured plugin's name (its block label, or the
// binary's file name).
func (c *Config) PluginName() string {
	for name := range c.Plugins {
		return name
	}
	if c.PluginPath != "" {
		return strings.TrimSuffix(filepath.Base(c.PluginPath), ".exe")
	}
	return ""
}

// Plugin returns the plugin block (an empty one if there is none).
func (c *Config) Plugin() *PluginConfig {
	for _, p := range c.Plugins {
		if p != nil {
			return p
		}
	}
	return &PluginConfig{}
}

// maxKillTimeout is client.max_kill_timeout parsed.
func (c *Config) maxKillTimeout() time.Duration {
	d, err := time.ParseDuration(c.Client.MaxKillTimeout)
	if err != nil {
		return 30 * time.Second
	}
	return d
}
