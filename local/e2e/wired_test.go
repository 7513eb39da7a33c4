package e2e

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/tucanlink/wacloud/local/connector"
)

// fatalRecorder is a testing.TB that records Fatalf and stops its
// goroutine the way testing.T does.
type fatalRecorder struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestRequireWiredFailsOnMissingFunction: a function the tests need that
// is not wired fails the test (it used to skip it, and the suite passed).
func TestRequireWiredFailsOnMissingFunction(t *testing.T) {
	wired := map[string]connector.Setup{"WebhookFunction": nil, "InboundFunction": nil}
	tests := []struct {
		name       string
		need       []string
		wantFailed bool
		wantMsg    string
	}{
		{"all wired", []string{"WebhookFunction", "InboundFunction"}, false, ""},
		{"one missing", []string{"WebhookFunction", "SenderFunction"}, true,
			"not wired into the local connector (local/connector/functions.go): SenderFunction"},
		{"two missing", []string{"BridgeFunction", "InboundFunction", "StatusFunction"}, true,
			"not wired into the local connector (local/connector/functions.go): BridgeFunction, StatusFunction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fatalRecorder{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				requireWired(rec, wired, tt.need...)
			}()
			<-done
			if rec.failed != tt.wantFailed || rec.msg != tt.wantMsg {
				t.Errorf("requireWired(%v): failed %v %q, want %v %q", tt.need, rec.failed, rec.msg, tt.wantFailed, tt.wantMsg)
			}
		})
	}
}
