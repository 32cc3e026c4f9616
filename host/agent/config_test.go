package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigJSONAndHCLAgree(t *testing.T) {
	j, err := LoadConfig("../../examples/host.json")
	if err != nil {
		t.Fatal(err)
	}
	h, err := LoadConfig("../../examples/host.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{j, h} {
		p := c.Plugin()
		if c.PluginName() != "nomad_iis" || c.HTTPPort() != 4646 || len(p.Args) != 3 ||
			c.Client.Reserved.ReservedPorts != "4646,5004" || !strings.HasSuffix(c.PluginDir, "build/bin") ||
			!strings.Contains(string(p.Config), "directory_security") {
			t.Errorf("config: %+v plugin %+v", c, p)
		}
	}
}

func TestConfigRejectsUnknownKeysAndBadValues(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		path := filepath.Join(dir, "c.json")
		os.WriteFile(path, []byte(body), 0o644)
		return path
	}
	if _, err := LoadConfig(write(`{"data_dir":"/x","no_such_key":1}`)); err == nil || !strings.Contains(err.Error(), "no_such_key") {
		t.Errorf("unknown key: %v", err)
	}
	plugin := filepath.Join(dir, "nomad_iis")
	os.WriteFile(plugin, []byte("#!/bin/sh\n"), 0o755)
	for body, want := range map[string]string{
		`{"bind_addr":"x"}`: "data_dir is required",
		`{"data_dir":"` + dir + `","bind_addr":"nope","plugin_dir":"` + dir + `","plugin":{"nomad_iis":{}}}`:                                         "bind_addr",
		`{"data_dir":"` + dir + `","client":{"min_dynamic_port":5000,"max_dynamic_port":4000},"plugin_dir":"` + dir + `","plugin":{"nomad_iis":{}}}`: "min_dynamic_port",
		`{"data_dir":"` + dir + `","client":{"reserved":{"reserved_ports":"a-b"}},"plugin_dir":"` + dir + `","plugin":{"nomad_iis":{}}}`:             "reserved_ports",
		`{"data_dir":"` + dir + `"}`:                           "no plugin",
		`{"data_dir":"` + dir + `","plugin":{"nomad_iis":{}}}`: "plugin binary",
	} {
		cfg, err := LoadConfig(write(body))
		if err == nil {
			err = cfg.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v (want %q)", body, err, want)
		}
	}
	cfg, _ := LoadConfig(write(`{"data_dir":"` + dir + `","plugin_dir":"` + dir + `","plugin":{"nomad_iis":{"args":["--x"]}}}`))
	if err := cfg.Finish(); err != nil || cfg.PluginPath != plugin || cfg.BindAddr != "127.0.0.1" || cfg.Client.MinDynamicPort != 20000 {
		t.Errorf("defaults: %v %+v", err, cfg)
	}
}
