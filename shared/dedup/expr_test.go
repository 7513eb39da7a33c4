package dedup_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/dedup"
)

type recordingPuts struct{ puts []*dynamodb.PutItemInput }

func (r *recordingPuts) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.puts = append(r.puts, in)
	return &dynamodb.PutItemOutput{}, nil
}

// TestClaimNamesEveryAttributeThroughAPlaceholder: the claim's condition
// reads "status", a reserved word, which DynamoDB refuses bare and the
// emulator accepts.
func TestClaimNamesEveryAttributeThroughAPlaceholder(t *testing.T) {
	rec := &recordingPuts{}
	s := dedup.Store{API: rec, Table: "state"}
	out, err := s.Claim(context.Background(), "event#acme#wamid.1", "delivery-1")
	if err != nil || out != dedup.Claimed {
		t.Fatalf("claim = %v, %v", out, err)
	}
	if len(rec.puts) != 1 {
		t.Fatalf("%d puts, want 1", len(rec.puts))
	}
	for _, p := range ddbexpr.Problems(rec.puts[0]) {
		t.Error(p)
	}
}
