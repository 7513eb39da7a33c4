package campaign_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/campaign"
)

type recordingPuts struct{ puts []*dynamodb.PutItemInput }

func (r *recordingPuts) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.puts = append(r.puts, in)
	return &dynamodb.PutItemOutput{}, nil
}

// TestClaimNamesEveryAttributeThroughAPlaceholder: a row's recipient
// claim reads "row", a reserved word, which DynamoDB refuses bare and the
// emulator accepts.
func TestClaimNamesEveryAttributeThroughAPlaceholder(t *testing.T) {
	rec := &recordingPuts{}
	c := &campaign.Claims{API: rec, Table: "state"}
	first, err := c.Claim(context.Background(), "acme", "cmp_0123456789abcdef0123", "5511999990000", 42)
	if err != nil || !first {
		t.Fatalf("claim = %v, %v", first, err)
	}
	if len(rec.puts) != 1 {
		t.Fatalf("%d puts, want 1", len(rec.puts))
	}
	for _, p := range ddbexpr.Problems(rec.puts[0]) {
		t.Error(p)
	}
}
