package tests

import (
	"strings"
	"testing"
	"time"

	version "github.com/hashicorp/go-version"
	"github.com/zclconf/go-cty/cty"

	"nomad_iis/gen/basepb"
	"nomad_iis/gen/driverpb"
	"nomad_iis/host/pluginhost"
)

func TestPluginInfo(t *testing.T) {
	inst := launch(t)
	info, err := inst.Driver().Base.PluginInfo(ctxTimeout(t, 5*time.Second), &basepb.PluginInfoRequest{})
	if err != nil {
		t.Fatalf("PluginInfo: %v", err)
	}
	if info.GetType() != basepb.PluginType_DRIVER {
		t.Errorf("type %v, want DRIVER", info.GetType())
	}
	if info.GetName() != "iis" {
		t.Errorf("name %q, want iis", info.GetName())
	}
	want := version.Must(version.NewVersion("0.1.0"))
	found := false
	for _, v := range info.GetPluginApiVersions() {
		if pv, err := version.NewVersion(v); err == nil && pv.Equal(want) {
			found = true
		}
	}
	if !found {
		t.Errorf("plugin_api_versions %q lack 0.1.0", info.GetPluginApiVersions())
	}
	if _, err := version.NewSemver(info.GetPluginVersion()); err != nil {
		t.Errorf("plugin_version %q is not semver: %v", info.GetPluginVersion(), err)
	}
	if _, err := pluginhost.CheckPluginInfo(info); err != nil {
		t.Errorf("the agent's loader would refuse it: %v", err)
	}
}

// schemas fetches both schemas from one instance.
func schemas(t *testing.T) (*pluginhost.PluginDescription, *driverpb.TaskConfigSchemaResponse) {
	t.Helper()
	inst := launch(t)
	ctx := ctxTimeout(t, 10*time.Second)
	desc, err := pluginhost.Describe(ctx, inst.Driver())
	if err != nil {
		t.Fatalf("PluginInfo/ConfigSchema as the loader sees them: %v", err)
	}
	ts, err := inst.Driver().Driver.TaskConfigSchema(ctx, &driverpb.TaskConfigSchemaRequest{})
	if err != nil {
		t.Fatalf("TaskConfigSchema: %v", err)
	}
	return desc, ts
}

func TestConfigSchemaConvertsAndAppliesDefaults(t *testing.T) {
	desc, _ := schemas(t)
	if desc.ConfigSpec == nil {
		t.Fatal("ConfigSchema returned no spec; the plugin has agent-side options")
	}
	enc, err := pluginhost.EncodePluginConfig(desc.ConfigSpec, nil)
	if err != nil {
		t.Fatalf("empty plugin block (decoded as {} like Nomad): %v", err)
	}
	v := enc.Value
	if got := attr(t, v, "fingerprint_interval"); got.AsString() != "30s" {
		t.Errorf("fingerprint_interval default %#v, want \"30s\"", got)
	}
	if got := attr(t, v, "enabled"); got.False() {
		t.Errorf("enabled default is false")
	}
	if got := attr(t, v, "directory_security"); got.False() {
		t.Errorf("directory_security default is false")
	}
}

func TestTaskConfigSchemaDecodesExampleJobs(t *testing.T) {
	_, ts := schemas(t)
	cases := map[string]string{
		"static-app.json":            "application_pools",
		"static-app-deprecated.json": "applicationPools",
	}
	for file, poolsKey := range cases {
		t.Run(file, func(t *testing.T) {
			src := readTestdata(t, "jobs", file)
			enc, err := pluginhost.EncodeConfig(ts.GetSpec(), src, pluginhost.TaskEvalContext(nil))
			if err != nil {
				t.Fatalf("decode %s against TaskConfigSchema: %v", file, err)
			}
			v := enc.Value
			pool := first(t, attr(t, v, poolsKey))
			if got := attr(t, pool, "identity").AsString(); got != "ApplicationPoolIdentity" {
				t.Errorf("%s[0].identity = %q", poolsKey, got)
			}
			if got := attr(t, pool, "name").AsString(); got != "default" {
				t.Errorf("%s[0].name default = %q, want default", poolsKey, got)
			}
			app := first(t, attr(t, v, "applications"))
			if got := attr(t, app, "path").AsString(); got != "local" {
				t.Errorf("applications[0].path = %q", got)
			}
			binding := first(t, attr(t, v, "bindings"))
			if got := attr(t, binding, "type").AsString(); got != "http" {
				t.Errorf("bindings[0].type = %q", got)
			}
			if got := attr(t, binding, "port").AsString(); got != "httplabel" {
				t.Errorf("bindings[0].port = %q", got)
			}
			if len(enc.Msgpack) == 0 || enc.Msgpack[0]&0xf0 != 0x80 && enc.Msgpack[0] != 0xde {
				t.Errorf("msgpack does not start with a map: % x", enc.Msgpack[:1])
			}
		})
	}
	t.Run("missing application is rejected", func(t *testing.T) {
		_, err := pluginhost.EncodeConfig(ts.GetSpec(), []byte(`{"binding":[{"type":"http","port":"x"}]}`), nil)
		if err == nil || !strings.Contains(err.Error(), "application") {
			t.Fatalf("want an error naming the application block, got %v", err)
		}
	})
}

func TestSetConfigIsIdempotent(t *testing.T) {
	inst := launch(t)
	ctx := ctxTimeout(t, 20*time.Second)
	desc, err := pluginhost.Describe(ctx, inst.Driver())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := pluginhost.EncodePluginConfig(desc.ConfigSpec, []byte(`{"fingerprint_interval": "15s"}`))
	if err != nil {
		t.Fatal(err)
	}
	// Launch 2: twice without nomad_config.
	if err := pluginhost.SetConfig(ctx, inst.Driver(), enc.Msgpack, nil, desc.APIVersion, 2); err != nil {
		t.Fatalf("without nomad_config: %v", err)
	}
	// Launch 3 (and re-dispense): with nomad_config, again twice.
	if err := pluginhost.SetConfig(ctx, inst.Driver(), enc.Msgpack, pluginhost.DefaultNomadConfig(), desc.APIVersion, 2); err != nil {
		t.Fatalf("with nomad_config: %v", err)
	}
	// An empty block, defaults only.
	empty, err := pluginhost.EncodePluginConfig(desc.ConfigSpec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pluginhost.SetConfig(ctx, inst.Driver(), empty.Msgpack, nil, desc.APIVersion, 2); err != nil {
		t.Fatalf("defaults only: %v", err)
	}
}

func TestSetConfigRejectsBadValuesNamingTheField(t *testing.T) {
	inst := launch(t)
	ctx := ctxTimeout(t, 20*time.Second)
	desc, err := pluginhost.Describe(ctx, inst.Driver())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`"5s"`, `"abc"`, `""`} {
		t.Run("fingerprint_interval="+bad, func(t *testing.T) {
			enc, err := pluginhost.EncodePluginConfig(desc.ConfigSpec, []byte(`{"fingerprint_interval": `+bad+`}`))
			if err != nil {
				t.Fatalf("the value is a string, so Nomad would send it: %v", err)
			}
			err = pluginhost.SetConfig(ctx, inst.Driver(), enc.Msgpack, nil, desc.APIVersion, 1)
			if err == nil {
				t.Fatal("SetConfig accepted it")
			}
			if !strings.Contains(err.Error(), "fingerprint_interval") {
				t.Fatalf("error %q does not name fingerprint_interval", err)
			}
			t.Logf("rejected: %v", err)
		})
	}
	// The instance must still accept a good config afterwards.
	good, _ := pluginhost.EncodePluginConfig(desc.ConfigSpec, nil)
	if err := pluginhost.SetConfig(ctx, inst.Driver(), good.Msgpack, nil, desc.APIVersion, 1); err != nil {
		t.Fatalf("good config after bad ones: %v", err)
	}
}

func TestAgentStartLaunchesExitGracefully(t *testing.T) {
	h := startHost(t, nil)
	r := h.Report()
	if !r.LoaderKill.Graceful {
		t.Errorf("loader launch needed SIGKILL (%v)", r.LoaderKill.Elapsed)
	}
	if !r.Validated {
		t.Errorf("validation launch did not run (no config schema?)")
	} else if !r.ValidateKill.Graceful {
		t.Errorf("validation launch needed SIGKILL (%v)", r.ValidateKill.Elapsed)
	}
	if !h.Driver().InitImplemented {
		t.Logf("Driver/Init answers UNIMPLEMENTED (allowed)")
	}
}

// attr returns an attribute of an object value.
func attr(t *testing.T, v cty.Value, name string) cty.Value {
	t.Helper()
	if !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		t.Fatalf("decoded value has no attribute %q (type %s)", name, v.Type().FriendlyName())
	}
	return v.GetAttr(name)
}

// first returns the first element of a non-empty list or tuple.
func first(t *testing.T, v cty.Value) cty.Value {
	t.Helper()
	if v.IsNull() || !v.CanIterateElements() || v.LengthInt() == 0 {
		t.Fatalf("want a non-empty list, got %#v", v)
	}
	return v.Index(cty.NumberIntVal(0))
}
