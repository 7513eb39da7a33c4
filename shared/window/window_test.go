package window

import (
	"context"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/stack"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestStateOpen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name string
		st   State
		want bool
	}{
		{"never wrote", State{}, false},
		{"wrote an hour ago", State{LastInbound: now.Add(-time.Hour)}, true},
		{"wrote 23h59m ago", State{LastInbound: now.Add(-Length + time.Minute)}, true},
		{"wrote exactly 24h ago", State{LastInbound: now.Add(-Length)}, false},
		{"closed by Meta after last message", State{LastInbound: now.Add(-time.Hour), ClosedAt: now.Add(-time.Minute)}, false},
		{"wrote again after closing", State{LastInbound: now.Add(-time.Minute), ClosedAt: now.Add(-time.Hour)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.Open(now); got != tt.want {
				t.Errorf("Open(%+v) = %v, want %v", tt.st, got, tt.want)
			}
		})
	}
}

func TestStoreAgainstEmulator(t *testing.T) {
	emu := awsemu.StartTest(t)
	ctx := context.Background()
	// From scratch: the emulator keeps its tables per process, and the
	// previous run (go test -count=N) left this contact's window closed by
	// Meta; recording the same inbound time again does not reopen it.
	st := stack.Fresh(t, emu.Config(), stack.Options{})
	now := time.Unix(1_800_000_000, 0)
	s := Store{API: dynamodb.NewFromConfig(emu.Config()), Table: st.Names.Ref["StateTable"], Now: func() time.Time { return now }}

	if open, err := s.IsOpen(ctx, "100", "5511"); err != nil || open {
		t.Fatalf("unknown contact: open=%v err=%v, want closed", open, err)
	}
	if err := s.RecordInbound(ctx, "100", "5511", now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A late, older message must not move the window back.
	if err := s.RecordInbound(ctx, "100", "5511", now.Add(-30*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "100", "5511")
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-2 * time.Hour); !got.LastInbound.Equal(want) {
		t.Errorf("last inbound = %v, want %v", got.LastInbound, want)
	}
	if open, _ := s.IsOpen(ctx, "100", "5511"); !open {
		t.Error("window should be open 2h after the last message")
	}
	if open, _ := s.IsOpen(ctx, "100", "9999"); open {
		t.Error("another contact's window must not be open")
	}
	if err := s.Close(ctx, "100", "5511", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.IsOpen(ctx, "100", "5511"); open {
		t.Error("window should be closed after Meta's 131047")
	}
}
