package pluginhost

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// diagError turns HCL error diagnostics into one error. Each diagnostic
// reads "summary: detail", followed by the source position when HCL knows
// it; HCL's details name the attribute or block involved.
func diagError(diags hcl.Diagnostics) error {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		text := d.Summary
		if d.Detail != "" {
			text += ": " + d.Detail
		}
		if d.Subject != nil {
			text += fmt.Sprintf(" (line %d, column %d)", d.Subject.Start.Line, d.Subject.Start.Column)
		}
		parts = append(parts, text)
	}
	if len(parts) == 0 {
		return nil
	}
	return errors.New(strings.Join(parts, "; "))
}
