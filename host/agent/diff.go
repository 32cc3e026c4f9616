package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Nomad's diff types.
const (
	DiffTypeNone    = "None"
	DiffTypeAdded   = "Added"
	DiffTypeDeleted = "Deleted"
	DiffTypeEdited  = "Edited"
)

// JobDiff is Nomad's structs.JobDiff (versions?diffs=true, plan).
type JobDiff struct {
	Type       string
	ID         string
	Fields     []*FieldDiff
	Objects    []*ObjectDiff
	TaskGroups []*TaskGroupDiff
}

// TaskGroupDiff is one group's part of a JobDiff; Updates (plan only) says
// what the scheduler would do ("create", "destroy", "in-place update",
// "create/destroy update", "ignore", "canary").
type TaskGroupDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
	Tasks   []*TaskDiff
	Updates map[string]uint64 `json:",omitempty"`
}

// TaskDiff is one task's part of a TaskGroupDiff.
type TaskDiff struct {
	Type        string
	Name        string
	Fields      []*FieldDiff
	Objects     []*ObjectDiff
	Annotations []string
}

// FieldDiff is one changed primitive field ("Priority", "Meta[release]").
type FieldDiff struct {
	Type        string
	Name        string
	Old, New    string
	Annotations []string
}

// ObjectDiff is a changed nested object ("Config", "Resources", ...).
type ObjectDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
}

// Fields that are state, not specification, and so never diffed.
var (
	jobDiffSkip = setOf("ID", "TaskGroups", "Status", "StatusDescription", "Stable", "Version", "SubmitTime",
		"CreateIndex", "ModifyIndex", "JobModifyIndex", "Update", "VersionTag", "Payload")
	groupDiffSkip = setOf("Name", "Tasks")
	taskDiffSkip  = setOf("Name")
)

func setOf(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// diffJobs is Nomad's Job.Diff of old (nil: the job is new) and new
// (nil: deleted), structurally over the jobs' JSON forms: primitive
// fields, maps of strings as "Name[key]", nested objects as ObjectDiffs,
// groups and tasks matched by name.
func diffJobs(old, new *Job) (*JobDiff, error) {
	o, err := toJSONMap(old)
	if err != nil {
		return nil, err
	}
	n, err := toJSONMap(new)
	if err != nil {
		return nil, err
	}
	d := &JobDiff{Type: diffType(o, n)}
	if new != nil {
		d.ID = new.ID
	} else if old != nil {
		d.ID = old.ID
	}
	d.Fields, d.Objects = diffMaps(o, n, jobDiffSkip)
	if d.Type == DiffTypeEdited && len(d.Fields) == 0 && len(d.Objects) == 0 {
		d.Type = DiffTypeNone
	}
	var og, ng []*TaskGroup
	if old != nil {
		og = old.TaskGroups
	}
	if new != nil {
		ng = new.TaskGroups
	}
	for _, name := range unionNames(groupNames(og), groupNames(ng)) {
		gd, err := diffGroups(findGroup(og, name), findGroup(ng, name), name)
		if err != nil {
			return nil, err
		}
		if gd.Type != DiffTypeNone && d.Type == DiffTypeNone {
			d.Type = DiffTypeEdited
		}
		d.TaskGroups = append(d.TaskGroups, gd)
	}
	return d, nil
}

func diffGroups(old, new *TaskGroup, name string) (*TaskGroupDiff, error) {
	o, err := toJSONMap(old)
	if err != nil {
		return nil, err
	}
	n, err := toJSONMap(new)
	if err != nil {
		return nil, err
	}
	d := &TaskGroupDiff{Type: diffType(o, n), Name: name}
	d.Fields, d.Objects = diffMaps(o, n, groupDiffSkip)
	edited := len(d.Fields) > 0 || len(d.Objects) > 0
	var ot, nt []*Task
	if old != nil {
		ot = old.Tasks
	}
	if new != nil {
		nt = new.Tasks
	}
	for _, tn := range unionNames(taskNames(ot), taskNames(nt)) {
		var a, b *Task
		for _, t := range ot {
			if t.Name == tn {
				a = t
			}
		}
		for _, t := range nt {
			if t.Name == tn {
				b = t
			}
		}
		ta, err := toJSONMap(a)
		if err != nil {
			return nil, err
		}
		tb, err := toJSONMap(b)
		if err != nil {
			return nil, err
		}
		td := &TaskDiff{Type: diffType(ta, tb), Name: tn}
		td.Fields, td.Objects = diffMaps(ta, tb, taskDiffSkip)
		if td.Type == DiffTypeEdited && len(td.Fields) == 0 && len(td.Objects) == 0 {
			td.Type = DiffTypeNone
		}
		edited = edited || td.Type != DiffTypeNone
		d.Tasks = append(d.Tasks, td)
	}
	if d.Type == DiffTypeEdited && !edited {
		d.Type = DiffTypeNone
	}
	return d, nil
}

// diffType is Added/Deleted for a missing side, else Edited (refined by
// the caller to None when nothing differs).
func diffType(o, n map[string]interface{}) string {
	switch {
	case o == nil && n == nil:
		return DiffTypeNone
	case o == nil:
		return DiffTypeAdded
	case n == nil:
		return DiffTypeDeleted
	}
	return DiffTypeEdited
}

func diffMaps(o, n map[string]interface{}, skip map[string]bool) ([]*FieldDiff, []*ObjectDiff) {
	var fields []*FieldDiff
	var objects []*ObjectDiff
	for _, k := range unionKeys(o, n) {
		if skip[k] {
			continue
		}
		a, b := o[k], n[k]
		switch {
		case isScalar(a) && isScalar(b):
			if f := diffField(k, a, b); f != nil {
				fields = append(fields, f)
			}
		case isStringMap(a) && isStringMap(b):
			am, bm := asMap(a), asMap(b)
			for _, sk := range unionKeys(am, bm) {
				if f := diffField(k+"["+sk+"]", am[sk], bm[sk]); f != nil {
					fields = append(fields, f)
				}
			}
		default:
			objects = append(objects, diffValues(k, a, b)...)
		}
	}
	return fields, objects
}

// diffValues diffs a nested object or a list under the name k.
func diffValues(k string, a, b interface{}) []*ObjectDiff {
	al, aList := a.([]interface{})
	bl, bList := b.([]interface{})
	if (aList || a == nil) && (bList || b == nil) && (aList || bList) {
		if allScalar(al) && allScalar(bl) {
			// A list of primitives is a set (Datacenters): one field per
			// element added or removed.
			od := &ObjectDiff{Name: k}
			have := map[string]bool{}
			for _, v := range al {
				have[scalarString(v)] = true
			}
			want := map[string]bool{}
			for _, v := range bl {
				want[scalarString(v)] = true
			}
			for _, v := range unionKeys(boolMap(have), boolMap(want)) {
				switch {
				case have[v] && !want[v]:
					od.Fields = append(od.Fields, &FieldDiff{Type: DiffTypeDeleted, Name: k, Old: v})
				case want[v] && !have[v]:
					od.Fields = append(od.Fields, &FieldDiff{Type: DiffTypeAdded, Name: k, New: v})
				}
			}
			if len(od.Fields) == 0 {
				return nil
			}
			od.Type = objectType(len(al) > 0, len(bl) > 0)
			return []*ObjectDiff{od}
		}
		var out []*ObjectDiff
		for i := 0; i < len(al) || i < len(bl); i++ {
			var x, y interface{}
			if i < len(al) {
				x = al[i]
			}
			if i < len(bl) {
				y = bl[i]
			}
			out = append(out, diffValues(k, x, y)...)
		}
		return out
	}
	am, bm := asMap(a), asMap(b)
	if am == nil && bm == nil {
		if jsonEqual(a, b) {
			return nil
		}
		return []*ObjectDiff{{Type: DiffTypeEdited, Name: k,
			Fields: []*FieldDiff{{Type: DiffTypeEdited, Name: k, Old: scalarString(a), New: scalarString(b)}}}}
	}
	fields, objects := diffMaps(am, bm, nil)
	if len(fields) == 0 && len(objects) == 0 {
		return nil
	}
	return []*ObjectDiff{{Type: objectType(am != nil, bm != nil), Name: k, Fields: fields, Objects: objects}}
}

func objectType(had, has bool) string {
	switch {
	case !had:
		return DiffTypeAdded
	case !has:
		return DiffTypeDeleted
	}
	return DiffTypeEdited
}

func diffField(name string, a, b interface{}) *FieldDiff {
	if a == nil && b == nil {
		return nil
	}
	x, y := scalarString(a), scalarString(b)
	switch {
	case a == nil:
		return &FieldDiff{Type: DiffTypeAdded, Name: name, New: y}
	case b == nil:
		return &FieldDiff{Type: DiffTypeDeleted, Name: name, Old: x}
	case x != y:
		return &FieldDiff{Type: DiffTypeEdited, Name: name, Old: x, New: y}
	}
	return nil
}

func toJSONMap(v interface{}) (map[string]interface{}, error) {
	switch t := v.(type) {
	case *Job:
		if t == nil {
			return nil, nil
		}
	case *TaskGroup:
		if t == nil {
			return nil, nil
		}
	case *Task:
		if t == nil {
			return nil, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]interface{}
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func isScalar(v interface{}) bool {
	switch v.(type) {
	case nil, string, bool, json.Number:
		return true
	}
	return false
}

func allScalar(l []interface{}) bool {
	for _, v := range l {
		if !isScalar(v) || v == nil {
			return false
		}
	}
	return true
}

func isStringMap(v interface{}) bool {
	if v == nil {
		return true
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return false
	}
	for _, x := range m {
		if _, ok := x.(string); !ok {
			return false
		}
	}
	return true
}

func asMap(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}

func scalarString(v interface{}) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return fmt.Sprint(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func unionKeys(a, b map[string]interface{}) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func boolMap(m map[string]bool) map[string]interface{} {
	out := map[string]interface{}{}
	for k := range m {
		out[k] = true
	}
	return out
}

func unionNames(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range append(append([]string(nil), a...), b...) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func groupNames(gs []*TaskGroup) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func taskNames(ts []*Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func findGroup(gs []*TaskGroup, name string) *TaskGroup {
	for _, g := range gs {
		if g.Name == name {
			return g
		}
	}
	return nil
}
