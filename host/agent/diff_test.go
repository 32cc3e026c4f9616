package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDiffJobs: Nomad's diff types and names for the usual changes.
func TestDiffJobs(t *testing.T) {
	old := testJob("a")
	new := testJob("a")
	if d, err := diffJobs(old, new); err != nil || d.Type != DiffTypeNone || d.TaskGroups[0].Type != DiffTypeNone {
		t.Fatalf("same job: %+v %v", d, err)
	}
	new.Meta = map[string]string{"release": "2"}
	new.Priority = 70
	new.Datacenters = []string{"dc1", "dc2"}
	new.TaskGroups[0].Tasks[0].Config = json.RawMessage(`{"application":[{"path":"local/v2"}]}`)
	d, err := diffJobs(old, new)
	if err != nil || d.Type != DiffTypeEdited || d.ID != "a" {
		t.Fatalf("edited: %+v %v", d, err)
	}
	fields := map[string]*FieldDiff{}
	for _, f := range d.Fields {
		fields[f.Name] = f
	}
	if f := fields["Meta[release]"]; f == nil || f.Type != DiffTypeAdded || f.New != "2" {
		t.Errorf("meta field: %+v", f)
	}
	if f := fields["Priority"]; f == nil || f.Type != DiffTypeEdited || f.Old != "50" || f.New != "70" {
		t.Errorf("priority field: %+v", f)
	}
	var dcs *ObjectDiff
	for _, o := range d.Objects {
		if o.Name == "Datacenters" {
			dcs = o
		}
	}
	if dcs == nil || len(dcs.Fields) != 3 {
		t.Errorf("datacenters (* deleted, dc1 and dc2 added): %+v", dcs)
	}
	task := d.TaskGroups[0].Tasks[0]
	if task.Type != DiffTypeEdited || len(task.Objects) != 1 || task.Objects[0].Name != "Config" {
		t.Fatalf("task diff: %+v", task)
	}
	if d, _ := diffJobs(nil, new); d.Type != DiffTypeAdded || d.TaskGroups[0].Type != DiffTypeAdded {
		t.Errorf("new job: %+v", d)
	}
	if d, _ := diffJobs(old, nil); d.Type != DiffTypeDeleted {
		t.Errorf("deleted job: %+v", d)
	}
}

// TestDiffUsesNomadsObjectNames: nested blocks come out under the names
// and shapes of Nomad's structs.Diff, not under their JSON member names.
func TestDiffUsesNomadsObjectNames(t *testing.T) {
	mk := func(group string) *Job {
		var j Job
		if err := json.Unmarshal([]byte(`{"ID":"a","TaskGroups":[`+group+`]}`), &j); err != nil {
			t.Fatal(err)
		}
		j.Canonicalize("global")
		return &j
	}
	old := mk(`{"Name":"web","Count":1,"Networks":[{"DynamicPorts":[{"Label":"http"}]}],
		"Update":{"MaxParallel":1,"Stagger":30000000000},
		"Tasks":[{"Name":"app","Driver":"iis","Config":{"application":[{"path":"local"}]},
			"Resources":{"CPU":100,"MemoryMB":256},"Env":{"A":"1"},
			"Artifacts":[{"GetterSource":"https://x/a.zip","RelativeDest":"local/a"}],
			"Actions":[{"Name":"warm","Command":"curl","Args":["-s","a"]}]}]}`)
	new := mk(`{"Name":"web","Count":3,"Networks":[{"DynamicPorts":[{"Label":"http"},{"Label":"admin"}]}],
		"Update":{"MaxParallel":2,"Stagger":10000000000},
		"Tasks":[{"Name":"app","Driver":"iis","Config":{"application":[{"path":"local/v2"}]},
			"Resources":{"CPU":200,"MemoryMB":256},"Env":{"A":"2"},
			"Artifacts":[{"GetterSource":"https://x/b.zip","RelativeDest":"local/a"}],
			"Actions":[{"Name":"warm","Command":"curl","Args":["-s","b"]}]}]}`)
	d, err := diffJobs(old, new)
	if err != nil {
		t.Fatal(err)
	}
	g := d.TaskGroups[0]
	if len(g.Fields) != 1 || g.Fields[0].Name != "Count" || g.Fields[0].Old != "1" || g.Fields[0].New != "3" {
		t.Errorf("group fields: %+v", g.Fields)
	}
	objs := map[string][]*ObjectDiff{}
	for _, o := range g.Objects {
		objs[o.Name] = append(objs[o.Name], o)
	}
	// Stagger is left out of the Update diff, as in Nomad; nested blocks
	// are contextual (their unchanged fields as None).
	if u := objs["Update"]; len(u) != 1 || describeFields(edits(u[0].Fields)) != "Edited MaxParallel 1 -> 2" ||
		hasField(u[0].Fields, "Stagger") || !hasField(u[0].Fields, "HealthCheck") {
		t.Errorf("update: %s", describeFields(u[0].Fields))
	}
	// A changed network is one deleted and one added; ports by label.
	net := objs["Network"]
	if len(net) != 2 || net[0].Type != DiffTypeAdded || net[1].Type != DiffTypeDeleted {
		t.Fatalf("networks: %+v", net)
	}
	labels := map[string]bool{}
	for _, p := range net[0].Objects {
		for _, f := range p.Fields {
			if p.Name == "Dynamic Port" && p.Type == DiffTypeAdded && f.Name == "Label" {
				labels[f.New] = true
			}
		}
	}
	if len(net[0].Objects) != 2 || !labels["http"] || !labels["admin"] {
		t.Errorf("ports: %+v", net[0].Objects)
	}
	task := g.Tasks[0]
	tf := map[string]*FieldDiff{}
	for _, f := range task.Fields {
		tf[f.Name] = f
	}
	if f := tf["Env[A]"]; f == nil || f.Old != "1" || f.New != "2" || len(task.Fields) != 1 {
		t.Errorf("task fields: %+v", task.Fields)
	}
	to := map[string]*ObjectDiff{}
	for _, o := range task.Objects {
		to[o.Name] = o
	}
	if c := to["Config"]; c == nil || len(c.Fields) != 1 || c.Fields[0].Name != "application[0][path]" || c.Fields[0].New != "local/v2" {
		t.Errorf("config: %+v", c)
	}
	if r := to["Resources"]; r == nil || r.Type != DiffTypeEdited || describeFields(r.Fields) != "Edited CPU 100 -> 200, None MemoryMB 256 -> 256" {
		t.Errorf("resources: %s", describeFields(r.Fields))
	}
	if a := to["Artifact"]; a == nil || a.Type != DiffTypeEdited ||
		describeFields(edits(a.Fields)) != "Edited GetterSource https://x/a.zip -> https://x/b.zip" || !hasField(a.Fields, "RelativeDest") {
		t.Errorf("artifact (matched by RelativeDest): %s", describeFields(a.Fields))
	}
	if a := to["Action"]; a == nil || a.Type != DiffTypeEdited || len(a.Objects) != 1 || a.Objects[0].Name != "Args" ||
		a.Objects[0].Type != DiffTypeEdited || describeFields(a.Objects[0].Fields) != "Added Args  -> b, None Args -s -> -s, Deleted Args a -> " {
		t.Errorf("action: %+v %s", a, describeFields(a.Objects[0].Fields))
	}
	if len(task.Objects) != 4 {
		t.Errorf("task objects: %+v", task.Objects)
	}
}

func edits(fs []*FieldDiff) []*FieldDiff {
	var out []*FieldDiff
	for _, f := range fs {
		if f.Type != DiffTypeNone {
			out = append(out, f)
		}
	}
	return out
}

func hasField(fs []*FieldDiff, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

func describeFields(fs []*FieldDiff) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Type+" "+f.Name+" "+f.Old+" -> "+f.New)
	}
	return strings.Join(parts, ", ")
}

// TestPlanAnnotations: Nomad's plan annotations on a diff.
func TestPlanAnnotations(t *testing.T) {
	old := testJob("a")
	scaled := testJob("a")
	three := 3
	scaled.TaskGroups[0].Count = &three
	d, err := diffJobs(old, scaled)
	if err != nil {
		t.Fatal(err)
	}
	annotateDiff(d)
	if f := d.TaskGroups[0].Fields; len(f) != 1 || f[0].Name != "Count" || len(f[0].Annotations) != 1 || f[0].Annotations[0] != "forces create" {
		t.Errorf("count: %s %+v", describeFields(f), f)
	}
	timeout := testJob("a")
	kt := 42 * time.Second
	timeout.TaskGroups[0].Tasks[0].KillTimeout = &kt
	d, _ = diffJobs(old, timeout)
	annotateDiff(d)
	if a := d.TaskGroups[0].Tasks[0].Annotations; len(a) != 1 || a[0] != "forces in-place update" {
		t.Errorf("kill timeout: %v", a)
	}
	env := testJob("a")
	env.TaskGroups[0].Tasks[0].Env = map[string]string{"X": "1"}
	d, _ = diffJobs(old, env)
	annotateDiff(d)
	if a := d.TaskGroups[0].Tasks[0].Annotations; len(a) != 1 || a[0] != "forces create/destroy update" {
		t.Errorf("env: %v", a)
	}
	d, _ = diffJobs(nil, env)
	annotateDiff(d)
	if a := d.TaskGroups[0].Tasks[0].Annotations; len(a) != 1 || a[0] != "forces create" {
		t.Errorf("new group: %v", a)
	}
}
