package window

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/ddbexpr"
)

// recorder is an API that keeps every write and answers it as done.
type recorder struct{ writes []*dynamodb.UpdateItemInput }

func (r *recorder) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func (r *recorder) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.writes = append(r.writes, in)
	return &dynamodb.UpdateItemOutput{}, nil
}

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
			rec := &recorder{}
			if err := tt.write(context.Background(), Store{API: rec, Table: "state"}); err != nil {
				t.Fatal(err)
			}
			if len(rec.writes) != 1 {
				t.Fatalf("%d writes, want 1", len(rec.writes))
			}
			for _, p := range ddbexpr.Problems(rec.writes[0]) {
				t.Error(p)
			}
		})
	}
}
