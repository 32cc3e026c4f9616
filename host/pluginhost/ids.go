package pluginhost

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// NewUUID returns a random (version 4) UUID, the form of Nomad's alloc and
// node ids.
func NewUUID() string {
	var b [16]byte
	mustRandom(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewTaskID returns a task id as the task runner builds it for every start:
// "<alloc_id>/<task>/<8 random hex chars>".
func NewTaskID(allocID, task string) string {
	var b [4]byte
	mustRandom(b[:])
	return allocID + "/" + task + "/" + hex.EncodeToString(b[:])
}

func mustRandom(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
}
