package crashpoint

import (
	"os"
	"os/exec"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]int
		wantErr bool
	}{
		{"sender.after_request:3", map[string]int{"sender.after_request": 3}, false},
		{"bridge.after_push", map[string]int{"bridge.after_push": 1}, false},
		{"a:1, b:2", map[string]int{"a": 1, "b": 2}, false},
		{"a:0", nil, true},
		{"a:x", nil, true},
		{":2", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("Parse(%q)[%s] = %d, want %d", tt.in, k, got[k], v)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestHit runs this test binary as a child that passes a point 5 times
// with the point armed at its 3rd hit: it exits with ExitCode after
// exactly 2 full passes.
func TestHit(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") == "1" {
		for i := 1; i <= 5; i++ {
			Hit("other.point")
			Hit("test.point")
			os.Stdout.WriteString("passed\n")
		}
		os.Exit(0)
	}
	tests := []struct {
		name, env  string
		wantPassed int
		wantCode   int
	}{
		{"armed at the 3rd hit", "test.point:3", 2, ExitCode},
		{"not armed", "", 5, 0},
		{"another point armed", "third.point:1", 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHit$")
			cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", Env+"="+tt.env)
			out, _ := cmd.Output()
			passed := 0
			for i := 0; i+7 <= len(out); i++ {
				if string(out[i:i+7]) == "passed\n" {
					passed++
				}
			}
			if passed != tt.wantPassed {
				t.Errorf("passes = %d, want %d", passed, tt.wantPassed)
			}
			if got := cmd.ProcessState.ExitCode(); got != tt.wantCode {
				t.Errorf("exit code = %d, want %d", got, tt.wantCode)
			}
		})
	}
}
