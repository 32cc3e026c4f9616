package pluginhost

import (
	"encoding/hex"
	"strings"
	"testing"

	"nomad_iis/gen/hclspec"
)

func attrSpec(name, ty string, required bool) *hclspec.Spec {
	return &hclspec.Spec{Block: &hclspec.Spec_Attr{Attr: &hclspec.Attr{Name: name, Type: ty, Required: required}}}
}

func literal(v string) *hclspec.Spec {
	return &hclspec.Spec{Block: &hclspec.Spec_Literal{Literal: &hclspec.Literal{Value: v}}}
}

func defaulted(primary, def *hclspec.Spec) *hclspec.Spec {
	return &hclspec.Spec{Block: &hclspec.Spec_Default{Default: &hclspec.Default{Primary: primary, Default: def}}}
}

func object(attrs map[string]*hclspec.Spec) *hclspec.Spec {
	return &hclspec.Spec{Block: &hclspec.Spec_Object{Object: &hclspec.Object{Attributes: attrs}}}
}

func blockList(name string, nested *hclspec.Spec) *hclspec.Spec {
	return &hclspec.Spec{Block: &hclspec.Spec_BlockList{BlockList: &hclspec.BlockList{Name: name, Nested: nested}}}
}

// testSpec: an implied-name attr, a Default with an explicit-name primary,
// a list attr and a block list whose object key differs from its block name.
func testSpec() *hclspec.Spec {
	return object(map[string]*hclspec.Spec{
		"name":   attrSpec("", "string", true),
		"count":  defaulted(attrSpec("count", "number", false), literal("3")),
		"tags":   attrSpec("", "list(string)", false),
		"mounts": blockList("mount", object(map[string]*hclspec.Spec{"target": attrSpec("", "string", true)})),
		"extra":  attrSpec("", "any", false),
	})
}

func TestEncodeConfigMatchesNomadBytes(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		// Every schema key present and sorted; unset attr nil, absent block
		// list an empty array, the Default literal applied, compact ints.
		{"defaults", `{"name":"x"}`,
			"85" + "a5636f756e74" + "03" + "a56578747261" + "c0" + "a66d6f756e7473" + "90" + "a46e616d65" + "a178" + "a474616773" + "c0"},
		// "7" converts to the number 7; 0.5 stays float64; "any" is plain.
		{"conversions", `{"name":"x","count":"7","extra":{"k":0.5},"mount":[{"target":"/d"}]}`,
			"85" + "a5636f756e74" + "07" + "a56578747261" + "81a16b" + "cb3fe0000000000000" +
				"a66d6f756e7473" + "91" + "81a6746172676574a22f64" + "a46e616d65" + "a178" + "a474616773" + "c0"},
		// Interpolation from the task env.
		{"interpolation", `{"name":"${NOMAD_PORT_http}"}`,
			"85" + "a5636f756e74" + "03" + "a56578747261" + "c0" + "a66d6f756e7473" + "90" + "a46e616d65" + "a438303830" + "a474616773" + "c0"},
	}
	ctx := TaskEvalContext(PortEnv([]Port{{Label: "http", Value: 8080, HostIP: "127.0.0.1"}}))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc, err := EncodeConfig(testSpec(), []byte(c.src), ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(enc.Msgpack); got != c.want {
				t.Fatalf("msgpack\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestEncodeConfigErrorsNameTheField(t *testing.T) {
	for src, field := range map[string]string{
		`{}`:                          `"name"`,
		`{"name":"x","count":"many"}`: "count",
		`{"name":"x","bogus":1}`:      "bogus",
	} {
		_, err := EncodeConfig(testSpec(), []byte(src), nil)
		if err == nil || !strings.Contains(err.Error(), strings.Trim(field, `"`)) {
			t.Errorf("%s: error %v should name %s", src, err, field)
		}
	}
}

func TestConvertSpecFollowsNomadRules(t *testing.T) {
	bad := map[string]*hclspec.Spec{
		"nil spec":                  nil,
		"default primary unnamed":   object(map[string]*hclspec.Spec{"a": defaulted(attrSpec("", "string", false), literal(`"x"`))}),
		"top-level attr unnamed":    attrSpec("", "string", false),
		"bad type":                  object(map[string]*hclspec.Spec{"a": attrSpec("", "strin", false)}),
		"block list without nested": object(map[string]*hclspec.Spec{"a": blockList("a", nil)}),
		"block map without labels": object(map[string]*hclspec.Spec{"a": {Block: &hclspec.Spec_BlockMap{
			BlockMap: &hclspec.BlockMap{Nested: object(nil)}}}}),
		"empty oneof": {},
	}
	for name, spec := range bad {
		if _, err := ConvertSpec(spec); err == nil {
			t.Errorf("%s: converted, Nomad refuses it", name)
		}
	}
	if _, err := ConvertSpec(testSpec()); err != nil {
		t.Errorf("good spec: %v", err)
	}
}

func TestEncodePluginConfigWithoutSchema(t *testing.T) {
	enc, err := EncodePluginConfig(nil, nil)
	if err != nil || len(enc.Msgpack) != 0 {
		t.Fatalf("no schema, no block: %v, % x", err, enc.Msgpack)
	}
	if _, err := EncodePluginConfig(nil, []byte(`{"a":1}`)); err == nil {
		t.Fatal("no schema but a block: accepted")
	}
}
