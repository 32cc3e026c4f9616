// Package apiclient talks to the two HTTP APIs a management tool uses:
// Nomad's Jobs HTTP API (here served by nomad-iis-host agent) to find
// allocations, and the nomad_iis plugin's Management API to inspect and
// change them. Every HTTP failure becomes an error whose text says what
// went wrong and what to check.
package apiclient
