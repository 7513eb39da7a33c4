package throttle

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/ddbexpr"
)

// TestWritesNameEveryAttributeThroughAPlaceholder checks every write the
// limiters make the way DynamoDB reads it: the embedded emulator accepts
// a reserved word written bare and placeholders no expression uses,
// DynamoDB refuses both.
func TestWritesNameEveryAttributeThroughAPlaceholder(t *testing.T) {
	noSleep := func(context.Context, time.Duration) error { return nil }
	tests := []struct {
		name  string
		write func(ctx context.Context, api API) (writes int)
	}{
		{"number lease, busy and idle", func(ctx context.Context, api API) int {
			l := &Limiter{API: api, Table: "state", Sleep: noSleep}
			_, _ = l.WaitLead(ctx, "100", 80, Interactive, 0)
			return 2
		}},
		{"number slowed down after 130429", func(ctx context.Context, api API) int {
			l := &Limiter{API: api, Table: "state", Sleep: noSleep}
			_ = l.Throttled(ctx, "100")
			return 1
		}},
		{"deferral clock", func(ctx context.Context, api API) int {
			l := &Limiter{API: api, Table: "state", Sleep: noSleep}
			_, _ = l.Defer(ctx, "100", 80, Bulk, 5)
			return 3
		}},
		{"pair take, busy and idle", func(ctx context.Context, api API) int {
			p := &Pair{API: api, Table: "state"}
			_ = p.Take(ctx, "100", "5511999990000")
			return 2
		}},
		{"pair slowed down after 131056", func(ctx context.Context, api API) int {
			p := &Pair{API: api, Table: "state"}
			_ = p.Throttled(ctx, "100", "5511999990000")
			return 1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every write refused, so each form of it is tried.
			rec := &ddbexpr.Recorder{Refuse: true}
			want := tt.write(context.Background(), rec)
			if n := len(rec.Requests()); n < want {
				t.Fatalf("%d writes recorded, want at least %d", n, want)
			}
			for _, p := range rec.Problems() {
				t.Error(p)
			}
		})
	}
	t.Run("pair booking in a transaction", func(t *testing.T) {
		p := &Pair{API: &ddbexpr.Recorder{}, Table: "state"}
		for _, idle := range []bool{true, false} {
			if !idle {
				p.remember("100#5511999990000", p.now().Add(time.Hour), p.now())
			}
			b, err := p.Book("100", "5511999990000")
			if err != nil {
				t.Fatal(err)
			}
			if b.idle != idle {
				t.Fatalf("booking idle = %v, want %v", b.idle, idle)
			}
			in := &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{b.Write}}
			for _, p := range ddbexpr.Problems(in) {
				t.Error(p)
			}
		}
	})
}
