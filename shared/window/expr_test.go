package window

import (
	"context"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/ddbexpr"
)

// TestWritesNameEveryAttributeThroughAPlaceholder checks the window's
// writes the way DynamoDB reads them (the emulator accepts a bare reserved
// word and unused placeholders; DynamoDB refuses both).
func TestWritesNameEveryAttributeThroughAPlaceholder(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		write func(context.Context, Store) error
	}{
		{"record inbound", func(ctx context.Context, s Store) error { return s.RecordInbound(ctx, "100", "5511999990000", at) }},
		{"close", func(ctx context.Context, s Store) error { return s.Close(ctx, "100", "5511999990000", at) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &ddbexpr.Recorder{}
			if err := tt.write(context.Background(), Store{API: rec, Table: "state"}); err != nil {
				t.Fatal(err)
			}
			if n := len(rec.Requests()); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			for _, p := range rec.Problems() {
				t.Error(p)
			}
		})
	}
}
