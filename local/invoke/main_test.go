package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/rie"
)

// TestInvokeRealBootstrap builds the webhook and inbound functions and runs
// them under the Runtime Interface Emulator against an embedded emulator.
func TestInvokeRealBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two functions and the emulator; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the Runtime Interface Emulator runs on Linux only")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool to build the bootstrap")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs bytes.Buffer
	if _, err := rie.Find(ctx, "", &logs); err != nil {
		t.Skipf("Runtime Interface Emulator unavailable: %v\n%s", err, logs.String())
	}

	tests := []struct {
		fn, event string
		check     func(t *testing.T, resp map[string]any)
	}{
		{"webhook", "../../events/webhook/get_verify.json", func(t *testing.T, resp map[string]any) {
			if resp["statusCode"] != float64(200) || resp["body"] != "1158201444" {
				t.Errorf("response = %v, want 200 with the challenge", resp)
			}
		}},
		{"webhook", "../../events/webhook/post_bad_signature.json", func(t *testing.T, resp map[string]any) {
			if resp["statusCode"] != float64(401) {
				t.Errorf("response = %v, want 401", resp)
			}
		}},
		{"InboundFunction", "../../events/inbound/text.json", func(t *testing.T, resp map[string]any) {
			if f, _ := resp["batchItemFailures"].([]any); len(f) != 0 {
				t.Errorf("batchItemFailures = %v, want none", f)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fn+" "+tt.event, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(ctx, []string{"-fn", tt.fn, "-event", tt.event, "-aws", "embedded"}, &out, &errb); err != nil {
				t.Fatalf("invoke: %v\n%s", err, errb.String())
			}
			var resp map[string]any
			if err := json.Unmarshal(out.Bytes(), &resp); err != nil {
				t.Fatalf("response is not JSON: %v: %s", err, out.String())
			}
			tt.check(t, resp)
			if !strings.Contains(errb.String(), "REPORT RequestId") {
				t.Errorf("no Lambda REPORT line: the emulator did not run the invocation\n%s", errb.String())
			}
		})
	}

	t.Run("unknown function", func(t *testing.T) {
		var out, errb bytes.Buffer
		err := run(ctx, []string{"-fn", "nope", "-event", "../../events/webhook/get_verify.json"}, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "unknown function") {
			t.Errorf("err = %v, want unknown function", err)
		}
	})
}
