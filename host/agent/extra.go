package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Extra holds the JSON object members a struct does not model (Nomad job
// fields this host ignores), so that a job reads back as it was registered.
type Extra map[string]json.RawMessage

var knownFieldCache sync.Map // reflect.Type -> []string

// knownFields lists the JSON member names of a struct type.
func knownFields(t reflect.Type) []string {
	if v, ok := knownFieldCache.Load(t); ok {
		return v.([]string)
	}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.PkgPath != "" {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" {
				continue
			}
			if tagName != "" {
				name = tagName
			}
		}
		names = append(names, name)
	}
	knownFieldCache.Store(t, names)
	return names
}

// captureExtra stores the members of the JSON object b that do not match a
// field of t (case-insensitively, as encoding/json matches them).
func captureExtra(b []byte, t reflect.Type) (Extra, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	known := knownFields(t)
	var out Extra
	for k, v := range all {
		matched := false
		for _, name := range known {
			if strings.EqualFold(k, name) {
				matched = true
				break
			}
		}
		if !matched {
			if out == nil {
				out = Extra{}
			}
			out[k] = v
		}
	}
	return out, nil
}

// marshalWithExtra marshals v (a struct) and appends the extra members.
func marshalWithExtra(v interface{}, extra Extra) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1])
	needComma := len(b) > 2
	for _, k := range keys {
		if needComma {
			buf.WriteByte(',')
		}
		needComma = true
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// meaningful reports whether an ignored member carries a value worth a
// warning (not null, false, 0, "", [] or {}).
func meaningful(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	switch s {
	case "", "null", "false", "0", `""`, "[]", "{}":
		return false
	}
	return true
}

// warnExtra appends "path.Key: ..." warnings for meaningful extra members.
func warnExtra(path string, extra Extra, warnings *[]string) {
	keys := make([]string, 0, len(extra))
	for k, v := range extra {
		if meaningful(v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		*warnings = append(*warnings, path+"."+k+": not supported by this single-node host; ignored")
	}
}

// FieldError is a JSON value of the wrong type, with the path of its field
// in the job ("Job.TaskGroups.Tasks.KillTimeout").
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// wrapJSONError prefixes a decode error with the struct level it happened
// in. encoding/json would otherwise replace the path of an error from a
// nested UnmarshalJSON with the outer field's.
func wrapJSONError(level string, err error) error {
	var fe *FieldError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &fe):
		return &FieldError{Path: level + "." + fe.Path, Msg: fe.Msg}
	case errors.As(err, &te):
		path := level
		if te.Field != "" {
			path += "." + te.Field
		}
		return &FieldError{Path: path, Msg: fmt.Sprintf("cannot use a JSON %s as %s", te.Value, te.Type)}
	}
	return err
}
