package agent

import (
	"encoding/json"
	"testing"
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
